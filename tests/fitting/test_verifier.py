"""The segment verifier: its labels, inputs, fit and sidecar, and its judgement of real cases."""

import cv2
import numpy as np
import torch
from pictures import digit_ink, on_paper

from mnist_cnn.fitting.composing import compose_line
from mnist_cnn.fitting.verifier import SEARCHED, _line_samples, fit_verifier, label
from mnist_cnn.networks import registry
from mnist_cnn.networks.verifier import MORE, ONE, PIECE, TWO, SegmentVerifier
from mnist_cnn.reading.pipeline import prepare

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
    return prepare(gray, 1.0, SEARCHED).layout


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


def test_the_samples_are_the_candidates_the_reading_pipeline_makes_of_a_composed_line():
    images = [(255 * cv2.resize(digit_ink(d, 20), (20, 20))).astype(np.uint8) for d in (3, 5, 7)]
    images = [np.pad(image, 4) for image in images]
    contexts, shapes, labels = _line_samples((images, 17))
    gray, _ = compose_line(images, np.random.default_rng(17))
    inputs = prepare(gray, 1.0, SEARCHED).inputs
    assert np.array_equal(contexts, inputs.contexts) and np.array_equal(shapes, inputs.shapes)
    assert len(labels) == len(contexts) >= 3 and (labels == ONE).sum() >= 2


def _tiny_fit(seed: int = 0) -> SegmentVerifier:
    images, _ = synthetic_digits(60, seed=3)
    return fit_verifier(torch.from_numpy(images), CPU, seed=seed, lines=12, epochs=1)


def test_fitting_is_reproducible_and_depends_on_the_seed():
    first, second = _tiny_fit(), _tiny_fit()
    assert same_weights(first, second)
    assert not same_weights(first, _tiny_fit(seed=1))


@torch.no_grad()
def _one_whole(gray: np.ndarray) -> dict[tuple[int, int], float]:
    """The shipped verifier's probability that each candidate is one whole digit."""
    prepared = prepare(gray, 1.0, SEARCHED)
    layout, inputs = prepared.layout, prepared.inputs
    verifier = registry.load(registry.VERIFIER, registry.MODEL.shipped, CPU)
    one = verifier(torch.from_numpy(inputs.contexts),
                   torch.from_numpy(inputs.shapes)).softmax(1)[:, ONE]
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
