"""Read two touching or overlapping digits whole: the pair reader.

Where two digits touch or overlap, no cut parts them cleanly, and each side of any cut reads as
something else. The pair reader reads the run of ink whole as one of the 100 pairs "00" to "99",
as one digit alone (``ONE_DIGIT``), as three or more (``MORE``), or as no digits at all
(``NOT_DIGITS``: a doodle is not two digits); the line's search
(``mnist_cnn.scoring``) weighs a pair against reading the run as one digit or cutting it, with
the segment verifier's belief that it holds exactly two digits. ``mnist-train --fit-verifier``
fits it once, beside the verifier, on pairs of MNIST's training digits set from just apart to
overlapping by a third of their height, each a little larger or smaller and higher or lower, on
single digits as wide as a pair, on triples and on marks that are no digits (``outliers.marks``),
with thicker and thinner pens and some coarsened like a low-resolution scan.
"""

from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from mnist_cnn import shipped
from mnist_cnn.checkpoint import load_sidecar, save_state_dict
from mnist_cnn.composing import coarse
from mnist_cnn.outliers import marks
from mnist_cnn.strokes import Glyph
from mnist_cnn.strokes import characters as stroke_characters
from mnist_cnn.training import fit_network

HEIGHT, WIDTH = 28, 56
"""The pair's input: its ink scaled to ``BOX`` and centred in this field."""
BOX = (20, 48)
ONE_DIGIT, MORE, NOT_DIGITS = 100, 101, 102
"""The classes of a run that is one digit alone, three digits or more, and marks that are no
digits (letters, signs, doodles, alone or two side by side)."""
FIT_PAIRS = 60_000
"""Pairs the reader is fitted on, with a fifth as many single digits, triples and marks that
are no digits."""
FIT_EPOCHS = 4


def pair_input(ink: np.ndarray) -> np.ndarray:
    """``(HEIGHT, WIDTH)`` float32 from a run of ink (white on black): cropped to the ink,
    scaled to fit ``BOX`` and centred; blank for no ink."""
    canvas = np.zeros((HEIGHT, WIDTH), np.float32)
    rows, cols = np.flatnonzero(ink.max(1) > 0.05), np.flatnonzero(ink.max(0) > 0.05)
    if not len(rows):
        return canvas
    crop = np.ascontiguousarray(ink[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1], np.float32)
    scale = min(BOX[0] / crop.shape[0], BOX[1] / crop.shape[1])
    size = (max(1, round(crop.shape[1] * scale)), max(1, round(crop.shape[0] * scale)))
    small = cv2.resize(crop, size, interpolation=cv2.INTER_AREA if scale < 1 else
                       cv2.INTER_LINEAR)
    top, left = (HEIGHT - size[1]) // 2, (WIDTH - size[0]) // 2
    canvas[top:top + size[1], left:left + size[0]] = small / max(float(small.max()), 1e-6)
    return canvas


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


def _block(inputs: int, outputs: int) -> list[nn.Module]:
    return [nn.Conv2d(inputs, outputs, 3, padding=1), nn.BatchNorm2d(outputs), nn.ReLU(),
            nn.MaxPool2d(2)]


class PairReader(nn.Module):
    """Input ``(N, 1, 28, 56)`` (``pair_input``); output ``(N, 103)`` logits of the pairs
    "00" to "99", ``ONE_DIGIT``, ``MORE`` and ``NOT_DIGITS``."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(*_block(1, 24), *_block(24, 48), *_block(48, 64))
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(64 * 3 * 7, 160), nn.ReLU(),
                                  nn.Linear(160, NOT_DIGITS + 1))

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(inputs))


def fit_pair_reader(images: torch.Tensor, labels: torch.Tensor, device: torch.device,
                    seed: int = 0, count: int = FIT_PAIRS, epochs: int = FIT_EPOCHS,
                    characters: list[Glyph] | None = None) -> PairReader:
    """Fit a pair reader on ``count`` pairs written with ``images`` (uint8 ``(N, 28, 28)``,
    MNIST's training digits, with their ``labels``; at most a pair per image) and the rest of
    ``pairs`` (``characters``: default the non-digits of ``strokes.characters()``, KanjiVG and
    the Hershey fonts). Reproducible for a seed on the CPU."""
    count = min(count, len(images))
    characters = characters if characters is not None else stroke_characters()[1]
    inputs, classes = pairs(images.cpu().numpy(), labels.cpu().numpy(), count, seed,
                            characters)
    inputs = inputs.unsqueeze(1)
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    reader = PairReader().to(device)
    return fit_network(reader, len(classes), lambda batch: F.cross_entropy(
        reader(inputs[batch].to(device)), classes[batch].to(device)), epochs, generator)


def pair_reader_path(checkpoint: Path) -> Path:
    """``model.ckpt`` -> ``model.pairs.pt``."""
    return Path(checkpoint).with_suffix(".pairs.pt")


def save_pair_reader(reader: PairReader, checkpoint: Path) -> None:
    """Write the pair reader's sidecar beside ``checkpoint`` atomically (raises
    ``CheckpointError``; a good file is never replaced by a broken one)."""
    save_state_dict(reader.state_dict(), pair_reader_path(checkpoint))


def load_pair_reader(checkpoint: Path, device: torch.device) -> PairReader:
    """The pair reader beside ``checkpoint`` (``model.pairs.pt``), else the shipped one.
    Raises ``CheckpointError`` for a sidecar that is there but unusable, or a shipped file that
    does not match its provenance."""
    return load_sidecar(pair_reader_path(checkpoint), shipped.PAIRS, PairReader(),
                        "pair reader", device)
