"""Marks that are not digits, made on the fly for fitting the not-a-digit detector.

What users hand over that is no digit: characters of other alphabets and scripts, drawn from
real stroke data with a pen (``strokes``) or set in the fonts matplotlib ships,
slanted and thickened like handwriting, scribbles, shapes and doodles, digits mirrored or
turned on their side, two digits written over one another, and the pieces and pairs that a
wrong cut through a number makes. Each is normalized like a digit
(``inputs.normalize_batch``); the detector's fit hands a share of them over the way users'
pictures come (``handed``), so that a scan's blockiness or a blur says nothing about being a
digit. ``pictures`` puts such marks on paper as whole pictures, to fit the judgement of a
picture as a whole.
"""

import functools
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from mnist_cnn.fitting.handed import crop_to_ink
from mnist_cnn.fitting.strokes import CANVAS, Glyph, drawn
from mnist_cnn.reading.inputs import normalize_batch

LATIN = "ACDEFHKMNPRTUVWXYacefhkmnrtuvwxy"
GREEK = "ΓΔΛΞΠΣΦΨΩαβγεζηλμξπσφψω"
CYRILLIC = "ГДЖИЙЛПФЦШЩЪЫЭЮЯвгджлфцшщыэюя"
ARMENIAN = "ԱԲԳԴԵԶԷԸԹԺԻԽԾԿՀՁՂՃՄՅՆՇՈՉՊՋՌՍՎՏՐՑՒՓՔՕՖ"
GEORGIAN = "აბგდევზთიკლმნოპჟრსტუფქღყშჩცძწჭხჯჰ"
HEBREW = "אבגדהוזחטיכלמנסעפצקרשת"
SIGNS = "#%&@$€£¥§¶+=*?!<>{}[]~∑∫∂∇≈≠≤≥∞√αΩ←→↑↓"
"""Glyphs to fit the detector against: other alphabets and signs, without the letters that
look like digits (O, I, S, Z, B, G, b, g, q and their cousins in other scripts)."""


def _on_canvas(digits: torch.Tensor) -> torch.Tensor:
    """MNIST digits, twice as large, on the outlier canvas."""
    return F.interpolate(digits.unsqueeze(1), size=(CANVAS, CANVAS), mode="bilinear",
                         align_corners=False).squeeze(1)


