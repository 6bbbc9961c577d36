"""Lines composed from MNIST digits for fitting the verifier: the picture and its owners."""

import numpy as np

from mnist_cnn.fitting.composing import JOINING, OTHER, compose_line

from conftest import synthetic_digits


def test_every_digit_owns_its_ink_and_the_picture_is_dark_ink_on_paper():
    images, _ = synthetic_digits(40, seed=1)
    for seed in range(20):
        count = 1 + seed % 6
        gray, owners = compose_line(list(images[:count]), np.random.default_rng(seed))
        assert gray.shape == owners.shape and gray.dtype == np.float32
        assert gray.min() >= 0 and gray.max() <= 1
        digits = set(np.unique(owners[owners > 0]).tolist())
        assert digits <= set(range(1, count + 1)) and len(digits) >= max(1, count - 1)
        assert set(np.unique(owners).tolist()) <= {0, JOINING, OTHER, *range(1, count + 1)}
        assert gray[owners > 0].mean() < gray[owners == 0].mean()


def test_the_seed_fixes_the_line():
    images, _ = synthetic_digits(10, seed=2)
    first = compose_line(list(images[:4]), np.random.default_rng(5))
    second = compose_line(list(images[:4]), np.random.default_rng(5))
    assert all(np.array_equal(a, b) for a, b in zip(first, second, strict=True))
