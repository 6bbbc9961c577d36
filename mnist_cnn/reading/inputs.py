"""What the networks read of each candidate: its 28x28 input, its context and geometry in the
line, and its ink as a pair.

The ConvNet's and the detector's input (``normalize``): MNIST digits are white on black, cropped
to the ink, scaled so the longer side is 20 px and placed so their centre of mass sits at the
centre of a 28x28 field; ``normalize`` repeats those steps, and brings very thin or very thick
pens towards MNIST's stroke width first. The segment verifier's (``context``, ``geometry``):
the candidate in its surroundings and its place in the line. The pair reader's
(``pair_input``): the candidate's ink whole, in a field twice as wide.
"""

from dataclasses import dataclass

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from mnist_cnn.networks.pairs import HEIGHT, WIDTH
from mnist_cnn.networks.verifier import CONTEXT
from mnist_cnn.reading.ink import stroke_width
from mnist_cnn.reading.layout import Candidate, Layout

SIDE = 28
DIGIT_BOX = 20
MNIST_STROKE = 1.9
"""Typical stroke width of an MNIST digit in the 28x28 field, by ``stroke_width``."""
MNIST_CENTRE = np.array([14.0, 14.0])
"""Mean centre of mass of the MNIST test digits, in (row, column) pixel indices."""
PAIR_BOX = (20, 48)
"""The pair reader's input: its ink scaled to fit this box, centred in its field."""
GAP_RANGE = (-1.0, 2.0)
"""The paper to a candidate's neighbours, in line heights, is clipped to this range..."""
MOST_CUT_STROKES = 6.0
"""... and the strokes its cuts crossed to this many."""


def _ink_bounds(profile: np.ndarray) -> tuple[int, int]:
    """Index range holding the ink, ignoring a thin tail of stray specks at either end."""
    cumulative = np.cumsum(profile)
    total = cumulative[-1]
    start = int(np.searchsorted(cumulative, 0.003 * total, side="right"))
    stop = int(np.searchsorted(cumulative, 0.997 * total, side="left")) + 1
    return start, max(stop, start + 1)


def _trim(digit: np.ndarray) -> np.ndarray:
    """Crop to the non-zero pixels (after thickening or thinning moved the edges)."""
    rows = np.flatnonzero(digit.max(1) > 0.01)
    cols = np.flatnonzero(digit.max(0) > 0.01)
    if not len(rows):
        return digit
    return digit[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]


def _resize_long_side(digit: np.ndarray, side: int) -> np.ndarray:
    """Area-averaged when shrinking, bilinear when enlarging, as MNIST's digits were made."""
    scale = side / max(digit.shape)
    height, width = (max(1, round(length * scale)) for length in digit.shape)
    method = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    return cv2.resize(np.ascontiguousarray(digit, dtype=np.float32), (width, height),
                      interpolation=method)


def _place_by_mass(digit: np.ndarray) -> np.ndarray:
    """Paste ``digit`` into 28x28 so its centre of mass lands on MNIST's centre."""
    height, width = digit.shape
    mass = digit.sum()
    centre = np.array([digit.sum(1) @ np.arange(height), digit.sum(0) @ np.arange(width)]) / mass
    top, left = np.rint(MNIST_CENTRE - centre).astype(int).tolist()
    top = min(max(top, 0), SIDE - height)
    left = min(max(left, 0), SIDE - width)
    canvas = np.zeros((SIDE, SIDE), dtype=np.float32)
    canvas[top:top + height, left:left + width] = digit
    return canvas


def normalize(ink: np.ndarray) -> np.ndarray | None:
    """MNIST-style 28x28 input from one digit's ink (float, white on black, 0 = paper);
    ``None`` if there is none."""
    ink = np.asarray(ink, dtype=np.float32)
    if ink.ndim != 2 or not ink.any():
        return None
    top, bottom = _ink_bounds(ink.sum(1))
    left, right = _ink_bounds(ink.sum(0))
    crop = ink[top:bottom, left:right]
    width = stroke_width(crop > 0.5) * DIGIT_BOX / max(crop.shape)
    digit = _resize_long_side(crop, 2 * DIGIT_BOX)
    if width and (width < 0.6 * MNIST_STROKE or width > 2.0 * MNIST_STROKE):
        steps = min(round(abs(MNIST_STROKE - width)), 3)
        pen = np.ones((2 * steps + 1, 2 * steps + 1), np.uint8)
        padded = np.pad(digit, steps + 1)
        digit = _trim(cv2.dilate(padded, pen) if width < MNIST_STROKE else cv2.erode(padded, pen))
    digit = np.clip(_resize_long_side(digit, DIGIT_BOX), 0, None)
    if digit.max() <= 0:
        return None
    return _place_by_mass(digit / digit.max())


