"""Choose how each line of writing divides into digits: one score for every partition, and
every weight of it.

The layout offers candidates, runs of a line's segments that may each be a digit. A partition
of the line takes some candidates and leaves some segments out; its score is a sum of
log-probabilities: for each candidate taken, that it is one whole digit (the segment verifier)
and the ConvNet's digit is right (with the not-a-digit detector's word, ``digit_evidence``),
or that it is exactly two digits (the verifier) and the pair reader's pair is right, whichever
is likelier; for each segment left out, that the verifier finds it no digit (a joining stroke,
an underline, a speck). The best partition of each line is found by dynamic programming over
its segments, keeping the likeliest few (``partitions``): the best is read, the next are the
result's alternatives, and where a count of digits is asked for, the best of that count is
read. Which candidates the pair reader reads, when a pair's halves pass as digits, when a
picture's two polarities' readings are compared, and how much less a mark in a number needs
to be a digit, are decided here too.
"""

import math
from collections import defaultdict
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
DIGIT_OPTIONS = 3
"""A candidate taken as one digit may read as any of its ConvNet's three likeliest digits: the
other readings a result lists, and the digits a length asked for may need."""
SEARCH_WIDTH = 8
"""Partial partitions of a line kept at each place (for each count of digits, where a length
is asked for)."""
ALTERNATIVES = 3
"""Other readings a result lists."""


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
    """Per candidate: what taking it may read as, likeliest first (``options``: each a
    log-probability and the digits it spells: its ``DIGIT_OPTIONS`` likeliest digits, and its
    likeliest pair where the pair reader finds one), and the log-probability of leaving it out
    (``leave``)."""

    options: list[list[tuple[float, str]]]
    leave: np.ndarray


def candidate_values(evidence: torch.Tensor, log_probabilities: torch.Tensor,
                     verdicts: torch.Tensor | None,
                     pair_log_probabilities: torch.Tensor | None) -> Values:
    """``evidence``: how well each candidate reads as one digit (``digit_evidence``, its
    likeliest digit's), ``log_probabilities`` the ConvNet's, whose differences give the other
    digits' evidence; ``verdicts``: the verifier's log-probabilities and
    ``pair_log_probabilities`` the pair reader's (``None``: a picture read as one digit, which
    is taken whole). A pair is an option only where the pair reader finds it likelier than one
    digit, three or more, or no digits."""
    count = len(evidence)
    top, digits = log_probabilities.topk(min(DIGIT_OPTIONS, log_probabilities.shape[1]), dim=1)
    each = evidence[:, None] + top - top[:, :1]
    if verdicts is None or pair_log_probabilities is None:
        leave = np.full(count, -np.inf)
        two = torch.full((count,), -torch.inf)
        pair = torch.zeros(count, dtype=torch.long)
    else:
        each = each + verdicts[:, ONE, None]
        best_pair, pair = pair_log_probabilities[:, :ONE_DIGIT].max(dim=1)
        rest = pair_log_probabilities[:, ONE_DIGIT:].max(dim=1).values
        two = torch.where(best_pair > rest, best_pair + verdicts[:, TWO], -torch.inf)
        leave = torch.logsumexp(verdicts[:, [JOINED, NONE]], dim=1).numpy()
    options = []
    for ones, names, value, both in zip(each.tolist(), digits.tolist(), two.tolist(),
                                        pair.tolist(), strict=True):
        found = [(one, str(digit)) for one, digit in zip(ones, names, strict=True)]
        if value > -math.inf:
            found.append((value, f"{both:02d}"))
        options.append(sorted(found, key=lambda option: -option[0]))
    return Values(options, leave)


@dataclass(frozen=True)
class Partition:
    """A partition of a picture's lines: per line, the candidates taken (indices into
    ``layout.candidates``) with the digits each spells; its log-probability (``score``)."""

    score: float
    lines: tuple[tuple[tuple[int, str], ...], ...]

    @property
    def number(self) -> str:
        """What it spells, lines apart by a space (a line that spells nothing left out)."""
        return " ".join(spelled for spelled in ("".join(text for _, text in line)
                                                for line in self.lines) if spelled)

    @property
    def count(self) -> int:
        """How many digits it spells."""
        return sum(len(text) for line in self.lines for _, text in line)

    def taken(self) -> list[list[int]]:
        """The candidates taken, line by line."""
        return [[index for index, _ in line] for line in self.lines]


