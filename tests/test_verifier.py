"""The segment verifier: its labels, inputs, fit and sidecar, and its judgement of real cases."""

import cv2
import numpy as np
import pytest
import torch
from pictures import digit_ink, on_paper

from mnist_cnn import shipped
from mnist_cnn.errors import CheckpointError
from mnist_cnn.ink import find_ink
from mnist_cnn.segmentation import find_candidates
from mnist_cnn.verifier import (
    GEOMETRY,
    MORE,
    ONE,
    PIECE,
    SIDE,
    TWO,
    SegmentVerifier,
    fit_verifier,
    geometry,
    label,
    load_verifier,
    save_verifier,
    verifier_inputs,
    verifier_path,
)

from conftest import same_weights, synthetic_digits

CPU = torch.device("cpu")


def _line(digits: list[np.ndarray], gap: int = 25) -> tuple[np.ndarray, np.ndarray]:
    """Digits' ink side by side on paper, and which digit owns each pixel."""
    height = max(d.shape[0] for d in digits)
    width = sum(d.shape[1] for d in digits) + gap * (len(digits) + 1)
    ink = np.zeros((height + 40, width), np.float32)
    owners = np.zeros(ink.shape, np.int16)
    x = gap
    for number, digit in enumerate(digits, 1):
        ink[20:20 + digit.shape[0], x:x + digit.shape[1]] = digit
        owners[20:20 + digit.shape[0], x:x + digit.shape[1]][digit > 0.25] = number
        x += digit.shape[1] + gap
    return on_paper(ink), owners


def _layout(gray: np.ndarray):
    return find_candidates(find_ink(gray), short_path=False)


def test_digits_apart_are_one_each_and_runs_of_them_two_or_more():
    gray, owners = _line([digit_ink(d) for d in (3, 4, 7)], gap=12)
    layout = _layout(gray)
    labels = label(layout, owners)
    spans = {(c.start, c.stop): int(k) for c, k in zip(layout.candidates, labels, strict=True)}
    assert layout.segments == [3]
    assert spans[0, 1] == spans[1, 2] == spans[2, 3] == ONE
    assert spans[0, 2] == spans[1, 3] == TWO and spans[0, 3] == MORE


def test_a_digit_cut_in_two_is_two_pieces_and_whole_when_joined():
    five = digit_ink(5)
    broken = five.copy()
    broken[:, five.shape[1] // 2 - 2:five.shape[1] // 2 + 2] = 0
    gray, owners = _line([broken])
    layout = _layout(gray)
    spans = {(c.start, c.stop): int(k)
             for c, k in zip(layout.candidates, label(layout, owners), strict=True)}
    (count,) = layout.segments
    assert count > 1 and spans[0, count] == ONE
    assert all(spans[start, start + 1] == PIECE for start in range(count))


def test_inputs_hold_the_candidate_and_its_neighbours_apart():
    gray, _ = _line([digit_ink(d) for d in (1, 8)])
    layout = _layout(gray)
    contexts, shapes = verifier_inputs(layout)
    assert contexts.shape == (len(layout.candidates), 2, SIDE, SIDE)
    assert shapes.shape == (len(layout.candidates), GEOMETRY)
    first = next(i for i, c in enumerate(layout.candidates) if (c.start, c.stop) == (0, 1))
    assert contexts[first, 0].sum() > 0 and contexts[first, 1].sum() > 0  # the 8 beside it
    assert np.allclose(geometry(layout.candidates[first]), shapes[first])


def _tiny_fit(seed: int = 0) -> SegmentVerifier:
    images, _ = synthetic_digits(60, seed=3)
    return fit_verifier(torch.from_numpy(images), CPU, seed=seed, lines=12, epochs=1)


def test_fitting_is_reproducible_and_round_trips_through_the_sidecar(tmp_path):
    first, second = _tiny_fit(), _tiny_fit()
    assert same_weights(first, second)
    checkpoint = tmp_path / "model.ckpt"
    save_verifier(first, checkpoint)
    assert verifier_path(checkpoint).name == "model.verifier.pt"
    loaded = load_verifier(checkpoint, CPU)
    contexts, shapes = torch.rand(3, 2, SIDE, SIDE), torch.rand(3, GEOMETRY)
    with torch.no_grad():
        assert torch.allclose(loaded(contexts, shapes), first(contexts, shapes))
    assert not torch.equal(load_verifier(tmp_path / "other.ckpt", CPU).head[2].weight,
                           first.head[2].weight)  # no sidecar there: the shipped one


@pytest.mark.parametrize("change", ["garbage", "shapes", "nan"])
def test_a_broken_verifier_sidecar_is_a_one_line_error(tmp_path, change):
    checkpoint = tmp_path / "model.ckpt"
    path = verifier_path(checkpoint)
    state = SegmentVerifier().state_dict()
    if change == "garbage":
        path.write_bytes(b"not a pickle at all")
    elif change == "shapes":
        state["head.2.bias"] = torch.zeros(3)
        torch.save(state, path)
    else:
        state["head.2.bias"] = torch.full((6,), float("nan"))
        torch.save(state, path)
    with pytest.raises(CheckpointError) as raised:
        load_verifier(checkpoint, CPU)
    assert str(raised.value).startswith(str(path)) and "\n" not in str(raised.value)
    if change == "shapes":
        assert "head.2.bias has shape (3,), the segment verifier needs (6,)" in str(raised.value)


@torch.no_grad()
def _one_whole(gray: np.ndarray) -> dict[tuple[int, int], float]:
    """The shipped verifier's probability that each candidate is one whole digit."""
    layout = _layout(gray)
    contexts, shapes = verifier_inputs(layout)
    verifier = load_verifier(shipped.MODEL, CPU)
    one = verifier(torch.from_numpy(contexts), torch.from_numpy(shapes)).softmax(1)[:, ONE]
    return {(c.start, c.stop): float(p) for c, p in zip(layout.candidates, one, strict=True)}


def test_the_shipped_verifier_prefers_a_broken_5_whole_to_its_pieces():
    five = digit_ink(5, 80)
    five[:, five.shape[1] // 2 - 2:five.shape[1] // 2 + 2] = 0
    beliefs = _one_whole(_line([five])[0])
    count = max(stop for _, stop in beliefs)
    assert count > 1 and beliefs[0, count] > 0.5
    assert all(beliefs[0, count] > beliefs[start, start + 1] for start in range(count))


def test_the_shipped_verifier_prefers_a_wide_2_whole_to_its_pieces():
    """A 2 written wider than tall, beside a 3: cut at its thin points, its pieces are offered
    as digits too."""
    wide = cv2.resize(digit_ink(2, 60), (66, 60), interpolation=cv2.INTER_LINEAR)
    beliefs = _one_whole(_line([wide, digit_ink(3, 60)], gap=30)[0])
    pieces = max(stop for _, stop in beliefs) - 1  # the 3 is the last segment
    assert pieces > 1 and beliefs[0, pieces] > 0.5
    assert all(beliefs[0, pieces] > beliefs[start, start + 1] for start in range(pieces))
