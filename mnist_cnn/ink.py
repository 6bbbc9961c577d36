"""Tell the ink from the paper: which side is ink, the paper's level around every pixel, and how
far above the paper's noise a stroke must stand.

The paper's level is estimated locally, by a morphological opening wider than the pen: it follows
uneven light, vignetting and the sharp edge of a shadow, which one global threshold or one smooth
surface cannot. Dark ink on light paper is inverted first, so the result is always MNIST's white
ink on black.
"""

from dataclasses import dataclass

import cv2
import numpy as np

MIN_CONTRAST = 0.08
"""Ink must differ from the paper by this much (of full scale) to count at all..."""
BLANK_NOISE_RATIO = 6
"""... and by this many times the paper's noise level (pure noise rarely reaches 4)."""
SMOOTH_FROM = 48
"""Images at least this large are blurred a little before finding ink, against noise and grain;
smaller ones are usually clean drawings whose thin strokes blurring would fade."""
PEN_SPAN = 6
"""The paper's level is taken over squares this many pen widths wide: wide enough to see past a
stroke crossing or a blot, narrow enough to follow a shadow."""
WEAK = 0.7
"""Hysteresis: ink reaching this share of Otsu's split between faint marks (paper texture, a
cheque's printed pattern) and strokes counts when it touches a stroke."""
NOISE_SAMPLES = 4800
"""Paper pixel pairs sampled to measure the paper's noise: plenty, and fast."""

cv2.setNumThreads(1)  # images here are small: threads cost more than they save, and forked
# worker processes must not inherit a thread pool


@dataclass(frozen=True)
class Ink:
    """The ink of one picture, white on black.

    ``intensity``: float32 in [0, 1], 0 on paper; ``mask``: the pixels that are ink;
    ``stroke``: the typical pen width in pixels.
    """

    intensity: np.ndarray
    mask: np.ndarray
    stroke: float


def otsu_threshold(values: np.ndarray) -> float:
    """The level that best splits ``values`` into two classes (Otsu's method, via OpenCV)."""
    low, high = float(values.min()), float(values.max())
    if high - low < 1e-6:
        return high
    levels = ((values - low) * (255.0 / (high - low))).astype(np.uint8)
    level, _ = cv2.threshold(levels, 0, 255, cv2.THRESH_BINARY | cv2.THRESH_OTSU)
    return low + (level + 0.5) * (high - low) / 255.0


def _border(shape: tuple[int, int]) -> np.ndarray:
    width = max(1, round(0.04 * min(shape)))
    mask = np.ones(shape, dtype=bool)
    mask[width:-width, width:-width] = False
    return mask


def ink_is_dark(gray: np.ndarray) -> bool:
    """Polarity from Otsu's brighter class: the paper covers most of the border.

    A tightly cropped digit can touch the border, so an undecided border defers to whichever
    class covers most of the image.
    """
    bright = gray > otsu_threshold(gray)
    border_share = float(bright[_border(bright.shape)].mean())
    if abs(border_share - 0.5) > 0.15:
        return border_share > 0.5
    return float(bright.mean()) > 0.5


def stroke_width(mask: np.ndarray) -> float:
    """Mean stroke width of a binary drawing: twice its area over its perimeter."""
    area = int(np.count_nonzero(mask))
    if area == 0:
        return 0.0
    edges = (np.count_nonzero(mask[1:] != mask[:-1]) + np.count_nonzero(mask[:, 1:] != mask[:, :-1])
             + np.count_nonzero(mask[0]) + np.count_nonzero(mask[-1])
             + np.count_nonzero(mask[:, 0]) + np.count_nonzero(mask[:, -1]))
    return 2.0 * area / max(edges, 1)


def _odd(value: float) -> int:
    return int(value) // 2 * 2 + 1


def paper_level(image: np.ndarray, pen: float) -> np.ndarray:
    """The paper's level under every pixel of ``image`` (bright ink on darker paper): a grey
    opening with a square wider than the pen, so strokes vanish and lighting stays."""
    size = _odd(min(max(PEN_SPAN * pen, 5), max(5, min(image.shape) / 2)))
    square = cv2.getStructuringElement(cv2.MORPH_RECT, (size, size))
    return cv2.morphologyEx(image, cv2.MORPH_OPEN, square, borderType=cv2.BORDER_REPLICATE)


def _noise(image: np.ndarray, paper: np.ndarray, lag: int) -> float:
    """Noise of the paper: the spread of differences between paper pixels ``lag`` apart (far
    enough to be independent after smoothing), so lighting gradients do not count."""
    every = max(1, image.size // NOISE_SAMPLES)
    pairs = paper[::every, lag:] & paper[::every, :-lag]
    differences = np.abs(image[::every, lag:] - image[::every, :-lag])[pairs]
    spread = 1.4826 / 2**0.5 * float(np.median(differences)) if differences.size else 0.0
    return spread + 1e-3


def _keep_seeded(weak: np.ndarray, strong: np.ndarray) -> np.ndarray:
    """Hysteresis: the connected parts of ``weak`` that hold at least one ``strong`` pixel."""
    count, labels = cv2.connectedComponents(weak.view(np.uint8), connectivity=8)
    seeded = np.zeros(count, dtype=bool)
    seeded[labels[strong & weak]] = True
    seeded[0] = False
    return seeded[labels]


def find_ink(gray: np.ndarray) -> Ink | None:
    """The ink of a grayscale picture (1 = white), or ``None`` when nothing stands out."""
    gray = np.asarray(gray, dtype=np.float32)
    if gray.ndim != 2 or min(gray.shape) < 1:
        return None
    if min(gray.shape) < 3:
        gray = np.pad(gray, 2, mode="edge")
    lag = 3 if min(gray.shape) >= SMOOTH_FROM else 1
    smooth = cv2.GaussianBlur(gray, (3, 3), 0.8) if lag == 3 else gray
    if ink_is_dark(smooth):
        gray, smooth = 1.0 - gray, 1.0 - smooth
    rough = smooth > otsu_threshold(smooth)
    level = paper_level(smooth, stroke_width(rough))
    contrast = smooth - level
    near_ink = cv2.dilate(rough.view(np.uint8), np.ones((3, 3), np.uint8)).view(bool)
    noise = _noise(smooth, ~near_ink, lag)
    peak = float(contrast.max())
    if peak < max(MIN_CONTRAST, BLANK_NOISE_RATIO * noise):
        return None
    low, high = max(0.15 * peak, 3 * noise), 0.6 * peak
    split = otsu_threshold(contrast[contrast >= low])
    weak = max(low, WEAK * split)
    mask = _keep_seeded(contrast >= weak, contrast >= max(split, 5 * noise))
    intensity = np.clip((gray - level - low) / (high - low), 0.0, 1.0)
    intensity[~mask] = 0.0
    if not intensity.any():
        return None
    return Ink(intensity, mask, stroke_width(mask))