def _pieces(digits: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
    """What wrong cuts make of digits: a left, right, top or bottom part; two digits run
    together; a digit with a sliver of its neighbour."""
    big = _on_canvas(digits)
    count = len(big)
    out = torch.zeros_like(big)
    kinds = rng.integers(0, 4, count)
    shares = torch.from_numpy(rng.uniform(0.3, 0.7, count)).float()
    columns = torch.arange(CANVAS).float()
    keep_low = torch.from_numpy(rng.random(count) < 0.5)
    partner = big[torch.from_numpy(rng.permutation(count))]
    for index in range(count):
        image, kind = big[index], int(kinds[index])
        ink_cols = torch.nonzero(image.amax(0) > 0.05).flatten()
        ink_rows = torch.nonzero(image.amax(1) > 0.05).flatten()
        if not len(ink_cols):
            continue
        if kind in (0, 1):
            lines, along = (ink_cols, 1) if kind == 0 else (ink_rows, 0)
            cut = float(lines[0] + shares[index] * (lines[-1] - lines[0]))
            side = (columns < cut) if keep_low[index] else (columns >= cut)
            out[index] = image * (side[None, :] if along == 1 else side[:, None])
        else:
            other = partner[index]
            other_cols = torch.nonzero(other.amax(0) > 0.05).flatten()
            if not len(other_cols):
                continue
            overlap = int(rng.integers(-6, 5))
            shift = int(ink_cols[-1] - other_cols[0]) + 1 + overlap
            moved = torch.roll(other, shifts=shift, dims=1)
            moved[:, :max(0, min(CANVAS, shift))] = 0
            if kind == 3:
                sliver = int(other_cols[0]) + shift + int(shares[index] * 0.6
                                                          * (other_cols[-1] - other_cols[0]))
                moved[:, max(0, sliver):] = 0
            out[index] = torch.maximum(image, moved)
    return out


def _composite(image: np.ndarray, rng: np.random.Generator, pen: int) -> None:
    """A doodle of simple shapes drawn together: a closed outline (a box, a polygon, an oval)
    with a roof on top of it, a door, a window or two eyes inside it, or both: a house, a face,
    a sign. (No loop over a loop, no stem under one: those are 8s, 6s and 9s.)"""
    half = rng.uniform(7, 14, 2)
    centre = np.array([28.0, rng.uniform(28, 36)])
    body = int(rng.integers(0, 3))
    if body == 0:
        cv2.rectangle(image, tuple(int(v) for v in centre - half),
                      tuple(int(v) for v in centre + half), 255, pen)
    elif body == 1:
        cv2.ellipse(image, tuple(int(v) for v in centre), tuple(int(v) for v in half), 0, 0, 360,
                    255, pen, cv2.LINE_AA)
    else:
        sides = int(rng.integers(5, 8))
        angles = rng.uniform(0, 2 * np.pi) + 2 * np.pi * np.arange(sides) / sides
        points = centre + half * np.stack([np.cos(angles), np.sin(angles)], axis=1)
        cv2.polylines(image, [points.astype(np.int32)], True, 255, pen, cv2.LINE_AA)
    roof, inside = [(True, False), (False, True), (True, True)][int(rng.integers(0, 3))]
    if roof:
        top = centre[1] - half[1]
        points = [(centre[0] - half[0] - rng.uniform(0, 4), top),
                  (centre[0] + rng.uniform(-3, 3), top - rng.uniform(6, 16)),
                  (centre[0] + half[0] + rng.uniform(0, 4), top)]
        cv2.polylines(image, [np.array(points, np.int32)], False, 255, pen, cv2.LINE_AA)
    if inside and rng.random() < 0.5:  # a door or a window
        inner = half * rng.uniform(0.2, 0.5, 2)
        middle = centre + half * rng.uniform(-0.4, 0.4, 2)
        cv2.rectangle(image, tuple(int(v) for v in middle - inner),
                      tuple(int(v) for v in middle + inner), 255, max(1, pen - 1))
    elif inside:  # two eyes
        for side in (-1, 1):
            eye = centre + np.array([side * half[0] * 0.4, -half[1] * 0.3])
            cv2.circle(image, tuple(int(v) for v in eye), max(1, pen - 1), 255, -1)


def _sketch(image: np.ndarray, rng: np.random.Generator, pen: int) -> None:
    """A sketch of a thing, as people doodle one: an animal (a body, a head beside it, legs,
    a tail), a vehicle (a body on two wheels), a cube, a heart, a star or an arch."""
    kind = int(rng.integers(0, 6))
    line = cv2.LINE_AA
    if kind == 0:  # an animal
        body = (int(rng.uniform(22, 32)), int(rng.uniform(26, 34)))
        axes = (int(rng.uniform(9, 15)), int(rng.uniform(5, 9)))
        cv2.ellipse(image, body, axes, 0, 0, 360, 255, pen, line)
        side = rng.choice([-1, 1])
        head = (body[0] + side * (axes[0] + 4), body[1] - axes[1] - 2)
        cv2.circle(image, head, int(rng.uniform(3, 6)), 255, pen, line)
        for leg in np.linspace(-0.7, 0.7, int(rng.integers(2, 5))):
            x = int(body[0] + leg * axes[0])
            cv2.line(image, (x, body[1] + axes[1] - 1), (x, body[1] + axes[1] + 8), 255, pen)
        tail = (body[0] - side * axes[0], body[1])
        cv2.line(image, tail, (tail[0] - side * 7, tail[1] - 6), 255, pen, line)
    elif kind == 1:  # a vehicle
        left, top = int(rng.uniform(8, 14)), int(rng.uniform(16, 26))
        right, bottom = int(rng.uniform(40, 48)), top + int(rng.uniform(8, 14))
        cv2.rectangle(image, (left, top), (right, bottom), 255, pen)
        for x in (left + 6, right - 6):
            cv2.circle(image, (x, bottom + 4), int(rng.uniform(3, 6)), 255, pen, line)
        if rng.random() < 0.5:
            cv2.line(image, (left + 8, top), (left + 14, top - 8), 255, pen, line)
            cv2.line(image, (left + 14, top - 8), (right - 10, top - 8), 255, pen, line)
    elif kind == 2:  # a cube
        size, shift = int(rng.uniform(14, 22)), int(rng.uniform(5, 9))
        corner = np.array([int(rng.uniform(10, 18)), int(rng.uniform(16, 24))])
        front = [corner + np.array(offset) for offset in ((0, 0), (size, 0), (size, size),
                                                          (0, size))]
        back = [point + np.array((shift, -shift)) for point in front]
        for square in (front, back):
            cv2.polylines(image, [np.array(square, np.int32)], True, 255, pen, line)
        for a, b in zip(front, back, strict=True):
            cv2.line(image, tuple(int(v) for v in a), tuple(int(v) for v in b), 255, pen, line)
    elif kind == 3:  # a heart
        centre, radius = 28, rng.uniform(7, 11)
        angles = np.linspace(0, 2 * np.pi, 60)
        x = 16 * np.sin(angles) ** 3
        y = -(13 * np.cos(angles) - 5 * np.cos(2 * angles) - 2 * np.cos(3 * angles)
              - np.cos(4 * angles))
        points = np.stack([centre + x * radius / 16, centre + y * radius / 16], axis=1)
        cv2.polylines(image, [points.astype(np.int32)], True, 255, pen, line)
    elif kind == 4:  # a star
        points = int(rng.integers(5, 7))
        angles = rng.uniform(0, np.pi) + np.arange(2 * points) * np.pi / points
        radii = np.where(np.arange(2 * points) % 2, rng.uniform(6, 10), rng.uniform(16, 22))
        star = 28 + np.stack([radii * np.cos(angles), radii * np.sin(angles)], axis=1)
        cv2.polylines(image, [star.astype(np.int32)], True, 255, pen, line)
    else:  # an arch on its pillars
        left, right = int(rng.uniform(10, 18)), int(rng.uniform(38, 46))
        top, bottom = int(rng.uniform(14, 22)), int(rng.uniform(40, 48))
        middle, half = (left + right) // 2, (right - left) // 2
        cv2.ellipse(image, (middle, top + half), (half, half), 0, 180, 360, 255, pen, line)
        for x in (left, right):
            cv2.line(image, (x, top + half), (x, bottom), 255, pen, line)
        cv2.line(image, (left - 4, bottom), (right + 4, bottom), 255, pen, line)


def _strokes(count: int, rng: np.random.Generator) -> torch.Tensor:
    """Pen strokes that are no digit: scribbles, zigzags, shapes, crosses and stars, and
    doodles of several shapes and sketches of things."""
    images = np.zeros((count, CANVAS, CANVAS), dtype=np.uint8)
    for image in images:
        pen = int(rng.integers(2, 6))
        kind = int(rng.integers(0, 10))
        if kind >= 8:
            _sketch(image, rng, pen)
            continue
        if kind >= 6:
            _composite(image, rng, pen)
            continue
        centre = rng.uniform(18, 38, 2)
        radius = rng.uniform(10, 24)
        if kind == 0:
            points = rng.uniform(6, 50, (int(rng.integers(4, 9)), 2))
        elif kind == 1:
            steps = int(rng.integers(3, 7))
            xs = np.linspace(8, 48, steps)
            zigzag = rng.choice([-1, 1]) * radius * (np.arange(steps) % 2 - 0.5)
            points = np.stack([xs, 28 + zigzag], axis=1)
        elif kind == 2:
            sides = int(rng.integers(3, 7))
            angles = rng.uniform(0, 2 * np.pi) + 2 * np.pi * np.arange(sides + 1) / sides
            points = centre + radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)
        elif kind == 3:
            arms = int(rng.integers(2, 5))
            for arm in range(arms):
                angle = np.pi * arm / arms + rng.uniform(-0.2, 0.2)
                end = radius * np.array([np.cos(angle), np.sin(angle)])
                cv2.line(image, tuple(int(v) for v in centre - end),
                         tuple(int(v) for v in centre + end), 255, pen)
            continue
        elif kind == 4:
            turns = rng.uniform(1.5, 3)
            angles = np.linspace(0, 2 * np.pi * turns, 40)
            points = centre + (radius * angles / angles[-1])[:, None] * np.stack(
                [np.cos(angles), np.sin(angles)], axis=1)
        else:
            cv2.rectangle(image, (int(centre[0] - radius), int(centre[1] - radius * 0.8)),
                          (int(centre[0] + radius), int(centre[1] + radius * 0.8)), 255, pen)
            cv2.line(image, (int(centre[0] - radius), int(centre[1] - radius * 0.8)),
                     (int(centre[0] + radius), int(centre[1] + radius * 0.8)), 255, pen)
            continue
        cv2.polylines(image, [points.astype(np.int32)], False, 255, pen, cv2.LINE_AA)
    return torch.from_numpy(images).float() / 255


