"""Marks that are not digits, made for fitting the detector."""

import numpy as np
import torch

from mnist_cnn.fitting import outliers as made
from mnist_cnn.fitting.strokes import hershey

from conftest import synthetic_digits


def _digits(count: int) -> tuple[torch.Tensor, torch.Tensor]:
    images, labels = synthetic_digits(count)
    return torch.from_numpy(images).float() / 255, torch.from_numpy(labels)


def test_outliers_are_framed_marks_and_reproducible():
    digits, labels = _digits(64)
    characters = hershey()[1] + hershey()[2]
    first = made.outliers(digits, labels, 64, characters, seed=1)
    assert first.shape == (64, 28, 28) and first.min() >= 0 and first.max() <= 1
    assert (first.amax((1, 2)) > 0.5).float().mean() > 0.95, "hardly a blank one"
    assert torch.equal(first, made.outliers(digits, labels, 64, characters, seed=1))


def test_only_asymmetric_digits_are_turned():
    digits, labels = _digits(200)
    rng = np.random.default_rng(0)
    turned = made._turned(digits, labels, rng)
    assert len(turned) == int(torch.isin(labels, torch.tensor(made.ASYMMETRIC)).sum())
    symmetric = torch.isin(labels, torch.tensor([0, 1, 8]))
    assert len(made._turned(digits[symmetric], labels[symmetric], rng)) == 0


def test_halves_keep_a_part_of_each_mark():
    rng = np.random.default_rng(0)
    whole = made._scribbles(20, rng)
    halves = made._halves(whole, rng)
    kept = halves.sum((1, 2)) / whole.sum((1, 2)).clamp(min=1e-6)
    assert ((kept > 0.05) & (kept < 0.95)).float().mean() > 0.8
