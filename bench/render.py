"""Render MNIST test digits the way users hand digits over, as image files with a fixed seed.

Mostly dark ink on light paper, some light on dark; canvases of 28 to 400 px; the digit 20-90 %
of the canvas at a random place; thicker or thinner pens; light background gradients and noise;
JPEG compression for some. Used by bench_recognize.py.
"""

import json
from pathlib import Path

import numpy as np
from PIL import Image, ImageFilter


def render(digit: np.ndarray, rng: np.random.Generator) -> tuple[Image.Image, str]:
    """One uint8 28x28 white-on-black MNIST digit -> a user-style picture and its file suffix."""
    rows = np.flatnonzero(digit.max(1))
    cols = np.flatnonzero(digit.max(0))
    crop = Image.fromarray(digit[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1])
    canvas = int(rng.integers(28, 401))
    long_side = max(4, int(canvas * rng.uniform(0.2, 0.9)))
    ratio = long_side / max(crop.size)
    size = (max(1, round(crop.width * ratio)), max(1, round(crop.height * ratio)))
    ink = crop.resize(size, Image.Resampling.BILINEAR)
    pen = rng.choice(["same", "thicker", "thinner"], p=[0.5, 0.3, 0.2])
    kernel = 2 * int(long_side * rng.uniform(0.01, 0.04)) + 1
    if pen != "same" and kernel >= 3:
        ink = ink.filter(ImageFilter.MaxFilter(kernel) if pen == "thicker"
                         else ImageFilter.MinFilter(kernel))
    mask = np.zeros((canvas, canvas), dtype=np.float32)
    top = int(rng.integers(0, canvas - size[1] + 1))
    left = int(rng.integers(0, canvas - size[0] + 1))
    mask[top:top + size[1], left:left + size[0]] = np.asarray(ink, dtype=np.float32) / 255

    dark_on_light = rng.random() < 0.8
    paper, pen_level = (rng.uniform(0.75, 1.0), rng.uniform(0.0, 0.3))
    if not dark_on_light:
        paper, pen_level = rng.uniform(0.0, 0.25), rng.uniform(0.7, 1.0)
    ys, xs = np.mgrid[0:canvas, 0:canvas] / canvas - 0.5
    angle = rng.uniform(0, 2 * np.pi)
    gradient = rng.uniform(0, 0.15) * (np.cos(angle) * xs + np.sin(angle) * ys)
    background = paper + gradient * (1 if dark_on_light else -1)
    picture = background * (1 - mask) + pen_level * mask
    picture += rng.normal(0, rng.uniform(0, 0.04), picture.shape)
    image = Image.fromarray((np.clip(picture, 0, 1) * 255).astype(np.uint8))
    return image, ".jpg" if rng.random() < 0.3 else ".png"


def render_folder(digits: np.ndarray, labels: np.ndarray, folder: Path, seed: int = 0) -> list:
    """Write one file per digit into ``folder``; return ``[(path, label), ...]``."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    manifest = []
    for index, (digit, label) in enumerate(zip(digits, labels, strict=True)):
        image, suffix = render(digit, rng)
        path = folder / f"{index:05d}{suffix}"
        if suffix == ".jpg":
            image.save(path, quality=int(rng.integers(50, 91)))
        else:
            image.save(path)
        manifest.append((str(path), int(label)))
    (folder / "labels.json").write_text(json.dumps(manifest))
    return manifest
