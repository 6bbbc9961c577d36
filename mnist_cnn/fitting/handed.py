"""MNIST digits the ways users hand digits over: low-resolution scans (16x16, binarized or grey,
fitted in the field or stretched to fill it; 8x8), shown enlarged, thick and thin pens, blur,
JPEG, tiny canvases, drawn again on a canvas and photographed on paper.

The not-a-digit detector is fitted and its threshold calibrated on these, read by the recognizer
itself (``handed_over_inputs``, ``fitting.detector.calibrate``), rather than on clean MNIST
digits: a threshold that keeps 99.9 % of clean MNIST digits rejects several percent of real
ones, which are drawn, scanned and photographed.
"""

import cv2
import numpy as np
import torch

from mnist_cnn.reading.inputs import SIDE
from mnist_cnn.reading.recognizer import Recognizer

KINDS = ("scan", "stretched", "8x8", "thick", "thin", "blur", "jpeg", "tiny", "canvas",
         "photo")


def crop_to_ink(image: np.ndarray) -> np.ndarray:
    """A digit or mark (float, white on black) cropped to its ink (itself when it has none)."""
    rows, cols = np.flatnonzero(image.max(1) > 0.05), np.flatnonzero(image.max(0) > 0.05)
    if not len(rows):
        return image
    return image[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]


def _resize(image: np.ndarray, width: int, height: int, nearest: bool = False) -> np.ndarray:
    method = cv2.INTER_NEAREST if nearest else (
        cv2.INTER_AREA if width < image.shape[1] else cv2.INTER_LINEAR)
    return cv2.resize(image, (max(1, width), max(1, height)), interpolation=method)


def _scaled(image: np.ndarray, factor: float) -> np.ndarray:
    return _resize(image, round(image.shape[1] * factor), round(image.shape[0] * factor))


def _scan(digit: np.ndarray, rng: np.random.Generator, stretched: bool) -> np.ndarray:
    """A 16x16 scan, binarized or grey, shown 1 to 6 times larger: the digit fills the field
    (``stretched`` to it, as some scanners' forms do, or fitted in it), written with MNIST's
    pen or, in a third of them, a bolder one, as forms are often filled in."""
    crop = crop_to_ink(digit)
    if rng.random() < 1 / 3:
        crop = cv2.dilate(np.pad(crop, 1), np.ones((3, 3), np.uint8))
    if stretched:
        low = _resize(crop, 16, 16)
    else:
        scale = 16 / max(crop.shape)
        low = _resize(crop, round(crop.shape[1] * scale), round(crop.shape[0] * scale))
    if rng.random() < 0.5:
        low = (low > rng.uniform(0.25, 0.6) * low.max()).astype(np.float32)
    return _enlarged(low, rng, 6)


def _eight(digit: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """An 8x8 reduction in 17 grey levels (as the UCI and scikit-learn digits are), shown 1
    to 8 times larger."""
    low = _resize(digit, 8, 8)
    return _enlarged(np.round(low / max(float(low.max()), 1e-6) * 16) / 16, rng, 8)


def _enlarged(low: np.ndarray, rng: np.random.Generator, most: int) -> np.ndarray:
    factor = int(rng.integers(1, most + 1))
    return _resize(low, low.shape[1] * factor, low.shape[0] * factor,
                   nearest=rng.random() < 0.5)


def _pen(digit: np.ndarray, rng: np.random.Generator, thicker: bool) -> np.ndarray:
    big = _scaled(digit, 3)
    size = int(rng.integers(3, 8)) if thicker else int(rng.integers(3, 5))
    pen = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))
    changed = cv2.dilate(big, pen) if thicker else cv2.erode(big, pen)
    return changed if changed.max() > 0.5 else big


