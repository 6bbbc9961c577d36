"""Is a candidate of a line exactly one whole digit? The segment verifier.

The ConvNet reads a piece of a digit, or two digits run together, as some digit, often
confidently. The verifier looks at what the ConvNet does not see: the candidate in its
surroundings (its ink, and the line's other ink half a line height either side, at 32x32) and
its geometry in the line (size, place, the paper to its neighbours, the strokes a cut crossed),
and says how likely it is each of ``CLASSES``: one whole digit, a piece of one, two digits,
three or more, a stroke joining two digits, or no digit (an underline, a rule, a page's edge, a
speck).

``mnist-train --fit-verifier`` fits it once, in minutes, on the candidates that the project's
own segmentation makes of lines composed from MNIST's training digits (``mnist_cnn.composing``),
each labelled from the pixels' known owners. The package ships one (``mnist_cnn.shipped``); a
refit is saved beside the checkpoint as ``model.verifier.pt``.
"""

import multiprocessing
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from mnist_cnn import shipped
from mnist_cnn.checkpoint import load_sidecar, save_state_dict
from mnist_cnn.composing import JOINING, compose_line
from mnist_cnn.ink import at_pen_scale, find_ink
from mnist_cnn.segmentation import Candidate, Layout, find_candidates
from mnist_cnn.training import fit_network

CLASSES = ("one", "piece", "two", "more", "joining", "none")
ONE, PIECE, TWO, MORE, JOINED, NONE = range(len(CLASSES))
SIDE = 32
"""The context's side in pixels."""
GEOMETRY = 8
"""Numbers describing a candidate's place in its line (``geometry``)."""
WHOLE = 0.85
"""A candidate holding this share of a digit's ink (and no large part of another) is it whole."""
PART = 0.3
"""A digit this share of whose ink a candidate holds, or that makes this share of the
candidate's, counts as in it."""
FIT_LINES = 12_000
FIT_EPOCHS = 4


def geometry(candidate: Candidate) -> np.ndarray:
    """Size, place and surroundings of ``candidate`` in line heights, gaps clipped to [-1, 2]."""
    before, after = (min(max(gap, -1.0), 2.0) for gap in candidate.gaps)
    return np.array([candidate.width, candidate.height, candidate.offset,
                     candidate.offset + candidate.height, before, after,
                     min(candidate.cut_strokes, 6.0), candidate.stop - candidate.start],
                    np.float32)


def context(layout: Layout, index: int) -> np.ndarray:
    """``(2, SIDE, SIDE)``: the candidate's ink and the line's other ink, over the line's height
    and half a line height beyond the candidate on either side, scaled to fit."""
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
    scale = SIDE / max(window.shape[:2])
    size = (max(1, round(window.shape[1] * scale)), max(1, round(height * scale)))
    small = cv2.resize(window, size, interpolation=cv2.INTER_AREA).reshape(size[1], size[0], 2)
    placed = np.zeros((SIDE, SIDE, 2), np.float32)
    top, side = (SIDE - size[1]) // 2, (SIDE - size[0]) // 2
    placed[top:top + size[1], side:side + size[0]] = small
    return placed.transpose(2, 0, 1)


def verifier_inputs(layout: Layout) -> tuple[np.ndarray, np.ndarray]:
    """Every candidate's context and geometry, stacked."""
    count = len(layout.candidates)
    contexts = np.stack([context(layout, i) for i in range(count)]) if count else np.zeros(
        (0, 2, SIDE, SIDE), np.float32)
    shapes = np.stack([geometry(c) for c in layout.candidates]) if count else np.zeros(
        (0, GEOMETRY), np.float32)
    return contexts, shapes


