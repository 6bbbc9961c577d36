"""MNIST digits handed over as users hand them: each kind is a picture of the digit."""

import numpy as np
import pytest
import torch

from mnist_cnn.handed import KINDS, as_read, handed_over, handed_over_inputs

from conftest import synthetic_digits


@pytest.mark.parametrize("kind", KINDS)
def test_each_kind_is_dark_ink_on_white_paper_and_reads_as_one_input(kind):
    digit = synthetic_digits(1)[0][0].astype(np.float32) / 255
    picture = handed_over(digit, kind, np.random.default_rng(0))
    assert picture.dtype == np.float32 and picture.max() > 0.85  # the paper, a little noisy
    assert picture.min() < 0.05 and 0.02 < (picture < 0.5).mean() < 0.8
    pixels = as_read(picture)
    assert pixels.shape == (28, 28) and pixels.max() == 1.0


def test_inputs_are_normalized_and_reproducible():
    digits = torch.from_numpy(synthetic_digits(12)[0]).float() / 255
    first, second = handed_over_inputs(digits, seed=3), handed_over_inputs(digits, seed=3)
    assert first.shape == (12, 28, 28) and torch.equal(first, second)
    assert (first.amax((1, 2)) == 1.0).all()
    assert not torch.equal(first, handed_over_inputs(digits, seed=4))
