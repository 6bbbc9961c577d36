"""The score of a line's partitions: the best one kept, a pair or a digit, segments left out."""

import numpy as np
import torch

from mnist_cnn.networks.pairs import NOT_DIGITS
from mnist_cnn.networks.verifier import CLASSES, NONE, ONE, TWO
from mnist_cnn.reading.layout import Candidate, Layout
from mnist_cnn.reading.scoring import Values, best_reading, candidate_values, reading_rank

SPANS = [(0, 1), (1, 2), (2, 3), (0, 2), (1, 3), (0, 3)]


def _layout() -> Layout:
    return Layout([Candidate(0, start, stop, (0, 0, 10, 10)) for start, stop in SPANS], [], [3])


def _values(take: list[float], leave: list[float]) -> Values:
    return Values(np.array(take), np.array(leave), np.full(len(take), -1))


def test_best_reading_keeps_the_partition_that_scores_best():
    layout = _layout()
    take = [-0.1, -5.0, -5.0, -6.0, -0.2, -9.0]
    assert best_reading(layout, _values(take, [-20.0] * 6)) == [[0, 4]]
    take[5] = 0.0
    assert best_reading(layout, _values(take, [-20.0] * 6)) == [[5]]


def test_a_segment_is_left_out_when_leaving_it_scores_better_than_any_reading():
    layout = _layout()
    values = _values([-0.1, -0.1, -8.0, -9.0, -9.0, -9.0], [-9.0, -9.0, -0.5, -9.0, -9.0, -9.0])
    reading = best_reading(layout, values)
    assert reading == [[0, 1]]
    assert reading_rank(layout, values, reading) == (True, -0.1 - 0.1 - 0.5)


def test_a_candidate_is_taken_as_one_digit_or_as_a_pair_whichever_is_likelier():
    digit = torch.tensor([-0.1, -0.1, -0.1, -0.1])
    verdicts = torch.full((4, len(CLASSES)), -5.0)
    verdicts[0, ONE] = 5.0
    verdicts[1, NONE] = 5.0
    verdicts[2:, TWO] = 5.0
    pairs = torch.full((4, NOT_DIGITS + 1), -9.0)
    pairs[:, 47] = -0.05
    pairs[3, NOT_DIGITS] = -0.01  # the pair reader finds no digits likelier: no pair
    values = candidate_values(digit, torch.log_softmax(verdicts, dim=1), pairs)
    assert values.take[0] > -0.2 and values.pair[0] == -1
    assert values.take[1] < -9.0 and values.leave[1] > -0.1 and values.leave[0] < -9.0
    assert values.pair[2] == 47 and values.take[2] > -0.2
    assert values.pair[3] == -1 and values.take[3] < -9.0
    alone = candidate_values(digit, None, None)
    assert np.allclose(alone.take, [-0.1] * 4) and np.isneginf(alone.leave).all()
    assert (alone.pair == -1).all()
