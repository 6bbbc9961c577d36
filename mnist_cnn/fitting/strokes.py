"""Characters drawn from real stroke data with a pen, for fitting the not-a-digit detector.

KanjiVG (kanji, kana, Latin letters and digits as stroke paths; Ulrich Apel, CC BY-SA 3.0) and
the Hershey fonts (single-stroke vector fonts: Latin, script, gothic, Greek, Cyrillic, signs;
the ``Hershey-Fonts`` package, MIT) give the pen paths of thousands of characters as people
write them. Their digits are positives, so that "drawn from strokes" never means "not a digit";
their other characters are outliers, less the look-alikes of digits (O, I, S, Z, B, G, q, a
box, the Cyrillic ze and be, ...). Each is drawn as a hand would: slanted, turned, bent, with
a pen of its own width, sometimes missing a stroke. Only ``mnist-train --fit-detector`` needs
this module and its data packages (the ``fit`` extra).
"""

import functools
import re

import cv2
import numpy as np
import torch

from mnist_cnn.errors import UsageError

CANVAS = 56
"""Characters are drawn on this canvas, then normalized like any digit."""
DIGITS = "0123456789"
LATIN_LOOK_ALIKES = set("OoQDIilJjSsZzBbGgqy")
"""Latin letters that may be taken for a digit when handwritten: 0, 1, 2, 5, 6, 8, 9, 4."""
HERSHEY_LATIN = ("futural", "futuram", "rowmans", "rowmand", "rowmant", "timesr", "timesi",
                 "timesrb", "timesib", "scripts", "scriptc", "cursive")
"""The Latin fonts, plain, roman, italic and script (not the gothic ones: nobody writes a
digit in blackletter)."""
HERSHEY_SIGNS = "!#$%&*+=?<>{}[]~@"
HERSHEY_OTHER_SCRIPTS = {
    # Keys whose glyphs are no digit's look-alike; the Greek and Cyrillic fonts set their
    # letters on the Latin keys (B is beta or ve, O is omicron or o, Z is zeta or ze, ...).
    "greek": "ACDEFGHKLMNPRSTUWXYacefghjklmnptuvwxy",
    "greekc": "ACDEFGHKLMNPRSTUWXYacefghjklmnptuvwxy",
    "greeks": "ACDEFGHKLMNPRSTUWXYacefghjklmnptuvwxy",
    "cyrillic": "ADEFGHKLMNPQRSTUWXYadefghjklmpqrstuwxy",
    "cyrilc_1": "ADEFGHKLMNPQRSTUWXYadefghjklmpqrstuwxy",
}
KANJI_LOOK_ALIKES = set("〇口ロ回日目曰巳己乙了")
"""Kanji and kana of three strokes or more that may still be taken for a digit (0, 8, 2, 7);
those of one or two strokes (katakana fu, hiragana ro, kanji seven and nine) are all left
out."""
FEWEST_STROKES = 3
STEPS = np.linspace(0, 1, 8, endpoint=False)[None, :]
"""Where each segment of a KanjiVG path is sampled."""
FIT_EXTRA = "pip install 'mnist-cnn[fit]' (or -e '.[fit]' in a clone)"

Glyph = list[np.ndarray]
"""A character as strokes, each a ``(K, 2)`` array of points (x, y; y down), in its units."""


def _missing(package: str) -> UsageError:
    return UsageError(f"fitting the detector needs the {package} package: {FIT_EXTRA}")


def _path_points(path: object) -> np.ndarray:
    """Points along an ``svg.path`` path, each segment at ``STEPS``: cubic curves (nearly all
    of KanjiVG's) by their formula, lines as straight cubic ones."""
    drawn = [segment for segment in path if type(segment).__name__ != "Move"]
    if not drawn:
        return np.zeros((0, 2))
    curves = np.array([[s.start, s.control1, s.control2, s.end] if hasattr(s, "control2")
                       else [s.start, s.start, s.end, s.end] for s in drawn])
    p0, p1, p2, p3 = (curves[:, i:i + 1] for i in range(4))
    t, u = STEPS, 1 - STEPS
    z = u**3 * p0 + 3 * u**2 * t * p1 + 3 * u * t**2 * p2 + t**3 * p3
    z = np.concatenate([z.ravel(), [drawn[-1].end]])
    return np.stack([z.real, z.imag], axis=1)