Partial = tuple[float, int, tuple]
"""A partition so far: its log-probability, how many digits it spells, what it takes."""


def partitions(layout: Layout, values: Values, length: tuple[int, int] | None = None,
               width: int = SEARCH_WIDTH) -> list[Partition]:
    """The likeliest partitions of the picture's lines, best first: dynamic programming over
    each line's segments, each segment taken within a candidate (as one of its options) or
    left out (at its one-segment candidate's ``leave``), keeping the ``width`` likeliest
    partial partitions at each place, then the lines put together the same way. With a
    ``length`` (the fewest and most digits), only partitions of that many digits, the
    ``width`` likeliest of each count kept apart."""
    def key(digits: int) -> int:
        return digits if length is not None else 0

    most = math.inf if length is None else length[1]
    by_line: list[list[int]] = [[] for _ in layout.segments]
    for index, candidate in enumerate(layout.candidates):
        by_line[candidate.line].append(index)
    found: dict[int, list[Partial]] = {0: [(0.0, 0, ())]}
    for count, mine in zip(layout.segments, by_line, strict=True):
        ending: list[list[int]] = [[] for _ in range(count + 1)]
        skip = np.full(count, -np.inf)
        for index in mine:
            candidate = layout.candidates[index]
            ending[candidate.stop].append(index)
            if candidate.stop == candidate.start + 1:
                skip[candidate.start] = values.leave[index]
        places: list[dict[int, list[Partial]]] = [{0: [(0.0, 0, ())]}]
        for stop in range(1, count + 1):
            here: dict[int, list[Partial]] = defaultdict(list)
            for partial in places[stop - 1].values():
                for value, digits, path in partial:
                    here[key(digits)].append((value + skip[stop - 1], digits, path))
            for index in ending[stop]:
                for partial in places[layout.candidates[index].start].values():
                    for value, digits, path in partial:
                        for option, text in values.options[index]:
                            if digits + len(text) <= most:
                                here[key(digits + len(text))].append(
                                    (value + option, digits + len(text), (*path, (index, text))))
            places.append({group: _best(partial, width) for group, partial in here.items()})
        joined: dict[int, list[Partial]] = defaultdict(list)
        for partial in found.values():
            for value, digits, lines in partial:
                for line in places[count].values():
                    for extra, more, path in line:
                        if digits + more <= most:
                            joined[key(digits + more)].append(
                                (value + extra, digits + more, (*lines, path)))
        found = {group: _best(partial, width) for group, partial in joined.items()}
    every = [Partition(value, lines) for partial in found.values()
             for value, digits, lines in partial if length is None or digits >= length[0]]
    return sorted(every, key=lambda partition: -partition.score)


def _best(partial: list[Partial], width: int) -> list[Partial]:
    """The ``width`` likeliest, in the order found among equals."""
    return sorted(partial, key=lambda item: -item[0])[:width]


def chosen(found: list[Partition], fitting: list[Partition]) -> Partition | None:
    """The partition read: the likeliest of a length asked for (``fitting``) where there is
    one, else the likeliest of all (``found``)."""
    return fitting[0] if fitting else found[0] if found else None


def alternatives(found: list[Partition], number: str) -> list[tuple[str, float]]:
    """Up to ``ALTERNATIVES`` other numbers than ``number`` that the likeliest partitions
    spell, each with its probability among the different numbers they spell."""
    best: dict[str, float] = {}
    for partition in found:
        best.setdefault(partition.number, partition.score)
    names = list(best)
    scores = torch.softmax(torch.tensor([best[name] for name in names]), dim=0).tolist()
    return [(name, probability) for name, probability in zip(names, scores, strict=True)
            if name and name != number][:ALTERNATIVES]


def left_out(layout: Layout, reading: list[list[int]]) -> list[int]:
    """The one-segment candidates whose segment ``reading`` leaves out."""
    covered = {(layout.candidates[i].line, segment) for line in reading for i in line
               for segment in range(layout.candidates[i].start, layout.candidates[i].stop)}
    return [i for i, candidate in enumerate(layout.candidates)
            if candidate.stop == candidate.start + 1
            and (candidate.line, candidate.start) not in covered]
