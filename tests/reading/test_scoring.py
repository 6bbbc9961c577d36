"""The score of a line's partitions: the best one kept, a pair or a digit, segments left out,
the next best as alternatives, the best of a length asked for."""

import numpy as np
import pytest
import torch

from mnist_cnn.networks.pairs import NOT_DIGITS
from mnist_cnn.networks.verifier import CLASSES, NONE, ONE, TWO
from mnist_cnn.reading.layout import Candidate, Layout
from mnist_cnn.reading.scoring import (
    Values,
    alternatives,
    candidate_values,
    chosen,
    partitions,
)

SPANS = [(0, 1), (1, 2), (2, 3), (0, 2), (1, 3), (0, 3)]


def _layout(lines: int = 1) -> Layout:
    return Layout([Candidate(line, start, stop, (0, 0, 10, 10)) for line in range(lines)
                   for start, stop in SPANS], [], [3] * lines)


def _values(take: list[float], leave: list[float], digits: str | None = None) -> Values:
    """Each candidate reads as one digit (``digits``: which; default its index) at ``take``,
    or as another, 3 log-probability less likely."""
    digits = digits or "".join(str(i % 10) for i in range(len(take)))
    return Values([[(value, digit), (value - 3, str((int(digit) + 5) % 10))]
                   for value, digit in zip(take, digits, strict=True)], np.array(leave))


def test_the_best_partition_first():
    layout = _layout()
    take = [-0.1, -5.0, -5.0, -6.0, -0.2, -9.0]
    best = partitions(layout, _values(take, [-20.0] * 6))[0]
    assert best.taken() == [[0, 4]] and best.number == "04"
    assert best.score == pytest.approx(-0.3) and best.count == 2
    take[5] = 0.0
    assert partitions(layout, _values(take, [-20.0] * 6))[0].taken() == [[5]]


def test_a_segment_is_left_out_when_leaving_it_scores_better_than_any_reading():
    layout = _layout()
    values = _values([-0.1, -0.1, -8.0, -9.0, -9.0, -9.0], [-9.0, -9.0, -0.5, -9.0, -9.0, -9.0])
    best = partitions(layout, values)[0]
    assert best.taken() == [[0, 1]]
    assert best.score == pytest.approx(-0.1 - 0.1 - 0.5)


def test_partitions_come_best_first_and_lines_join_with_a_space():
    layout = _layout(lines=2)
    take = [-0.1, -0.2, -0.3, -9.0, -9.0, -9.0] * 2
    found = partitions(layout, _values(take, [-20.0] * 12, "123000456000"))
    scores = [partition.score for partition in found]
    assert scores == sorted(scores, reverse=True) and len(found) > 3
    assert found[0].number == "123 456" and found[0].score == pytest.approx(-1.2)
    second = found[1]  # one digit its runner-up, 3 less likely
    assert second.score == pytest.approx(-4.2)
    assert sum(a != b for a, b in zip(second.number, "123 456", strict=True)) == 1


def test_alternatives_are_other_numbers_with_their_share():
    layout = _layout()
    found = partitions(layout, _values([-0.1, -0.2, -0.3, -9.0, -9.0, -9.0], [-20.0] * 6,
                                       "123000"))
    others = alternatives(found, "123")
    assert {number for number, _ in others} == {"623", "173", "128"}  # one runner-up each
    best = {}
    for partition in found:
        best.setdefault(partition.number, partition.score)
    total = sum(np.exp(score) for score in best.values())
    for number, share in others:
        assert share == pytest.approx(np.exp(best[number]) / total, rel=1e-5)
    assert others[0][1] == pytest.approx(np.exp(-3.6) / total, rel=1e-5)
    assert alternatives(found, "623")[0] == ("123", pytest.approx(np.exp(-0.6) / total))


def test_a_length_asked_for_takes_the_best_partition_of_that_many_digits():
    layout = _layout()
    take = [-0.1, -0.2, -0.3, -0.5, -9.0, -9.0]
    values = _values(take, [-1.0, -1.0, -1.0, -9.0, -9.0, -9.0], "123900")
    found = partitions(layout, values)
    assert chosen(found, []).number == "123"
    two = partitions(layout, values, (2, 2))
    assert {p.count for p in two} == {2} and chosen(found, two).number in ("93", "12", "13")
    assert chosen(found, two).score == max(p.score for p in found if p.count == 2)
    assert partitions(layout, values, (4, 5)) == []
    assert chosen(found, partitions(layout, values, (4, 5))).number == "123"
    up_to = partitions(layout, values, (1, 3))
    assert {p.count for p in up_to} <= {1, 2, 3} and up_to[0].number == "123"


def test_a_candidate_is_taken_as_one_digit_or_as_a_pair_whichever_is_likelier():
    digit = torch.tensor([-0.1, -0.1, -0.1, -0.1])
    log_probabilities = torch.log_softmax(torch.arange(10.0).repeat(4, 1), dim=1)
    verdicts = torch.full((4, len(CLASSES)), -5.0)
    verdicts[0, ONE] = 5.0
    verdicts[1, NONE] = 5.0
    verdicts[2:, TWO] = 5.0
    pairs = torch.full((4, NOT_DIGITS + 1), -9.0)
    pairs[:, 47] = -0.05
    pairs[3, NOT_DIGITS] = -0.01  # the pair reader finds no digits likelier: no pair
    values = candidate_values(digit, log_probabilities, torch.log_softmax(verdicts, dim=1),
                              pairs)
    best = [options[0] for options in values.options]
    assert best[0][0] > -0.2 and best[0][1] == "9"
    assert [text for _, text in values.options[0]] == ["9", "8", "7", "47"]
    assert values.options[0][1][0] == pytest.approx(values.options[0][0][0] - 1, abs=1e-4)
    assert best[1][0] < -9.0 and values.leave[1] > -0.1 and values.leave[0] < -9.0
    assert best[2][1] == "47" and best[2][0] > -0.2
    assert best[3][0] < -9.0 and all(len(text) == 1 for _, text in values.options[3])
    alone = candidate_values(digit, log_probabilities, None, None)
    assert np.allclose([o[0][0] for o in alone.options], -0.1) and np.isneginf(alone.leave).all()
    assert [[text for _, text in o] for o in alone.options] == [["9", "8", "7"]] * 4