@functools.cache
def kanjivg() -> tuple[list[Glyph], list[Glyph], list[Glyph]]:
    """KanjiVG's digits, its Latin letters, and its other characters (kana, kanji) of at
    least ``FEWEST_STROKES`` strokes, all no digit's look-alike."""
    from importlib.resources import files

    try:
        import kanji
        from svg.path import parse_path
    except ImportError as error:
        raise _missing("kanjivg and svg.path") from error

    digits, letters, others = [], [], []
    for entry in sorted(files(kanji).iterdir(), key=lambda item: item.name):
        if not entry.name.endswith(".svg"):
            continue
        character = chr(int(entry.name.split(".")[0].split("-")[0], 16))
        paths = re.findall(r'<path[^>]*\sd="([^"]+)"', entry.read_text(encoding="utf-8"))
        glyph = [points for d in paths if len(points := _path_points(parse_path(d))) > 1]
        if not glyph:
            continue
        if character in DIGITS:
            digits.append(glyph)
        elif character.isascii():
            if character.isalpha() and character not in LATIN_LOOK_ALIKES:
                letters.append(glyph)
        elif len(glyph) >= FEWEST_STROKES and character not in KANJI_LOOK_ALIKES:
            others.append(glyph)
    return digits, letters, others


@functools.cache
def hershey() -> tuple[list[Glyph], list[Glyph], list[Glyph]]:
    """The Hershey fonts' digits (Latin fonts), their letters (Latin, italic and script fonts,
    Greek and Cyrillic) and their signs, all no digit's look-alike."""
    try:
        from HersheyFonts import HersheyFonts
    except ImportError as error:
        raise _missing("Hershey-Fonts") from error

    def glyphs(font: str, keys: str) -> list[Glyph]:
        typeface = HersheyFonts()
        typeface.load_default_font(font)
        found = []
        for key in keys:
            strokes = [np.array(stroke, np.float64)
                       for stroke in typeface.strokes_for_text(key) if len(stroke) > 1]
            if strokes:
                found.append(strokes)
        return found

    latin_letters = "".join(chr(code) for code in range(ord("A"), ord("z") + 1)
                            if chr(code).isalpha() and chr(code) not in LATIN_LOOK_ALIKES)
    digits = [glyph for font in HERSHEY_LATIN for glyph in glyphs(font, DIGITS)]
    letters = [glyph for font in HERSHEY_LATIN for glyph in glyphs(font, latin_letters)]
    letters += [glyph for font, keys in HERSHEY_OTHER_SCRIPTS.items()
                for glyph in glyphs(font, keys)]
    signs = [glyph for font in HERSHEY_LATIN for glyph in glyphs(font, HERSHEY_SIGNS)]
    return digits, letters, signs


def characters() -> tuple[list[Glyph], list[Glyph], list[Glyph]]:
    """The digits, the letters and the other characters (kanji, kana, signs) of KanjiVG and
    the Hershey fonts together. Letters are what people write most that is no digit, and
    kanji outnumber them a hundred to one, so the fits draw the two apart."""
    (kanji_digits, kanji_letters, kanji), (font_digits, font_letters, signs) = (kanjivg(),
                                                                               hershey())
    return kanji_digits + font_digits, kanji_letters + font_letters, kanji + signs