def _block(inputs: int, outputs: int, kernel: int) -> list[nn.Module]:
    return [nn.Conv2d(inputs, outputs, kernel, padding=kernel // 2), nn.BatchNorm2d(outputs),
            nn.ReLU(), nn.MaxPool2d(2)]


class SegmentVerifier(nn.Module):
    """Input: contexts ``(N, 2, 32, 32)`` and geometry ``(N, 8)``; output ``(N, 6)`` logits of
    ``CLASSES``."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(*_block(2, 16, 5), *_block(16, 32, 3), *_block(32, 64, 3))
        self.head = nn.Sequential(nn.Linear(64 * 4 * 4 + GEOMETRY, 96), nn.ReLU(),
                                  nn.Linear(96, len(CLASSES)))

    def forward(self, contexts: torch.Tensor, shapes: torch.Tensor) -> torch.Tensor:
        return self.head(torch.cat([self.features(contexts).flatten(1), shapes], 1))


def label(layout: Layout, owners: np.ndarray) -> np.ndarray:
    """Each candidate's class, from ``owners`` (``composing``: which digit drew each working
    pixel)."""
    totals: dict[int, int] = {}
    for line in layout.lines:
        mine = owners[line.top:line.top + line.height, line.left:line.left + line.ink.shape[1]]
        for code, count in zip(*np.unique(mine[line.owner > 0], return_counts=True), strict=True):
            totals[int(code)] = totals.get(int(code), 0) + int(count)
    labels = np.full(len(layout.candidates), NONE, np.int64)
    for index, candidate in enumerate(layout.candidates):
        line = layout.lines[candidate.line]
        mine = owners[line.top:line.top + line.height, line.left:line.left + line.ink.shape[1]]
        codes, counts = np.unique(mine[(line.owner > candidate.start)
                                       & (line.owner <= candidate.stop)], return_counts=True)
        held = dict(zip(codes.tolist(), counts.tolist(), strict=True))
        size = sum(held.values())
        digits = {code: count for code, count in held.items() if code > 0}
        if sum(digits.values()) < 0.5 * size:
            labels[index] = JOINED if held.get(JOINING, 0) >= 0.5 * size else NONE
            continue
        inside = [code for code, count in digits.items()
                  if count >= PART * totals[code] or count >= PART * size]
        main = max(digits, key=digits.get)
        labels[index] = (MORE if len(inside) > 2 else TWO if len(inside) == 2 else
                         ONE if digits[main] >= WHOLE * totals[main] else PIECE)
    return labels


def _line_samples(job: tuple[list[np.ndarray], int]) -> tuple[np.ndarray, ...]:
    """Contexts, geometry and labels of the candidates of one composed line."""
    images, seed = job
    gray, owners = compose_line(images, np.random.default_rng(seed))
    reduced = at_pen_scale(gray)
    if reduced.shape != gray.shape:
        owners = cv2.resize(owners, reduced.shape[::-1], interpolation=cv2.INTER_NEAREST)
    ink = find_ink(reduced)
    layout = find_candidates(ink, short_path=False) if ink is not None else None
    if layout is None or not layout.candidates:
        return (np.zeros((0, 2, SIDE, SIDE), np.float32), np.zeros((0, GEOMETRY), np.float32),
                np.zeros(0, np.int64))
    return (*verifier_inputs(layout), label(layout, owners))


def samples(images: np.ndarray, lines: int, seed: int,
            workers: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The candidates the segmentation makes of ``lines`` lines composed from ``images``
    (uint8 ``(N, 28, 28)``), with their labels; ``workers`` processes (0: every core)."""
    rng = np.random.default_rng(seed)
    lengths = rng.choice(np.arange(1, 7), lines, p=[0.1, 0.25, 0.25, 0.2, 0.1, 0.1])
    jobs = [([images[i] for i in rng.integers(0, len(images), length)], seed * 1_000_003 + n)
            for n, length in enumerate(lengths)]
    workers = workers or multiprocessing.cpu_count()
    if workers > 1:
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            parts = pool.map(_line_samples, jobs, chunksize=64)
    else:
        parts = list(map(_line_samples, jobs))
    contexts, shapes, labels = (np.concatenate(column) for column in zip(*parts, strict=True))
    return torch.from_numpy(contexts), torch.from_numpy(shapes), torch.from_numpy(labels)


def fit_verifier(images: torch.Tensor, device: torch.device, seed: int = 0,
                 lines: int = FIT_LINES, epochs: int = FIT_EPOCHS) -> SegmentVerifier:
    """Fit a verifier on the candidates of ``lines`` lines composed from ``images`` (uint8
    ``(N, 28, 28)``, MNIST's training digits; at most a line per four images, so that few
    digits come back often). Reproducible for a seed on the CPU."""
    lines = min(lines, max(4, len(images) // 4))
    contexts, shapes, labels = samples(images.cpu().numpy(), lines, seed)
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    verifier = SegmentVerifier().to(device)
    return fit_network(verifier, len(labels), lambda batch: F.cross_entropy(
        verifier(contexts[batch].to(device), shapes[batch].to(device)),
        labels[batch].to(device)), epochs, generator)


def verifier_path(checkpoint: Path) -> Path:
    """``model.ckpt`` -> ``model.verifier.pt``."""
    return Path(checkpoint).with_suffix(".verifier.pt")


def save_verifier(verifier: SegmentVerifier, checkpoint: Path) -> None:
    """Write the verifier's sidecar beside ``checkpoint`` atomically (raises
    ``CheckpointError``; a good file is never replaced by a broken one)."""
    save_state_dict(verifier.state_dict(), verifier_path(checkpoint))


def load_verifier(checkpoint: Path, device: torch.device) -> SegmentVerifier:
    """The verifier beside ``checkpoint`` (``model.verifier.pt``), else the shipped one: it
    does not depend on the ConvNet. Raises ``CheckpointError`` for a sidecar that is there but
    unusable, or a shipped file that does not match its provenance."""
    return load_sidecar(verifier_path(checkpoint), shipped.VERIFIER, SegmentVerifier(),
                        "segment verifier", device)
