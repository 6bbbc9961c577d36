"""Fit the pair reader (``networks.pairs``) on touching and overlapping pairs of digits.

``mnist-train --fit-verifier`` fits it once, beside the verifier, on pairs of MNIST's training
digits set from just apart to overlapping by a third of their height, each a little larger or
smaller and higher or lower, on single digits as wide as a pair, on triples and on marks that
are no digits (``outliers.marks``), with thicker and thinner pens and some coarsened like a
low-resolution scan, each read as reading reads a run of ink (``inputs.pair_input``).
"""

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from mnist_cnn.fitting.composing import coarse
from mnist_cnn.fitting.loop import fit_network
from mnist_cnn.fitting.outliers import marks
from mnist_cnn.fitting.strokes import Glyph
from mnist_cnn.fitting.strokes import characters as stroke_characters
from mnist_cnn.networks.pairs import MORE, NOT_DIGITS, ONE_DIGIT, PairReader
from mnist_cnn.reading.inputs import pair_input

FIT_PAIRS = 60_000
"""Pairs the reader is fitted on, with a fifth as many single digits, triples and marks that
are no digits."""
FIT_EPOCHS = 4


def _written(images: list[np.ndarray], rng: np.random.Generator) -> np.ndarray:
    """Marks (float, white on black, in [0, 1]) written side by side, touching or overlapping,
    as ink."""
    height = 40
    canvas = np.zeros((2 * height, 4 * height * len(images)), np.float32)
    right = 0
    for image in images:
        rows, cols = np.flatnonzero(image.max(1) > 0.05), np.flatnonzero(image.max(0) > 0.05)
        crop = image[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
        tall = round(height * rng.uniform(0.85, 1.15))
        ink = cv2.resize(crop, (max(1, round(crop.shape[1] * tall / crop.shape[0])), tall))
        left = max(0, right + round(height * rng.uniform(-0.35, 0.08))) if right else 0
        top = (2 * height - tall) // 2 + round(height * rng.uniform(-0.12, 0.12))
        region = canvas[top:top + tall, left:left + ink.shape[1]]
        np.maximum(region, ink[:region.shape[0], :region.shape[1]], out=region)
        right = max(right, left + ink.shape[1])
    return _pen(canvas[:, :right + 2], height, rng)


def _pen(ink: np.ndarray, height: int, rng: np.random.Generator) -> np.ndarray:
    if rng.random() < 0.3:
        kernel = np.ones((3, 3), np.uint8)
        ink = cv2.dilate(ink, kernel) if rng.random() < 0.6 else cv2.erode(ink, kernel)
    return coarse(ink, height, rng) if rng.random() < 0.25 else ink


def _wide(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One mark (float, white on black) written up to twice as wide, as ink."""
    height = 40
    rows, cols = np.flatnonzero(image.max(1) > 0.05), np.flatnonzero(image.max(0) > 0.05)
    crop = image[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    width = max(1, round(crop.shape[1] * height / crop.shape[0] * rng.uniform(1.0, 2.0)))
    return _pen(np.pad(cv2.resize(crop, (width, height)), 4), height, rng)


def pairs(images: np.ndarray, labels: np.ndarray, count: int, seed: int,
          characters: list[Glyph]) -> tuple[torch.Tensor, torch.Tensor]:
    """``count`` pair inputs written with ``images`` (uint8 ``(N, 28, 28)``) and their classes
    (10 x first digit + second), then a fifth as many single digits (``ONE_DIGIT``), triples
    (``MORE``) and marks that are no digits, alone or two side by side (``NOT_DIGITS``; half of
    them ``characters`` of stroke data, see ``outliers.marks``)."""
    rng = np.random.default_rng(seed)
    digits = images.astype(np.float32) / 255
    chosen = rng.integers(0, len(images), (count, 2))
    alone = rng.integers(0, len(images), count // 5)
    triples = rng.integers(0, len(images), (count // 5, 3))
    others = marks(3 * (count // 10), characters, seed).numpy()
    half = count // 10
    inputs = np.stack([pair_input(_written([digits[a], digits[b]], rng)) for a, b in chosen]
                      + [pair_input(_wide(digits[a], rng)) for a in alone]
                      + [pair_input(_written(list(digits[t]), rng)) for t in triples]
                      + [pair_input(_wide(mark, rng)) for mark in others[:half]]
                      + [pair_input(_written([first, second], rng))
                         for first, second in zip(others[half::2], others[half + 1::2],
                                                  strict=False)])
    classes = np.r_[10 * labels[chosen[:, 0]].astype(np.int64) + labels[chosen[:, 1]],
                    np.full(len(alone), ONE_DIGIT), np.full(len(triples), MORE),
                    np.full(len(inputs) - count - len(alone) - len(triples), NOT_DIGITS)]
    return torch.from_numpy(inputs), torch.from_numpy(classes)


def fit_pair_reader(images: torch.Tensor, labels: torch.Tensor, device: torch.device,
                    seed: int = 0, count: int = FIT_PAIRS, epochs: int = FIT_EPOCHS,
                    characters: list[Glyph] | None = None) -> PairReader:
    """Fit a pair reader on ``count`` pairs written with ``images`` (uint8 ``(N, 28, 28)``,
    MNIST's training digits, with their ``labels``; at most a pair per image) and the rest of
    ``pairs`` (``characters``: default the non-digits of ``strokes.characters()``, KanjiVG and
    the Hershey fonts). Reproducible for a seed on the CPU."""
    count = min(count, len(images))
    if characters is None:
        _, letters, others = stroke_characters()
        characters = letters + others
    inputs, classes = pairs(images.cpu().numpy(), labels.cpu().numpy(), count, seed,
                            characters)
    inputs = inputs.unsqueeze(1)
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    reader = PairReader().to(device)
    return fit_network(reader, len(classes), lambda batch: F.cross_entropy(
        reader(inputs[batch].to(device)), classes[batch].to(device)), epochs, generator)
