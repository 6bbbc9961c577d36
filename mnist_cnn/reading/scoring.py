"""Choose how each line of writing divides into digits: one score for every partition, and
every weight of it.

The layout offers candidates, runs of a line's segments that may each be a digit. A partition
of the line takes some candidates and leaves some segments out; its score is a sum of
log-probabilities: for each candidate taken, that it is one whole digit (the segment verifier)
and the ConvNet's digit is right (with the not-a-digit detector's word, ``digit_evidence``),
or that it is exactly two digits (the verifier) and the pair reader's pair is right, whichever
is likelier; for each segment left out, that the verifier finds it no digit (a joining stroke,
an underline, a speck). The best partition of each line is found by dynamic programming over
its segments. Which candidates the pair reader reads, when a pair's halves pass as digits,
when a picture's two polarities' readings are compared, and how much less a mark in a number
needs to be a digit, are decided here too.
"""

from dataclasses import dataclass

import numpy as np
import torch

from mnist_cnn.networks.pairs import ONE_DIGIT
from mnist_cnn.networks.verifier import JOINED, NONE, ONE, TWO
from mnist_cnn.reading.layout import Candidate, Layout

DIGIT_SCORE_WEIGHT = 0.5
DIGIT_SCORE_RANGE = (-8.0, 2.0)
"""How much the detector's digit score counts, beside the ConvNet's confidence, when choosing
how to cut a line into digits (a piece of a digit, or two run together, reads less like one)."""
IN_NUMBER_LENIENCY = 2.0
"""Log-odds less evidence a mark needs to be a digit when it stands in a line with others and
is at least ``IN_NUMBER_HEIGHT`` line heights tall: a dash or a dot is not; measured, a pound or
euro sign still scores below the lowered threshold."""
IN_NUMBER_HEIGHT = 0.7
WHOLE_FEATURES = ("whole", "best", "unread", "taken")
"""What judges a searched picture as a whole: the digit score of all its writing as one mark
and of its best digit, each less the picture's threshold; the share of its ink that no digit
read holds (left out, or rejected); how many candidates were taken (as ``log(1 + n)``). A
letter or a doodle cut into pieces may have a piece that passes, while its whole does not and
most of its ink is left out; a number's whole does not pass either, but each of its pieces
does. The detector's fit learns the weights (``DigitDetector.whole``)."""
MARGIN_RANGE = (-10.0, 10.0)
"""Score margins beyond this tell nothing more."""


def digit_evidence(log_probabilities: torch.Tensor,
                   digit_scores: torch.Tensor | None) -> torch.Tensor:
    """How well each candidate reads as one digit: the ConvNet's log-confidence and, with
    rejection on, its digit score's share."""
    confidence = log_probabilities.max(dim=1).values
    if digit_scores is not None:
        confidence = confidence + DIGIT_SCORE_WEIGHT * digit_scores.clamp(*DIGIT_SCORE_RANGE)
    return confidence


def pair_hopeful(evidence: torch.Tensor, verdicts: torch.Tensor,
                 one_mark: torch.Tensor) -> torch.Tensor:
    """The candidates whose pair could win, for the pair reader to read: one mark (digits that
    touch or overlap; digits apart are cut apart anyway) that the verifier (``verdicts``: its
    log-probabilities) finds likelier two digits than the ConvNet's digit."""
    return one_mark & (verdicts[:, TWO] > evidence + verdicts[:, ONE])


def halves_pass(half_scores: torch.Tensor, threshold: torch.Tensor | float) -> torch.Tensor:
    """Whether both halves of each pair (``half_scores``: ``(2, N)`` digit scores of its left
    and right halves) pass as digits (``threshold``: each pair's), as any digit read must: a
    doodle is not read as a pair."""
    return (half_scores >= threshold).all(0)


def digit_threshold(candidate: Candidate, marks_in_line: int, threshold: float) -> float:
    """The digit score below which ``candidate`` is not a digit: in a number, a mark as tall
    as the digits beside it is more likely one itself, so it needs less evidence."""
    if marks_in_line > 1 and candidate.height >= IN_NUMBER_HEIGHT:
        return threshold - IN_NUMBER_LENIENCY
    return threshold


def whole_features(whole: float, best: float, unread: float, taken: int,
                   threshold: float) -> np.ndarray:
    """``WHOLE_FEATURES`` of a searched picture, margins clipped to ``MARGIN_RANGE``."""
    low, high = MARGIN_RANGE
    return np.array([min(max(whole - threshold, low), high), min(max(best - threshold, low), high),
                     unread, np.log1p(taken)], np.float32)