def _bend(points: np.ndarray, rng: np.random.Generator, amount: float) -> np.ndarray:
    """Points moved by a smooth random field (a 3x3 grid of offsets, interpolated): a hand's
    bend of the strokes. ``points`` in [0, 1]^2."""
    field = rng.normal(0, amount, (3, 3, 2))
    grid = np.clip(points * 2, 0, 2)
    low = np.minimum(grid.astype(int), 1)
    frac = grid - low
    x0, y0, fx, fy = low[:, 0], low[:, 1], frac[:, :1], frac[:, 1:]
    return points + ((1 - fx) * (1 - fy) * field[y0, x0] + fx * (1 - fy) * field[y0, x0 + 1]
                     + (1 - fx) * fy * field[y0 + 1, x0] + fx * fy * field[y0 + 1, x0 + 1])


def draw(glyph: Glyph, rng: np.random.Generator, drop_strokes: bool) -> np.ndarray:
    """One character on a ``CANVAS`` square (uint8, white on black), as a hand writes it:
    slanted, turned and stretched a little, bent, each point jittered, with a pen a tenth of
    its height wide, give or take half; ``drop_strokes``: sometimes one stroke is left out
    (never for a digit: a 4 without its bar is no 4)."""
    strokes = list(glyph)
    if drop_strokes and len(strokes) > 2 and rng.random() < 0.3:
        strokes.pop(int(rng.integers(0, len(strokes))))
    points = np.concatenate(strokes)
    low, high = points.min(0), points.max(0)
    size = float(max(high - low)) or 1.0
    angle, slant = rng.normal(0, 0.12), rng.uniform(-0.35, 0.25)
    stretch = np.exp(rng.normal(0, 0.15))
    turn = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    shape = turn @ np.array([[stretch, slant], [0.0, 1.0]])
    placed = []
    for stroke in strokes:
        unit = (stroke - low) / size
        unit = _bend(unit, rng, 0.04) + rng.normal(0, 0.006, unit.shape)
        placed.append((unit - 0.5) @ shape.T)
    every = np.concatenate(placed)
    span = float(max(every.max(0) - every.min(0))) or 1.0
    height = rng.uniform(0.55, 0.75) * CANVAS
    centre = (every.max(0) + every.min(0)) / 2
    pen = max(1, round(height * rng.uniform(0.06, 0.15)))
    image = np.zeros((CANVAS, CANVAS), np.uint8)
    lines = [np.round((stroke - centre) / span * height + CANVAS / 2).astype(np.int32)
             for stroke in placed]
    cv2.polylines(image, lines, False, 255, pen, cv2.LINE_AA)
    return image


def drawn(glyphs: list[Glyph], count: int, rng: np.random.Generator,
          drop_strokes: bool) -> torch.Tensor:
    """``count`` characters picked from ``glyphs`` at random and drawn (``draw``), as floats
    ``(count, CANVAS, CANVAS)`` in [0, 1]."""
    picks = rng.integers(0, len(glyphs), count)
    images = np.stack([draw(glyphs[index], rng, drop_strokes) for index in picks]) \
        if count else np.zeros((0, CANVAS, CANVAS), np.uint8)
    return torch.from_numpy(images).float() / 255


def restroked(digits: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
    """MNIST digits (float ``(N, 28, 28)``) with the drawn characters' look: on the same
    canvas, their strokes cut clean and given a pen of another width (thinner, as it was, or
    thicker), so a clean even line says nothing about being a digit."""
    big = torch.nn.functional.interpolate(digits[:, None], size=(CANVAS, CANVAS),
                                          mode="bilinear", align_corners=False)[:, 0].numpy()
    out = np.zeros_like(big)
    for index, digit in enumerate(big):
        line = (digit > 0.5).astype(np.uint8) * 255
        width = int(rng.integers(-1, 3))
        pen = np.ones((abs(width) + 1, abs(width) + 1), np.uint8)
        line = cv2.dilate(line, pen) if width > 0 else cv2.erode(line, pen) if width < 0 else line
        out[index] = cv2.GaussianBlur(line, (3, 3), 0.7) / 255
    return torch.from_numpy(out)
