"""Generated pictures for the tests: strokes, and numbers written with the num-draft digits."""

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

DRAFTS = Path(__file__).resolve().parent.parent / "num-draft"


def draw_one(size=(200, 200), box=(80, 40, 120, 160), ink=20, paper=235, width=8) -> Image.Image:
    """A dark vertical stroke ("1") on light paper."""
    image = Image.new("L", size, paper)
    left, top, right, bottom = box
    ImageDraw.Draw(image).line([((left + right) // 2, top), ((left + right) // 2, bottom)],
                               fill=ink, width=width)
    return image


def save(image: Image.Image, folder: Path, name: str, **options) -> Path:
    path = folder / name
    image.save(path, **options)
    return path


def digit_ink(digit: int, height: int = 60) -> np.ndarray:
    """The ink of ``num-draft/num<digit>.png`` (white on black, float), cropped and scaled."""
    with Image.open(DRAFTS / f"num{digit}.png") as image:
        ink = 1.0 - np.asarray(image.convert("L"), dtype=np.float32) / 255
    rows, cols = np.flatnonzero(ink.max(1) > 0.1), np.flatnonzero(ink.max(0) > 0.1)
    crop = ink[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    width = max(1, round(crop.shape[1] * height / crop.shape[0]))
    scaled = Image.fromarray(crop, mode="F").resize((width, height), Image.Resampling.BILINEAR)
    return np.clip(np.asarray(scaled), 0, 1)


def write(text: str, height: int = 60, gap: float = 0.35, margin: int = 30,
          line_gap: float = 0.8) -> np.ndarray:
    """Ink of ``text`` (digits; ``/`` starts a new line) written with the num-draft digits,
    ``gap`` digit heights apart (negative: overlapping), on a black canvas."""
    lines = []
    for words in text.split("/"):
        inks = [digit_ink(int(d), height) for d in words]
        width = sum(i.shape[1] for i in inks) + int(gap * height) * (len(inks) - 1)
        row = np.zeros((height, max(width, 1)), dtype=np.float32)
        x = 0
        for ink in inks:
            region = row[:, x:x + ink.shape[1]]
            np.maximum(region, ink[:, :region.shape[1]], out=region)
            x += ink.shape[1] + int(gap * height)
        lines.append(row)
    width = max(row.shape[1] for row in lines)
    spacer = np.zeros((int(line_gap * height), width), dtype=np.float32)
    stacked = [np.pad(row, ((0, 0), (0, width - row.shape[1]))) for row in lines]
    body = np.concatenate([part for row in stacked for part in (row, spacer)][:-1])
    return np.pad(body, margin)


def on_paper(ink: np.ndarray, paper: float = 0.92, pen: float = 0.1) -> np.ndarray:
    """Dark ink on light paper: a grayscale picture (1 = white)."""
    return (paper * (1 - ink) + pen * ink).astype(np.float32)


def as_image(gray: np.ndarray) -> Image.Image:
    return Image.fromarray((np.clip(gray, 0, 1) * 255).astype(np.uint8))
