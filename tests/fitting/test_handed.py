"""MNIST digits handed over as users hand them: each kind is a picture of the digit, read by the
recognizer itself."""

import numpy as np
import pytest
import torch

from mnist_cnn.fitting.handed import KINDS, handed_over, handed_over_inputs, handed_over_pictures
from mnist_cnn.networks import registry
from mnist_cnn.reading.pipeline import Options
from mnist_cnn.reading.recognizer import Recognizer

from conftest import synthetic_digits

CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def one_digit() -> Recognizer:
    model = registry.load(registry.MODEL, registry.MODEL.shipped, CPU)
    return Recognizer(model, CPU, options=Options(one_digit=True))


@pytest.mark.parametrize("kind", KINDS)
def test_each_kind_is_dark_ink_on_white_paper(kind):
    digit = synthetic_digits(1)[0][0].astype(np.float32) / 255
    picture = handed_over(digit, kind, np.random.default_rng(0))
    photo = kind == "photo"  # grey ink on paper in some light, a little noisy
    assert picture.dtype == np.float32 and picture.max() > (0.6 if photo else 0.85)
    assert picture.min() < (0.4 if photo else 0.05)
    ink = picture < picture.min() + 0.5 * (picture.max() - picture.min())
    assert 0.02 < ink.mean() < 0.8


def test_pictures_are_what_a_file_holds_and_blank_digits_have_none():
    digits = torch.from_numpy(synthetic_digits(9)[0]).float() / 255
    digits[4] = 0
    pictures = handed_over_pictures(digits, np.random.default_rng(1))
    assert pictures[4] is None
    assert all(p.dtype == np.uint8 and p.max() > 200 for i, p in enumerate(pictures) if i != 4)


def test_inputs_are_the_recognizers_and_reproducible(one_digit):
    digits = torch.from_numpy(synthetic_digits(12)[0]).float() / 255
    digits[5] = 0
    first = handed_over_inputs(digits, np.random.default_rng(3), one_digit)
    second = handed_over_inputs(digits, np.random.default_rng(3), one_digit)
    assert first.shape == (12, 28, 28) and torch.equal(first, second)
    assert not first[5].any()
    assert (first[torch.arange(12) != 5].amax((1, 2)) == 1.0).all()
    assert not torch.equal(first, handed_over_inputs(digits, np.random.default_rng(4), one_digit))
    picture = handed_over_pictures(digits[:1], np.random.default_rng(3))[0]
    assert np.array_equal(one_digit.read(picture).digits[0].network_input, first[0].numpy())
