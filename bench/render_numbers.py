"""Render handwritten numbers from MNIST test digits on paper as phones and scanners see it.

Each picture is a string of 1 to 8 real MNIST test digits, each cropped to its ink, scaled with
its own size and baseline jitter and placed from slightly overlapping to widely spaced, then put
on paper: brightness falling off by up to half the range across the picture, shadows with soft
or sharp edges, ruled or squared lines, a box drawn around the number, light ink on a dark card
pasted onto a white page, sensor noise, and JPEG for some. The seed fixes everything. Used by
bench_numbers.py.
"""

import json
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

CONDITIONS = ("plain", "gradient", "shadow", "ruled", "squared", "box", "card")


def _digit_ink(digit: np.ndarray, height: float) -> np.ndarray:
    """A uint8 MNIST digit cropped to its ink and scaled to ``height`` px, as float in [0, 1]."""
    rows, cols = np.flatnonzero(digit.max(1)), np.flatnonzero(digit.max(0))
    crop = Image.fromarray(digit[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1])
    scale = height / crop.height
    size = (max(1, round(crop.width * scale)), max(1, round(height)))
    return np.asarray(crop.resize(size, Image.Resampling.BILINEAR), dtype=np.float32) / 255


def _compose(digits: list[np.ndarray],
             rng: np.random.Generator) -> tuple[np.ndarray, int, float]:
    """Ink of the whole number on a canvas with margins; returns the ink, the digit height and
    the narrowest gap between neighbouring digits' boxes, in digit heights."""
    height = float(rng.uniform(22, 90))
    pieces = []
    for digit in digits:
        size = height * rng.uniform(0.88, 1.12)
        pieces.append((_digit_ink(digit, size), height * rng.uniform(-0.08, 0.08)))
    gaps = [height * rng.uniform(-0.12, 0.55) for _ in pieces[1:]]
    width = sum(ink.shape[1] for ink, _ in pieces) + sum(gaps)
    margin_x = [int(height * rng.uniform(0.3, 1.8)) for _ in range(2)]
    margin_y = [int(height * rng.uniform(0.3, 1.2)) for _ in range(2)]
    canvas = np.zeros((int(1.3 * height) + sum(margin_y), int(width) + sum(margin_x) + 4),
                      dtype=np.float32)
    x = float(margin_x[0])
    for index, (ink, shift) in enumerate(pieces):
        top = int(margin_y[0] + 0.15 * height + shift + (height - ink.shape[0]) / 2)
        left = int(x)
        region = canvas[top:top + ink.shape[0], left:left + ink.shape[1]]
        np.maximum(region, ink[:region.shape[0], :region.shape[1]], out=region)
        x += ink.shape[1] + (gaps[index] if index < len(gaps) else 0)
    return canvas, int(height), min(gaps, default=np.inf) / height


def _pen(ink: np.ndarray, height: int, rng: np.random.Generator) -> np.ndarray:
    pen = rng.choice(["same", "thicker", "thinner"], p=[0.6, 0.25, 0.15])
    kernel = 2 * int(height * rng.uniform(0.02, 0.05)) + 1
    if pen == "same" or kernel < 3:
        return ink
    image = Image.fromarray(ink, mode="F")
    filtered = image.filter(ImageFilter.MaxFilter(kernel) if pen == "thicker"
                            else ImageFilter.MinFilter(kernel))
    return np.asarray(filtered, dtype=np.float32)


def _lines(shape: tuple[int, int], height: int, squared: bool,
           rng: np.random.Generator) -> np.ndarray:
    """Printed rules: horizontal every line-and-a-bit, and vertical ones too on squared paper."""
    rows, cols = shape
    layer = Image.new("F", (cols, rows), 0.0)
    draw = ImageDraw.Draw(layer)
    pitch = height * rng.uniform(0.6, 1.5) if squared else height * rng.uniform(1.0, 1.6)
    width = int(rng.integers(1, 3))
    tilt = rng.uniform(-0.02, 0.02) * cols
    offset = rng.uniform(0, pitch)
    for y in np.arange(offset, rows, pitch):
        draw.line([(0, y), (cols, y + tilt)], fill=1.0, width=width)
    if squared:
        for x in np.arange(rng.uniform(0, pitch), cols, pitch):
            draw.line([(x, 0), (x - tilt * rows / cols, rows)], fill=1.0, width=width)
    return np.asarray(layer, dtype=np.float32)


