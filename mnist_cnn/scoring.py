"""Choose how each line of writing divides into digits: one score for every partition.

The segmentation offers candidates, runs of a line's segments that may each be a digit. A
partition of the line takes some candidates and leaves some segments out; its score is a sum of
log-probabilities: for each candidate taken, that it is one whole digit (the segment verifier,
``mnist_cnn.verifier``) and the ConvNet's digit is right (with the not-a-digit detector's
word), or that it is exactly two digits (the verifier) and the pair reader's pair is right
(``mnist_cnn.pairs``), whichever is likelier; for each segment left out, that the verifier
finds it no digit (a joining stroke, an underline, a speck). The best partition of each line is
found by dynamic programming over its segments.
"""

from dataclasses import dataclass

import numpy as np
import torch

from mnist_cnn.pairs import HEIGHT, ONE_DIGIT, WIDTH, pair_input
from mnist_cnn.segmentation import Layout
from mnist_cnn.verifier import JOINED, NONE, ONE, TWO, verifier_inputs


@dataclass(frozen=True)
class SearchInputs:
    """What the verifier and the pair reader read of a picture's candidates: contexts
    ``(N, 2, 32, 32)``, geometry ``(N, 8)`` and pair inputs ``(N, 28, 56)``."""

    contexts: np.ndarray
    shapes: np.ndarray
    pairs: np.ndarray


def search_inputs(layout: Layout) -> SearchInputs:
    """The verifier's and the pair reader's inputs for every candidate of ``layout`` (the pair
    reader's blank for a candidate of several marks: it reads only digits run together)."""
    pairs = np.zeros((len(layout.inks), HEIGHT, WIDTH), np.float32)
    for index, (candidate, ink) in enumerate(zip(layout.candidates, layout.inks, strict=True)):
        if candidate.marks == 1:
            pairs[index] = pair_input(ink)
    return SearchInputs(*verifier_inputs(layout), pairs)


@dataclass(frozen=True)
class Values:
    """Per candidate: the log-probability of taking it (``take``), as one digit or as the pair
    ``pair`` (-1: one digit), and of leaving it out (``leave``)."""

    take: np.ndarray
    leave: np.ndarray
    pair: np.ndarray


def candidate_values(digit_log_probabilities: torch.Tensor, verdicts: torch.Tensor | None,
                     pair_log_probabilities: torch.Tensor | None) -> Values:
    """``digit_log_probabilities``: how well each candidate reads as one digit (the ConvNet's
    log-confidence and the detector's term, ``Recognizer._confidence``); ``verdicts``: the
    verifier's logits and ``pair_log_probabilities`` the pair reader's (``None``: a picture
    read as one digit, which is taken whole). A pair is taken only where the pair reader finds
    it likelier than one digit, three or more, or no digits."""
    count = len(digit_log_probabilities)
    if verdicts is None or pair_log_probabilities is None:
        return Values(digit_log_probabilities.numpy(), np.full(count, -np.inf),
                      np.full(count, -1))
    verdict = torch.log_softmax(verdicts, dim=1)
    one = digit_log_probabilities + verdict[:, ONE]
    best_pair, pair = pair_log_probabilities[:, :ONE_DIGIT].max(dim=1)
    rest = pair_log_probabilities[:, ONE_DIGIT:].max(dim=1).values
    two = torch.where(best_pair > rest, best_pair + verdict[:, TWO], -torch.inf)
    leave = torch.logsumexp(verdict[:, [JOINED, NONE]], dim=1)
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


def reading_value(layout: Layout, values: Values, reading: list[list[int]]) -> float:
    """What ``best_reading`` maximizes, for ``reading``: compares the readings of one picture
    laid out two ways (ink dark or light)."""
    return (sum(float(values.take[i]) for line in reading for i in line)
            + sum(float(values.leave[i]) for i in left_out(layout, reading)))