def normalize_batch(images: torch.Tensor) -> torch.Tensor:
    """MNIST's normalization for a batch of ink images ``(N, H, W)`` (white on black): crop to
    the ink, long side to 20 px, centre of mass to the field's centre. Blank images stay
    blank."""
    count, height, width = images.shape
    ink = images > 0.05
    rows, cols = ink.any(2), ink.any(1)
    span = torch.arange(height, device=images.device), torch.arange(width, device=images.device)
    top = torch.where(rows, span[0], height).amin(1)
    bottom = torch.where(rows, span[0], -1).amax(1)
    left = torch.where(cols, span[1], width).amin(1)
    right = torch.where(cols, span[1], -1).amax(1)
    size = torch.maximum(bottom - top + 1, right - left + 1).clamp(min=1).float()
    scale = DIGIT_BOX / size
    mass = images.sum((1, 2)).clamp(min=1e-6)
    centre_y = (images.sum(2) * span[0]).sum(1) / mass
    centre_x = (images.sum(1) * span[1]).sum(1) / mass
    # Output pixel (i, j) samples the input at centre + ((i, j) - MNIST centre) / scale.
    theta = torch.zeros(count, 2, 3, device=images.device)
    theta[:, 0, 0] = SIDE / (scale * width)
    theta[:, 1, 1] = SIDE / (scale * height)
    theta[:, 0, 2] = (2 * (centre_x + 0.5) / width - 1) - (
        2 * (float(MNIST_CENTRE[1]) + 0.5) / SIDE - 1) * theta[:, 0, 0]
    theta[:, 1, 2] = (2 * (centre_y + 0.5) / height - 1) - (
        2 * (float(MNIST_CENTRE[0]) + 0.5) / SIDE - 1) * theta[:, 1, 1]
    grid = F.affine_grid(theta, [count, 1, SIDE, SIDE], align_corners=False)
    out = F.grid_sample(images.unsqueeze(1), grid, align_corners=False).squeeze(1)
    peak = out.amax((1, 2), keepdim=True).clamp(min=1e-6)
    return (out / peak).clamp(0, 1)


def plain_input(gray: np.ndarray) -> np.ndarray:
    """The reference's transform: resize to 28x28, invert, scale to [0, 1]. No cropping."""
    image = Image.fromarray(np.asarray(gray, dtype=np.float32), mode="F")
    if image.size != (SIDE, SIDE):
        image = image.resize((SIDE, SIDE), Image.Resampling.BILINEAR)
    return np.clip(1.0 - np.asarray(image, dtype=np.float32), 0.0, 1.0)


def geometry(candidate: Candidate) -> np.ndarray:
    """Size, place and surroundings of ``candidate`` in line heights (``GEOMETRY`` numbers)."""
    before, after = (min(max(gap, GAP_RANGE[0]), GAP_RANGE[1]) for gap in candidate.gaps)
    return np.array([candidate.width, candidate.height, candidate.offset,
                     candidate.offset + candidate.height, before, after,
                     min(candidate.cut_strokes, MOST_CUT_STROKES),
                     candidate.stop - candidate.start], np.float32)


def context(layout: Layout, index: int) -> np.ndarray:
    """``(2, CONTEXT, CONTEXT)``: the candidate's ink and the line's other ink, over the line's
    height and half a line height beyond the candidate on either side, scaled to fit."""
    candidate = layout.candidates[index]
    line = layout.lines[candidate.line]
    height = line.height
    reach = height // 2
    left = candidate.box[0] - line.left - reach
    right = candidate.box[0] - line.left + candidate.box[2] + reach
    window = np.zeros((height, right - left, 2), np.float32)
    low, high = max(left, 0), min(right, line.ink.shape[1])
    owner, ink = line.owner[:, low:high], line.ink[:, low:high]
    mine = (owner > candidate.start) & (owner <= candidate.stop)
    window[:, low - left:high - left, 0] = np.where(mine, ink, 0)
    window[:, low - left:high - left, 1] = np.where(mine, 0, ink)
    scale = CONTEXT / max(window.shape[:2])
    size = (max(1, round(window.shape[1] * scale)), max(1, round(height * scale)))
    small = cv2.resize(window, size, interpolation=cv2.INTER_AREA).reshape(size[1], size[0], 2)
    placed = np.zeros((CONTEXT, CONTEXT, 2), np.float32)
    top, side = (CONTEXT - size[1]) // 2, (CONTEXT - size[0]) // 2
    placed[top:top + size[1], side:side + size[0]] = small
    return placed.transpose(2, 0, 1)