@functools.cache
def _fonts() -> list[tuple[object, str]]:
    """Fonts that ship with matplotlib, each with the letters it draws. (DejaVu Sans itself is
    left to the benchmark, which sets its glyphs in it.) Loaded once: the fit draws glyphs
    batch by batch."""
    import matplotlib
    from PIL import ImageFont

    folder = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    common = LATIN + GREEK + CYRILLIC + SIGNS
    chosen = (("DejaVuSerif.ttf", common + ARMENIAN + GEORGIAN),
              ("DejaVuSansMono.ttf", common + ARMENIAN + GEORGIAN),
              ("DejaVuSans-Bold.ttf", common + ARMENIAN + GEORGIAN + HEBREW),
              ("DejaVuSerif-Italic.ttf", common),
              ("STIXGeneral.ttf", common))
    return [(ImageFont.truetype(str(folder / name), 40), letters) for name, letters in chosen]


def _glyphs(count: int, rng: np.random.Generator) -> torch.Tensor:
    """Letters of many alphabets and signs, set in fonts and slanted and thickened at random
    like handwriting."""
    from PIL import Image, ImageDraw

    fonts = _fonts()
    images = np.zeros((count, CANVAS, CANVAS), dtype=np.uint8)
    for index in range(count):
        font, letters = fonts[int(rng.integers(0, len(fonts)))]
        canvas = Image.new("L", (CANVAS, CANVAS), 0)
        ImageDraw.Draw(canvas).text((CANVAS / 2, CANVAS / 2), str(rng.choice(list(letters))),
                                    font=font, fill=255, anchor="mm")
        shear = rng.uniform(-0.3, 0.3)
        warp = np.float32([[1, shear, -shear * CANVAS / 2], [0, 1, 0]])
        image = cv2.warpAffine(np.asarray(canvas), warp, (CANVAS, CANVAS))
        pen = int(rng.integers(1, 4))
        images[index] = cv2.dilate(image, np.ones((pen, pen), np.uint8))
    return torch.from_numpy(images).float() / 255


