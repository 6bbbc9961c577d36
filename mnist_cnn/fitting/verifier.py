"""Fit the segment verifier (``networks.verifier``) on the candidates of composed lines.

``mnist-train --fit-verifier`` fits it once, in minutes, on the candidates that the reading
pipeline itself (``pipeline.prepare``) makes of lines composed from MNIST's training digits
(``composing``), each labelled from the pixels' known owners. The package ships one
(``networks.registry``); a refit is saved beside the checkpoint as ``model.verifier.pt``.
"""

import multiprocessing

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from mnist_cnn.fitting.composing import JOINING, compose_line
from mnist_cnn.fitting.loop import fit_network
from mnist_cnn.networks.verifier import (
    CONTEXT,
    GEOMETRY,
    JOINED,
    MORE,
    NONE,
    ONE,
    PIECE,
    TWO,
    SegmentVerifier,
)
from mnist_cnn.reading.layout import Layout
from mnist_cnn.reading.pipeline import Options, prepare

WHOLE = 0.85
"""A candidate holding this share of a digit's ink (and no large part of another) is it whole."""
PART = 0.3
"""A digit this share of whose ink a candidate holds, or that makes this share of the
candidate's, counts as in it."""
FIT_LINES = 12_000
FIT_EPOCHS = 4
SEARCHED = Options(search=True)
"""Composed lines are searched for digits even where a line is one digit, which reading takes
whole: the verifier learns what a whole digit looks like in its line too."""


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
    """Contexts, geometry and labels of the candidates of one composed line, as the reading
    pipeline makes them (``pipeline.prepare``, searched for digits even where it is one)."""
    images, seed = job
    gray, owners = compose_line(images, np.random.default_rng(seed))
    prepared = prepare(gray, 1.0, SEARCHED, keep_preview=True)
    if prepared.inputs is None:
        return (np.zeros((0, 2, CONTEXT, CONTEXT), np.float32),
                np.zeros((0, GEOMETRY), np.float32), np.zeros(0, np.int64))
    working = prepared.preview.shape
    if working != gray.shape:
        owners = cv2.resize(owners, working[::-1], interpolation=cv2.INTER_NEAREST)
    inputs = prepared.inputs
    return inputs.contexts, inputs.shapes, label(prepared.layout, owners)


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
