"""The pair reader: its input, fit and sidecar."""

import numpy as np
import pytest
import torch

from mnist_cnn.fitting.pairs import fit_pair_reader, pairs
from mnist_cnn.fitting.strokes import hershey
from mnist_cnn.networks.pairs import HEIGHT, MORE, NOT_DIGITS, ONE_DIGIT, WIDTH, PairReader
from mnist_cnn.reading.inputs import pair_input

from conftest import same_weights, synthetic_digits

CPU = torch.device("cpu")
OTHERS = hershey()[1] + hershey()[2]


def test_a_pairs_input_is_its_ink_fitted_in_the_field_and_blank_for_none():
    ink = np.zeros((30, 100), np.float32)
    ink[5:25, 10:90] = 0.5
    pixels = pair_input(ink)
    assert pixels.shape == (HEIGHT, WIDTH) and pixels.max() == pytest.approx(1.0)
    rows, cols = np.flatnonzero(pixels.any(1)), np.flatnonzero(pixels.any(0))
    assert cols[-1] - cols[0] + 1 == 48 and rows[-1] - rows[0] + 1 <= 20
    assert not pair_input(np.zeros((10, 10), np.float32)).any()


def _bar_row(half: np.ndarray) -> float:
    """Where the bar of a synthetic digit (``conftest.synthetic_digits``: its row says its
    label) lies in one half of a pair's input, from 0 (top) to 1."""
    rows = np.flatnonzero(half.max(1) > 0.05)
    profile = half[rows[0]:rows[-1] + 1].sum(1)
    return float(np.argmax(profile)) / max(len(profile) - 1, 1)


def test_pairs_are_labelled_first_digit_then_second_and_the_other_kinds_apart():
    images, labels = synthetic_digits(30, seed=4)
    images[images < 200] = 0  # each digit its bar alone, beside a stem as tall as any digit
    images[:, 2:26, 4] = 255
    inputs, classes = pairs(images, labels, 50, 0, OTHERS)
    assert inputs.shape == (80, HEIGHT, WIDTH)
    assert classes[:50].max() < ONE_DIGIT
    assert (classes[50:60] == ONE_DIGIT).all() and (classes[60:70] == MORE).all()
    assert (classes[70:] == NOT_DIGITS).all()
    apart = 0
    for pixels, pair in zip(inputs[:50].numpy(), classes[:50].tolist(), strict=True):
        first, second = divmod(pair, 10)
        if abs(first - second) >= 6:  # the bars' rows differ by more than the writing jitters
            left, right = _bar_row(pixels[:, :WIDTH // 2]), _bar_row(pixels[:, WIDTH // 2:])
            assert (left < right) == (first < second), (first, second)
            apart += 1
    assert apart >= 5
    again, _ = pairs(images, labels, 50, 0, OTHERS)
    assert torch.equal(inputs, again)


def _tiny_fit(seed: int = 0) -> PairReader:
    images, labels = synthetic_digits(60, seed=3)
    return fit_pair_reader(torch.from_numpy(images), torch.from_numpy(labels), CPU, seed=seed,
                           count=64, epochs=1, characters=OTHERS)


def test_fitting_is_reproducible_and_depends_on_the_seed():
    first, second = _tiny_fit(), _tiny_fit()
    assert same_weights(first, second)
    assert not same_weights(first, _tiny_fit(seed=1))