ASYMMETRIC = (2, 3, 4, 5, 6, 7, 9)
"""Digits that are no digit mirrored or on their side (0, 1 and 8 still are; a 6 turned over
is a 9)."""


def _turned(digits: torch.Tensor, labels: torch.Tensor,
            rng: np.random.Generator) -> torch.Tensor:
    """Asymmetric digits mirrored, or turned a quarter either way."""
    chosen = digits[torch.isin(labels, torch.tensor(ASYMMETRIC, device=labels.device)).cpu()]
    kinds = torch.from_numpy(rng.integers(0, 3, len(chosen)))[:, None, None]
    return torch.where(kinds == 0, chosen.flip(2),
                       torch.where(kinds == 1, chosen.rot90(1, (1, 2)), chosen.rot90(-1, (1, 2))))


def _overlaid(digits: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
    """Two digits written over one another, a few pixels apart."""
    partner = digits[torch.from_numpy(rng.permutation(len(digits)))]
    shifts = rng.integers(-5, 6, (len(digits), 2))
    return torch.stack([torch.maximum(digit, torch.roll(other, tuple(int(s) for s in shift),
                                                        (0, 1)))
                        for digit, other, shift in zip(digits, partner, shifts, strict=True)])


def _smooth(points: np.ndarray, rounds: int = 3) -> np.ndarray:
    """A polyline's corners cut (Chaikin), so it curves like a pen stroke."""
    for _ in range(rounds):
        quarter = 0.75 * points[:-1] + 0.25 * points[1:]
        three = 0.25 * points[:-1] + 0.75 * points[1:]
        points = np.concatenate([points[:1], np.stack([quarter, three], 1).reshape(-1, 2),
                                 points[-1:]])
    return points


def _scribbles(count: int, rng: np.random.Generator) -> torch.Tensor:
    """Characters of no alphabet: one to three smooth strokes through random points, and stick
    figures of straight strokes between the corners, edges and centre of a box (letters
    such as F, H, K, M, W, Д, Ж, Ш are of this kind)."""
    images = np.zeros((count, CANVAS, CANVAS), np.uint8)
    anchors = np.array([(x, y) for y in (10, 28, 46) for x in (12, 28, 44)], np.float64)
    for image in images:
        pen = int(rng.integers(2, 6))
        curved = rng.random() < 0.5
        for _ in range(int(rng.integers(1, 4)) if curved else int(rng.integers(2, 4))):
            if curved:
                points = _smooth(rng.uniform(8, 48, (int(rng.integers(3, 6)), 2)))
            else:
                chosen = anchors[rng.choice(len(anchors), int(rng.integers(2, 4)), replace=False)]
                points = chosen + rng.normal(0, 2, chosen.shape)
            cv2.polylines(image, [points.astype(np.int32)], False, 255, pen, cv2.LINE_AA)
    return torch.from_numpy(images).float() / 255


def _halves(images: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
    """What a wrong cut through a letter or a doodle leaves: its left or right part (mostly,
    as lines of writing are cut) or its top or bottom part, from a third to two thirds of
    it."""
    out = torch.zeros_like(images)
    for index, image in enumerate(images):
        across = rng.random() < 0.75
        profile = image.amax(0 if across else 1)
        ink = torch.nonzero(profile > 0.05).flatten()
        if len(ink) < 2:
            continue
        cut = int(ink[0] + rng.uniform(0.33, 0.67) * (ink[-1] - ink[0]))
        kept = torch.zeros_like(profile, dtype=torch.bool)
        kept[:cut] = True
        if rng.random() < 0.5:
            kept = ~kept
        out[index] = image * (kept[None, :] if across else kept[:, None])
    return out


def marks(count: int, characters: list[Glyph], seed: int = 0) -> torch.Tensor:
    """``count`` marks that are no digit, on the canvas (float ``(count, CANVAS, CANVAS)``, not
    normalized): half ``characters`` of stroke data drawn with a pen, the rest pen strokes and
    shapes, scribbles and glyphs set in fonts."""
    rng = np.random.default_rng(seed)
    third = (count - count // 2) // 3
    return torch.cat([drawn(characters, count // 2, rng, drop_strokes=True),
                      _strokes(third, rng), _scribbles(third, rng),
                      _glyphs(count - count // 2 - 2 * third, rng)])


def outliers(digits: torch.Tensor, labels: torch.Tensor, count: int, characters: list[Glyph],
             seed: int = 0, letters: list[Glyph] | None = None) -> torch.Tensor:
    """``count`` normalized 28x28 outliers: half characters of real stroke data drawn with a
    pen (``strokes.draw``; a fifth of them cut in half as a wrong cut leaves them), as many
    ``letters`` (Latin, Greek and Cyrillic, capital and small: what people write most that is
    no digit) as other ``characters``, half made from ``digits`` (float ``(N, 28, 28)``, white
    on black, with their ``labels``) and from pen strokes and fonts: pieces and pairs of
    digits, turned and overlaid digits, strokes and shapes, scribbles, glyphs set in fonts,
    and parts of those three; shuffled."""
    rng = np.random.default_rng(seed)
    drawn_count = count // 2
    lettered = drawn_count // 2 if letters else 0
    written = torch.cat([drawn(letters or characters, lettered, rng, drop_strokes=True),
                         drawn(characters, drawn_count - lettered, rng, drop_strokes=True)])
    written = written[torch.from_numpy(rng.permutation(len(written)))]
    cut = drawn_count // 5
    parts = [_halves(written[:cut], rng), written[cut:]]
    sixteenth = (count - drawn_count) // 8

    def some(share: int) -> tuple[torch.Tensor, torch.Tensor]:
        index = torch.from_numpy(rng.integers(0, len(digits), share))
        return digits[index], labels[index]

    parts += [_pieces(some(2 * sixteenth)[0], rng), _turned(*some(2 * sixteenth), rng)[:sixteenth],
              _overlaid(some(sixteenth)[0], rng), _strokes(sixteenth, rng),
              _scribbles(sixteenth, rng), _glyphs(sixteenth, rng)]
    remaining = count - sum(len(part) for part in parts)
    whole = torch.cat([_strokes(remaining // 3, rng), _scribbles(remaining // 3, rng),
                       _glyphs(remaining - 2 * (remaining // 3), rng)])
    parts.append(_halves(whole, rng))
    made = torch.cat([normalize_batch(part) for part in parts])
    return made[torch.from_numpy(rng.permutation(len(made)))]


def pictures(count: int, letters: list[Glyph], others: list[Glyph],
             rng: np.random.Generator) -> list[np.ndarray]:
    """``count`` pictures of marks that are no digits, as a file holds them (uint8 grayscale,
    dark ink on light paper): one to three letters or other characters of stroke data drawn
    with a pen side by side, or a doodle (strokes, shapes, scribbles), drawn 1 to 3 times the
    canvas and put on paper with a margin, some in black and white."""
    out = []
    for _ in range(count):
        kind = rng.random()
        if kind < 0.35:
            marks = drawn(letters, int(rng.integers(1, 4)), rng, drop_strokes=True)
        elif kind < 0.7:
            marks = drawn(others, int(rng.integers(1, 3)), rng, drop_strokes=True)
        else:
            made = _strokes(1, rng) if rng.random() < 0.5 else _scribbles(1, rng)
            marks = made
        size = round(CANVAS * rng.uniform(1.0, 3.0))
        inks = [cv2.resize(crop_to_ink(mark.numpy()), None, fx=size / CANVAS, fy=size / CANVAS,
                           interpolation=cv2.INTER_LINEAR) for mark in marks]
        gap = round(size * rng.uniform(0.05, 0.4))
        height = max(ink.shape[0] for ink in inks)
        row = np.zeros((height, sum(ink.shape[1] for ink in inks) + gap * (len(inks) - 1)),
                       np.float32)
        x = 0
        for ink in inks:
            row[:ink.shape[0], x:x + ink.shape[1]] = ink
            x += ink.shape[1] + gap
        margin = round(size * rng.uniform(0.1, 0.5))
        ink = np.pad(row, margin)
        if rng.random() < 0.3:
            ink = (ink > 0.5).astype(np.float32)
        paper = rng.uniform(0.8, 1.0)
        gray = paper * (1 - ink) + rng.uniform(0.0, 0.25) * ink
        gray += rng.normal(0, rng.uniform(0, 0.02), gray.shape)
        out.append(np.round(np.clip(gray, 0, 1) * 255).astype(np.uint8))
    return out