def _canvas(digit: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The digit drawn again on a canvas, as drawing apps save it: its shape enlarged to 40 to
    200 px tall and cut clean, a pen of its own width, smooth edges, a margin around."""
    crop = crop_to_ink(digit)
    height = int(rng.integers(40, 201))
    big = cv2.resize(crop, (max(1, round(crop.shape[1] * height / crop.shape[0])), height),
                     interpolation=cv2.INTER_CUBIC)
    shape = (big > 0.5).astype(np.uint8)
    steps = round(height * rng.uniform(-0.03, 0.05))
    if steps:
        pen = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * abs(steps) + 1,) * 2)
        thicker = cv2.dilate(shape, pen) if steps > 0 else cv2.erode(shape, pen)
        shape = thicker if thicker.any() else shape
    margin = int(height * rng.uniform(0.15, 0.6))
    return cv2.GaussianBlur(np.pad(shape.astype(np.float32), margin), (0, 0), 0.7)


def _photo(digit: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The digit on paper, photographed: a canvas's drawing (``_canvas``) in grey ink on
    paper of some tone, light falling across it, a little out of focus, grain, JPEG. A
    picture (1 white)."""
    ink = _canvas(digit, rng)
    light = 1 - rng.uniform(0, 0.25) * np.linspace(0, 1, ink.shape[1])[None, :] * rng.choice(
        [-1, 1])
    paper = rng.uniform(0.7, 0.95) * np.clip(light, 0.5, 1.2)
    gray = paper * (1 - ink) + rng.uniform(0.05, 0.35) * ink
    gray = cv2.GaussianBlur(gray.astype(np.float32), (0, 0), float(rng.uniform(0.3, 1.2)))
    gray = np.clip(gray + rng.normal(0, rng.uniform(0.005, 0.03), gray.shape), 0, 1)
    levels = np.round(gray * 255).astype(np.uint8)
    encoded = cv2.imencode(".jpg", levels, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(50, 91))])
    return cv2.imdecode(encoded[1], cv2.IMREAD_GRAYSCALE).astype(np.float32) / 255


def _jpeg(digit: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    big = _scaled(digit, float(rng.uniform(1, 4)))
    paper = (255 * (1 - big)).astype(np.uint8)
    encoded = cv2.imencode(".jpg", paper, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(15, 60))])[1]
    return 1 - cv2.imdecode(encoded, cv2.IMREAD_GRAYSCALE).astype(np.float32) / 255


def handed_over(digit: np.ndarray, kind: str, rng: np.random.Generator) -> np.ndarray:
    """One 28x28 MNIST digit (float, white on black) as a picture of ``kind`` (``KINDS``):
    dark ink on white paper, grayscale with 1 white, as a file holds it."""
    if kind in ("scan", "stretched"):
        picture = _scan(digit, rng, stretched=kind == "stretched")
    elif kind == "8x8":
        picture = _eight(digit, rng)
    elif kind in ("thick", "thin"):
        picture = _pen(digit, rng, kind == "thick")
    elif kind == "blur":
        picture = cv2.GaussianBlur(_scaled(digit, 3), (0, 0), float(rng.uniform(1, 3.5)))
    elif kind == "jpeg":
        picture = _jpeg(digit, rng)
    elif kind == "canvas":
        picture = _canvas(digit, rng)
    elif kind == "photo":
        return _photo(digit, rng)
    else:
        picture = _scaled(crop_to_ink(digit), float(rng.uniform(10, 17)) / 20)
    return (1.0 - np.clip(picture / max(float(picture.max()), 1e-6), 0, 1)).astype(np.float32)


def handed_over_pictures(digits: torch.Tensor, rng: np.random.Generator,
                         kinds: tuple[str, ...] = KINDS) -> list[np.ndarray | None]:
    """MNIST digits (float ``(N, 28, 28)``, white on black), each handed over one of the
    ``kinds`` ways in turn, as the 8-bit grayscale pictures a file would hold (``None`` for a
    blank digit)."""
    pictures: list[np.ndarray | None] = []
    for index, digit in enumerate(digits.numpy()):
        if digit.max() <= 0.05:
            pictures.append(None)
            continue
        picture = handed_over(digit, kinds[index % len(kinds)], rng)
        pictures.append(np.round(picture * 255).astype(np.uint8))
    return pictures


def handed_over_inputs(digits: torch.Tensor, rng: np.random.Generator, reader: Recognizer,
                       kinds: tuple[str, ...] = KINDS) -> torch.Tensor:
    """The inputs ``(N, 28, 28)`` that ``reader`` (a recognizer reading each picture as one
    digit) makes of MNIST digits (float ``(N, 28, 28)``, white on black) handed over one of
    the ``kinds`` ways in turn: its own pipeline, polarity doubt and all. Blank ones stay
    blank."""
    pictures = handed_over_pictures(digits, rng, kinds)
    out = np.zeros((len(digits), SIDE, SIDE), np.float32)
    shown = [index for index, picture in enumerate(pictures) if picture is not None]
    results = reader.read_many([pictures[index] for index in shown], keep_images=len(shown))
    for index, result in zip(shown, results, strict=True):
        marks = result.digits or result.rejected
        if marks and marks[0].network_input is not None:
            out[index] = marks[0].network_input
    return torch.from_numpy(out)