def reads_as_digits(features: np.ndarray, weights: np.ndarray) -> float:
    """The log-odds, by the learned ``weights`` (``WHOLE_FEATURES`` then a bias), that a
    searched picture's marks read as digits are digits: below 0 it is not a digit."""
    return float(features @ weights[:-1] + weights[-1])


@dataclass(frozen=True)
class Values:
    """Per candidate: the log-probability of taking it (``take``), as one digit or as the pair
    ``pair`` (-1: one digit), and of leaving it out (``leave``)."""

    take: np.ndarray
    leave: np.ndarray
    pair: np.ndarray


def candidate_values(evidence: torch.Tensor, verdicts: torch.Tensor | None,
                     pair_log_probabilities: torch.Tensor | None) -> Values:
    """``evidence``: how well each candidate reads as one digit (``digit_evidence``);
    ``verdicts``: the verifier's log-probabilities and ``pair_log_probabilities`` the pair
    reader's (``None``: a picture read as one digit, which is taken whole). A pair is taken
    only where the pair reader finds it likelier than one digit, three or more, or no
    digits."""
    count = len(evidence)
    if verdicts is None or pair_log_probabilities is None:
        return Values(evidence.numpy(), np.full(count, -np.inf), np.full(count, -1))
    one = evidence + verdicts[:, ONE]
    best_pair, pair = pair_log_probabilities[:, :ONE_DIGIT].max(dim=1)
    rest = pair_log_probabilities[:, ONE_DIGIT:].max(dim=1).values
    two = torch.where(best_pair > rest, best_pair + verdicts[:, TWO], -torch.inf)
    leave = torch.logsumexp(verdicts[:, [JOINED, NONE]], dim=1)
    return Values(torch.maximum(one, two).numpy(), leave.numpy(),
                  torch.where(two > one, pair, -1).numpy())


def best_reading(layout: Layout, values: Values) -> list[list[int]]:
    """For each line, the candidates (indices into ``layout.candidates``) of its best
    partition: the highest total of ``take`` over the candidates taken and of ``leave`` over
    the segments left out (each at its one-segment candidate's value)."""
    take, leave = values.take, values.leave
    reading = []
    by_line: list[list[int]] = [[] for _ in layout.segments]
    for index, candidate in enumerate(layout.candidates):
        by_line[candidate.line].append(index)
    for count, mine in zip(layout.segments, by_line, strict=True):
        ending: list[list[int]] = [[] for _ in range(count + 1)]
        skip = np.full(count, -np.inf)
        for index in mine:
            candidate = layout.candidates[index]
            ending[candidate.stop].append(index)
            if candidate.stop == candidate.start + 1:
                skip[candidate.start] = leave[index]
        best = np.full(count + 1, -np.inf)
        best[0] = 0.0
        choice = np.full(count + 1, -1)
        for stop in range(1, count + 1):
            best[stop] = best[stop - 1] + skip[stop - 1]
            for index in ending[stop]:
                value = best[layout.candidates[index].start] + take[index]
                if value > best[stop]:
                    best[stop], choice[stop] = value, index
        chosen, stop = [], count
        while stop > 0:
            index = int(choice[stop])
            if index < 0:
                stop -= 1
                continue
            chosen.append(index)
            stop = layout.candidates[index].start
        reading.append(chosen[::-1])
    return reading


def left_out(layout: Layout, reading: list[list[int]]) -> list[int]:
    """The one-segment candidates whose segment ``reading`` leaves out."""
    covered = {(layout.candidates[i].line, segment) for line in reading for i in line
               for segment in range(layout.candidates[i].start, layout.candidates[i].stop)}
    return [i for i, candidate in enumerate(layout.candidates)
            if candidate.stop == candidate.start + 1
            and (candidate.line, candidate.start) not in covered]


def reading_rank(layout: Layout, values: Values,
                 reading: list[list[int]]) -> tuple[bool, float]:
    """How two readings of one picture compare (laid out with the ink dark or light): one
    that reads digits beats one that leaves every mark out, else the one whose partitions
    score higher (what ``best_reading`` maximizes)."""
    value = (sum(float(values.take[i]) for line in reading for i in line)
             + sum(float(values.leave[i]) for i in left_out(layout, reading)))
    return any(reading), value
