"""One digit's ink to MNIST's 28x28 framing, and the reference's plain transform."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from pictures import digit_ink, draw_one

from mnist_cnn.reading.ink import stroke_width
from mnist_cnn.reading.inputs import normalize, normalize_batch, plain_input


def centre_of_mass(pixels):
    rows, cols = np.indices(pixels.shape)
    return (pixels * rows).sum() / pixels.sum(), (pixels * cols).sum() / pixels.sum()


def assert_mnist_like(pixels):
    assert pixels.shape == (28, 28) and pixels.dtype == np.float32
    assert pixels.min() >= 0 and pixels.max() == pytest.approx(1.0)
    rows = np.flatnonzero(pixels.max(1) > 0.05)
    assert 17 <= rows[-1] - rows[0] + 1 <= 22, "digit's long side scaled to about 20 px"
    row, col = centre_of_mass(pixels)
    assert abs(row - 14) <= 1 and abs(col - 14) <= 1
    assert pixels[0].max() == 0 and pixels[:, 0].max() == 0


@pytest.mark.parametrize("digit", range(10))
def test_each_digit_is_framed_like_mnist(digit):
    assert_mnist_like(normalize(np.pad(digit_ink(digit, 90), 13)))


def test_thin_and_thick_pens_come_towards_mnist_strokes():
    thin = 1.0 - np.asarray(draw_one(size=(400, 400), box=(150, 40, 250, 360), width=2,
                                     ink=0, paper=255), dtype=np.float32) / 255
    thick = 1.0 - np.asarray(draw_one(size=(400, 400), box=(150, 40, 250, 360), width=70,
                                      ink=0, paper=255), dtype=np.float32) / 255
    assert stroke_width(normalize(thin) > 0.5) >= 1.5
    assert stroke_width(normalize(thick) > 0.5) <= 6


def test_no_ink_is_no_input():
    assert normalize(np.zeros((30, 30), dtype=np.float32)) is None


def test_plain_transform_is_the_reference_one():
    image = draw_one(size=(28, 28), box=(10, 4, 18, 24), width=3)
    gray = np.asarray(image, dtype=np.float32) / 255
    expected = (255 - np.asarray(image, dtype=np.float32)) / 255
    np.testing.assert_allclose(plain_input(gray), expected, atol=1e-6)


@settings(max_examples=150, deadline=None)
@given(st.integers(1, 80), st.integers(1, 80), st.integers(0, 2**32 - 1))
def test_any_ink_gives_a_clean_input(height, width, seed):
    ink = np.random.default_rng(seed).random((height, width)).astype(np.float32)
    pixels = normalize(ink)
    assert pixels is not None and pixels.shape == (28, 28)
    assert pixels.min() >= 0 and pixels.max() <= 1 and np.isfinite(pixels).all()


def test_a_batch_is_framed_like_mnist_too():
    ink = torch.zeros(2, 56, 56)
    ink[0, 10:50, 30:36] = 1.0  # a tall bar, off centre
    ink[1, 5:15, 5:45] = 1.0  # a wide bar in a corner
    framed = normalize_batch(ink)
    assert framed.shape == (2, 28, 28) and framed.amax() == pytest.approx(1.0)
    for image in framed:
        rows = torch.nonzero(image.amax(1) > 0.5).flatten()
        cols = torch.nonzero(image.amax(0) > 0.5).flatten()
        assert max(rows[-1] - rows[0], cols[-1] - cols[0]) + 1 in (19, 20, 21)
        mass = image.sum()
        centre = ((image.sum(1) * torch.arange(28)).sum() / mass,
                  (image.sum(0) * torch.arange(28)).sum() / mass)
        assert abs(centre[0] - 14) < 1 and abs(centre[1] - 14) < 1