def _box(ink: np.ndarray, height: int, rng: np.random.Generator) -> np.ndarray:
    """A rectangle drawn with the pen around the number."""
    rows, cols = np.flatnonzero(ink.max(1) > 0.3), np.flatnonzero(ink.max(0) > 0.3)
    pad = height * rng.uniform(0.12, 0.4)
    layer = Image.fromarray(ink, mode="F")
    draw = ImageDraw.Draw(layer)
    wobble = lambda: rng.uniform(-0.04, 0.04) * height  # noqa: E731
    corners = [(cols[0] - pad + wobble(), rows[0] - pad + wobble()),
               (cols[-1] + pad + wobble(), rows[0] - pad + wobble()),
               (cols[-1] + pad + wobble(), rows[-1] + pad + wobble()),
               (cols[0] - pad + wobble(), rows[-1] + pad + wobble())]
    draw.line([*corners, corners[0]], fill=1.0, width=max(1, int(height * rng.uniform(0.04, 0.09))))
    return np.asarray(layer, dtype=np.float32)


def _lighting(shape: tuple[int, int], rng: np.random.Generator, strength: float) -> np.ndarray:
    """Brightness that falls off across the picture by up to ``strength`` of the range."""
    rows, cols = shape
    ys, xs = np.mgrid[0:rows, 0:cols].astype(np.float32)
    angle = rng.uniform(0, 2 * np.pi)
    ramp = np.cos(angle) * xs / cols + np.sin(angle) * ys / rows
    ramp = (ramp - ramp.min()) / max(float(np.ptp(ramp)), 1e-6)
    return 1.0 - strength * ramp


def _shadow(shape: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """A shadow over part of the picture: a half-plane, soft-edged or sharp."""
    rows, cols = shape
    ys, xs = np.mgrid[0:rows, 0:cols].astype(np.float32)
    angle = rng.uniform(0, 2 * np.pi)
    distance = np.cos(angle) * (xs - cols * rng.uniform(0.2, 0.8)) + np.sin(angle) * (
        ys - rows * rng.uniform(0.2, 0.8))
    softness = rng.choice([1.0, max(rows, cols) * rng.uniform(0.02, 0.15)])
    inside = 1 / (1 + np.exp(-distance / softness))
    return 1.0 - rng.uniform(0.25, 0.5) * inside


def render_number(digits: list[np.ndarray],
                  rng: np.random.Generator) -> tuple[Image.Image, str, float]:
    """A picture of the number written with these MNIST digits, the condition it shows, and
    the narrowest gap between its digits (in digit heights)."""
    ink, height, gap = _compose(digits, rng)
    ink = _pen(ink, height, rng)
    condition = str(rng.choice(CONDITIONS, p=[0.2, 0.15, 0.15, 0.14, 0.12, 0.12, 0.12]))
    shape = ink.shape
    paper = rng.uniform(0.75, 1.0)
    pen_level = rng.uniform(0.0, 0.3)
    if condition == "box":
        ink = _box(ink, height, rng)
    background = np.full(shape, paper, dtype=np.float32)
    if condition in ("ruled", "squared"):
        rules = _lines(shape, height, condition == "squared", rng)
        background -= rules * rng.uniform(0.15, 0.45)
    if condition == "card":
        card_level, pen_level = rng.uniform(0.05, 0.3), rng.uniform(0.75, 1.0)
        picture = card_level * (1 - ink) + pen_level * ink
        border = [int(height * rng.uniform(0.5, 2.0)) for _ in range(4)]
        page = np.full((shape[0] + border[0] + border[1], shape[1] + border[2] + border[3]),
                       rng.uniform(0.85, 1.0), dtype=np.float32)
        page[border[0]:border[0] + shape[0], border[2]:border[2] + shape[1]] = picture
        picture = page
    else:
        picture = background * (1 - ink) + pen_level * ink
    light = rng.uniform(0.0, 0.5) if condition in ("gradient", "shadow") else rng.uniform(0, 0.15)
    picture = picture * _lighting(picture.shape, rng, light)
    if condition == "shadow":
        picture = picture * _shadow(picture.shape, rng)
    picture = picture + rng.normal(0, rng.uniform(0, 0.035), picture.shape)
    image = Image.fromarray((np.clip(picture, 0, 1) * 255).astype(np.uint8))
    return image, condition, gap


def render_numbers_folder(digits: np.ndarray, labels: np.ndarray, folder: Path, count: int,
                          seed: int = 0) -> list[dict]:
    """Write ``count`` pictures of numbers into ``folder``; return their manifest."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    manifest = []
    for index in range(count):
        length = int(rng.integers(1, 9))
        chosen = rng.integers(0, len(digits), length)
        image, condition, gap = render_number([digits[i] for i in chosen], rng)
        jpeg = rng.random() < 0.3
        path = folder / f"{index:05d}.{'jpg' if jpeg else 'png'}"
        if jpeg:
            image.save(path, quality=int(rng.integers(50, 91)))
        else:
            image.save(path)
        number = "".join(str(int(labels[i])) for i in chosen)
        spacing = "apart" if gap > 0.15 else "close" if gap >= 0 else "overlapping"
        manifest.append({"path": str(path), "number": number, "condition": condition,
                         "spacing": spacing if length > 1 else "one digit"})
    (folder / "labels.json").write_text(json.dumps(manifest))
    return manifest
