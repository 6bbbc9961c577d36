"""Lines of handwriting composed from MNIST training digits, with every pixel's owner known:
what the segment verifier is fitted on (``fitting.verifier``).

A line is 1 to 6 digits of one writer's size, each a little larger or smaller and higher or
lower, placed from overlapping to widely spaced; some strokes broken by a faint pen, some digits
joined by a connecting stroke; and beside the writing what real numbers have: an underline,
printed rules, a vertical rule or the dark edge of a page, specks. Then other pens, some lines
coarsened like a low-resolution scan (``coarse``), paper, light and noise.
``owners`` says for each pixel which digit drew it (1..n), or whether it is a joining stroke
(``JOINING``), other ink (``OTHER``) or paper (0), so the candidates that the segmentation makes
of the picture can be labelled (``verifier.label``).
"""

import itertools

import cv2
import numpy as np

JOINING = -1
OTHER = -2
OWNED = 0.25
"""A pixel belongs to the layer that inks it most, when that layer inks it this much at least."""


def _digit(image: np.ndarray, height: int) -> np.ndarray:
    """A uint8 MNIST digit cropped to its ink and scaled to ``height`` px, float in [0, 1]."""
    rows, cols = np.flatnonzero(image.max(1)), np.flatnonzero(image.max(0))
    crop = image[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1].astype(np.float32) / 255
    width = max(1, round(crop.shape[1] * height / crop.shape[0]))
    return cv2.resize(crop, (width, height), interpolation=cv2.INTER_LINEAR)


