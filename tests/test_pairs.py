"""The pair reader: its input, fit and sidecar."""

import numpy as np
import pytest
import torch

from mnist_cnn.errors import CheckpointError
from mnist_cnn.pairs import (
    HEIGHT,
    MORE,
    NOT_DIGITS,
    ONE_DIGIT,
    WIDTH,
    PairReader,
    fit_pair_reader,
    load_pair_reader,
    pair_input,
    pair_reader_path,
    pairs,
    save_pair_reader,
)
from mnist_cnn.strokes import hershey

from conftest import same_weights, synthetic_digits

CPU = torch.device("cpu")
OTHERS = hershey()[1]


def test_a_pairs_input_is_its_ink_fitted_in_the_field_and_blank_for_none():
    ink = np.zeros((30, 100), np.float32)
    ink[5:25, 10:90] = 0.5
    pixels = pair_input(ink)
    assert pixels.shape == (HEIGHT, WIDTH) and pixels.max() == pytest.approx(1.0)
    rows, cols = np.flatnonzero(pixels.any(1)), np.flatnonzero(pixels.any(0))
    assert cols[-1] - cols[0] + 1 == 48 and rows[-1] - rows[0] + 1 <= 20
    assert not pair_input(np.zeros((10, 10), np.float32)).any()


def test_pairs_are_labelled_first_digit_then_second_and_the_other_kinds_apart():
    images, labels = synthetic_digits(30, seed=4)
    inputs, classes = pairs(images, labels, 50, 0, OTHERS)
    assert inputs.shape == (80, HEIGHT, WIDTH)
    assert classes[:50].max() < ONE_DIGIT
    assert (classes[50:60] == ONE_DIGIT).all() and (classes[60:70] == MORE).all()
    assert (classes[70:] == NOT_DIGITS).all()
    again, _ = pairs(images, labels, 50, 0, OTHERS)
    assert torch.equal(inputs, again)


def _tiny_fit(seed: int = 0) -> PairReader:
    images, labels = synthetic_digits(60, seed=3)
    return fit_pair_reader(torch.from_numpy(images), torch.from_numpy(labels), CPU, seed=seed,
                           count=64, epochs=1, characters=OTHERS)


def test_fitting_is_reproducible_and_round_trips_through_the_sidecar(tmp_path):
    first, second = _tiny_fit(), _tiny_fit()
    assert same_weights(first, second)
    checkpoint = tmp_path / "model.ckpt"
    save_pair_reader(first, checkpoint)
    assert pair_reader_path(checkpoint).name == "model.pairs.pt"
    inputs = torch.rand(2, 1, HEIGHT, WIDTH)
    with torch.no_grad():
        assert torch.allclose(load_pair_reader(checkpoint, CPU)(inputs), first(inputs))


@pytest.mark.parametrize("change", ["garbage", "shapes"])
def test_a_broken_pair_reader_sidecar_is_a_one_line_error(tmp_path, change):
    checkpoint = tmp_path / "model.ckpt"
    path = pair_reader_path(checkpoint)
    if change == "garbage":
        path.write_bytes(b"\x00" * 64)
    else:
        state = PairReader().state_dict()
        state["head.3.weight"] = torch.zeros(10, 160)
        torch.save(state, path)
    with pytest.raises(CheckpointError) as raised:
        load_pair_reader(checkpoint, CPU)
    assert str(raised.value).startswith(str(path)) and "\n" not in str(raised.value)