def pair_input(ink: np.ndarray) -> np.ndarray:
    """``(HEIGHT, WIDTH)`` float32 from a run of ink (white on black): cropped to the ink,
    scaled to fit ``PAIR_BOX`` and centred; blank for no ink."""
    canvas = np.zeros((HEIGHT, WIDTH), np.float32)
    rows, cols = np.flatnonzero(ink.max(1) > 0.05), np.flatnonzero(ink.max(0) > 0.05)
    if not len(rows):
        return canvas
    crop = np.ascontiguousarray(ink[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1], np.float32)
    scale = min(PAIR_BOX[0] / crop.shape[0], PAIR_BOX[1] / crop.shape[1])
    size = (max(1, round(crop.shape[1] * scale)), max(1, round(crop.shape[0] * scale)))
    small = cv2.resize(crop, size, interpolation=cv2.INTER_AREA if scale < 1 else
                       cv2.INTER_LINEAR)
    top, left = (HEIGHT - size[1]) // 2, (WIDTH - size[0]) // 2
    canvas[top:top + size[1], left:left + size[0]] = small / max(float(small.max()), 1e-6)
    return canvas


@dataclass(frozen=True)
class Inputs:
    """What the networks read of a picture's candidates: ``digits`` ``(N, 28, 28)`` (the
    ConvNet's and the detector's); where the picture was searched for digits, the verifier's
    ``contexts`` ``(N, 2, 32, 32)`` and ``shapes`` ``(N, 8)`` and the pair reader's ``pairs``
    ``(N, 28, 56)`` (blank for a candidate of several marks: it reads only digits run
    together), its ``whole`` writing as one 28x28 input, and each candidate's ink ``masses``
    ``(N,)``, to judge the picture as a whole (``scoring.WHOLE_FEATURES``), else ``None``."""

    digits: np.ndarray
    contexts: np.ndarray | None = None
    shapes: np.ndarray | None = None
    pairs: np.ndarray | None = None
    whole: np.ndarray | None = None
    masses: np.ndarray | None = None

    @property
    def searched(self) -> bool:
        return self.contexts is not None


def make_inputs(layout: Layout) -> Inputs | None:
    """Every candidate's inputs (``Inputs``; a candidate with no ink reads as a blank 28x28),
    or ``None`` when no candidate has ink."""
    digits = [normalize(crop) for crop in layout.inks]
    if not layout.candidates or all(pixels is None for pixels in digits):
        return None
    stacked = np.stack([np.zeros((SIDE, SIDE), np.float32) if pixels is None else pixels
                        for pixels in digits])
    if not layout.lines:
        return Inputs(stacked)
    count = len(layout.candidates)
    pairs = np.zeros((count, HEIGHT, WIDTH), np.float32)
    for index, (candidate, ink) in enumerate(zip(layout.candidates, layout.inks, strict=True)):
        if candidate.marks == 1:
            pairs[index] = pair_input(ink)
    contexts = np.stack([context(layout, i) for i in range(count)])
    shapes = np.stack([geometry(c) for c in layout.candidates])
    whole = normalize(writing(layout))
    masses = np.array([float(ink.sum()) for ink in layout.inks], np.float32)
    return Inputs(stacked, contexts, shapes, pairs,
                  np.zeros((SIDE, SIDE), np.float32) if whole is None else whole, masses)


def writing(layout: Layout) -> np.ndarray:
    """All the writing of a searched picture's lines in one picture (white on black): what the
    picture shows as one mark."""
    top = min(line.top for line in layout.lines)
    left = min(line.left for line in layout.lines)
    bottom = max(line.top + line.height for line in layout.lines)
    right = max(line.left + line.ink.shape[1] for line in layout.lines)
    canvas = np.zeros((bottom - top, right - left), np.float32)
    for line in layout.lines:
        region = canvas[line.top - top:line.top - top + line.height,
                        line.left - left:line.left - left + line.ink.shape[1]]
        np.maximum(region, line.ink, out=region)
    return canvas