def _break(digit: np.ndarray, pen: int, rng: np.random.Generator) -> np.ndarray:
    """The digit with a band across it erased: a stroke broken by a faint pen."""
    digit = digit.copy()
    rows, cols = digit.shape
    if rng.random() < 0.5:
        at = int(rng.integers(rows // 5, max(rows // 5 + 1, 4 * rows // 5)))
        digit[at:at + pen] = 0
    else:
        at = int(rng.integers(cols // 5, max(cols // 5 + 1, 4 * cols // 5)))
        digit[:, at:at + pen] = 0
    return digit


def compose_line(images: list[np.ndarray],
                 rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """A grayscale picture (float32, 1 = white) of a line written with ``images`` (uint8 MNIST
    digits), and its ``owners`` (int16, same shape)."""
    height = int(rng.integers(20, 64))
    pen = max(1, round(0.09 * height))
    digits = []
    for image in images:
        digit = _digit(image, max(8, round(height * rng.uniform(0.8, 1.15))))
        if rng.random() < 0.12:
            digit = _break(digit, max(1, pen // 2), rng)
        digits.append((digit, round(height * rng.uniform(-0.1, 0.1))))
    gaps = [round(height * (rng.uniform(-0.25, 0.05) if rng.random() < 0.35
                            else rng.uniform(0.0, 0.6))) for _ in digits[1:]]
    margin = [round(height * rng.uniform(0.3, 1.5)) for _ in range(4)]
    width = sum(d.shape[1] for d, _ in digits) + sum(gaps) + margin[0] + margin[1]
    rows = round(1.4 * height) + margin[2] + margin[3]
    layers = np.zeros((len(digits) + 2, rows, max(width, 8)), np.float32)
    boxes = []
    x = margin[0]
    for index, (digit, shift) in enumerate(digits):
        top = margin[2] + round(0.2 * height) + shift + (height - digit.shape[0]) // 2
        region = layers[index, top:top + digit.shape[0], x:x + digit.shape[1]]
        region[...] = digit[:region.shape[0], :region.shape[1]]
        boxes.append((x, top, digit.shape[1], digit.shape[0]))
        x += digit.shape[1] + (gaps[index] if index < len(gaps) else 0)
    joining, other = layers[-2], layers[-1]
    for (x0, y0, w0, h0), (x1, y1, _, h1) in itertools.pairwise(boxes):
        if rng.random() < 0.12:  # a connecting stroke from one digit's foot to the next
            start = (x0 + int(w0 * rng.uniform(0.6, 0.95)), y0 + int(h0 * rng.uniform(0.75, 1.0)))
            end = (x1 + int(0.15 * h1), y1 + int(h1 * rng.uniform(0.55, 0.95)))
            cv2.line(joining, start, end, 1.0, pen, cv2.LINE_AA)
    _distractors(other, boxes, height, pen, rng)
    owners = np.zeros(layers.shape[1:], np.int16)
    strongest = layers.argmax(0)
    codes = np.r_[np.arange(1, len(digits) + 1), JOINING, OTHER].astype(np.int16)
    inked = layers.max(0)
    owners[inked >= OWNED] = codes[strongest[inked >= OWNED]]
    ink = np.clip(inked, 0, 1)
    if rng.random() < 0.3:
        kernel = np.ones((3, 3), np.uint8)
        ink = cv2.dilate(ink, kernel) if rng.random() < 0.6 else cv2.erode(ink, kernel)
    if rng.random() < 0.3:
        ink = coarse(ink, height, rng)
    paper = rng.uniform(0.7, 1.0) * (1 - rng.uniform(0, 0.3) * np.linspace(0, 1, ink.shape[1]))
    picture = paper[None, :] * (1 - ink) + rng.uniform(0.0, 0.3) * ink
    picture += rng.normal(0, rng.uniform(0, 0.03), picture.shape)
    return np.clip(picture, 0, 1).astype(np.float32), owners


def coarse(ink: np.ndarray, height: int, rng: np.random.Generator) -> np.ndarray:
    """``ink`` as a low-resolution scan shows it: its writing ``height`` px tall brought down
    to 8-18 px, binarized or not, and shown at the old size again, blocky or smooth."""
    factor = rng.uniform(8, 18) / height
    if factor >= 1:
        return ink
    size = (max(1, round(ink.shape[1] * factor)), max(1, round(ink.shape[0] * factor)))
    small = cv2.resize(ink, size, interpolation=cv2.INTER_AREA)
    if rng.random() < 0.5:
        small = (small > rng.uniform(0.25, 0.5)).astype(np.float32)
    method = cv2.INTER_NEAREST if rng.random() < 0.5 else cv2.INTER_LINEAR
    return cv2.resize(small, ink.shape[::-1], interpolation=method)


def _distractors(layer: np.ndarray, boxes: list[tuple[int, int, int, int]], height: int,
                 pen: int, rng: np.random.Generator) -> None:
    """Ink beside the writing that is no digit, drawn into ``layer``."""
    rows, cols = layer.shape
    left = min(x for x, _, _, _ in boxes)
    right = max(x + w for x, _, w, _ in boxes)
    bottom = max(y + h for _, y, _, h in boxes)
    if rng.random() < 0.25:  # an underline, touching the digits or not
        y = bottom + int(height * rng.uniform(-0.05, 0.25))
        tilt = int(height * rng.uniform(-0.1, 0.1))
        cv2.line(layer, (left - int(0.2 * height), y), (right + int(0.2 * height), y + tilt),
                 1.0, max(1, pen - int(rng.integers(0, 2))), cv2.LINE_AA)
    if rng.random() < 0.15:  # printed rules across the page
        level = rng.uniform(0.3, 0.8)
        for y in np.arange(rng.uniform(0, height), rows, height * rng.uniform(1.1, 1.6)):
            layer[int(y):int(y) + 1] = np.maximum(layer[int(y):int(y) + 1], level)
    if rng.random() < 0.25:  # a vertical rule beside the number, or a page's dark edge
        side = rng.random() < 0.5
        if rng.random() < 0.5:
            gap = int(height * rng.uniform(0.05, 0.8))
            x = left - gap if side else right + gap
            if 0 <= x < cols:
                layer[:, x:x + int(rng.integers(1, pen + 2))] = rng.uniform(0.5, 1.0)
        else:
            edge = int(height * rng.uniform(0.2, 1.0))
            layer[:, :edge] = 1.0 if side else layer[:, :edge]
            layer[:, cols - edge:] = layer[:, cols - edge:] if side else 1.0
    for _ in range(int(rng.integers(0, 4)) if rng.random() < 0.2 else 0):  # specks
        y, x = int(rng.integers(0, rows)), int(rng.integers(0, cols))
        cv2.circle(layer, (x, y), int(rng.integers(1, max(2, pen))), 1.0, -1)
