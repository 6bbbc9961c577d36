"""Find the digits in a picture's ink: the marks, the lines of writing, and where one digit ends.

The ink (``ink``) still holds things that are not writing: ruled and squared paper, a box drawn
around a number, underlines, page edges, specks. Those are removed first. What is
left is cut into connected marks, gathered into lines of writing (top to bottom) and, within a
line, into *segments* (left to right): marks that stand above one another (a 5's detached bar)
are one segment, and a mark too wide for one digit is offered cuts along the paths that cross
least ink. Which runs of segments are digits (a 4 written in two strokes is two segments, one
digit) is for the networks to judge: ``find_candidates`` lists the plausible runs, and
``scoring`` picks the partition of each line that reads best.
"""

import itertools
import math
from dataclasses import dataclass, field, replace

import cv2
import numpy as np

from mnist_cnn.reading.ink import SPECK_AREA, Ink, label_marks, median, stroke_width

MAX_MARKS = 300
"""Connected marks considered per picture, largest first: a page of noise or thousands of specks
stays cheap, and no handwritten number has this many."""
MAX_DIGIT_SEGMENTS = 3
"""A digit is at most this many segments: a broken stroke, a detached bar, or a cut too many."""
SPECK_SIZE = 0.3
"""Marks smaller than ``SPECK_AREA`` of the largest mark's area and this share of the tallest
mark's height are specks, not writing."""
RULE_SPAN = 0.75
"""A straight line this long a share of the picture may be a rule of the paper, a frame or an
underline..."""
RULE_OVER_WRITING = 1.8
"""... when it is also this many times longer than the writing is tall..."""
RULE_TILT = 0.03
"""Rules may climb or fall by this share of their length (a photo is never quite square)."""
RULE_BREAK = 0.05
"""Breaks in a rule up to this share of the picture are bridged when looking for rules."""
RULE_INKED = 0.8
"""A rule is inked along this share of its length at least (a row of digits is not)."""
THIN_RULE = 0.6
"""... or when it is this much thinner than the pen..."""
FAINT_RULE = 0.6
"""... or this much fainter than the writing..."""
RULED_LINES = 3
"""... or when there are this many such lines and all the writing touches them."""
MAX_FRAMES = 8
"""The largest marks looked at as possible frames."""
FRAME_COVER = 0.75
"""A mark whose bounding box's four sides are inked along this share of their length is a box
drawn around the writing."""
STACKED = 0.25
"""Marks overlapping vertically by more than this share of the shorter are side by side, not
one above the other."""
EDGE_SPAN = 0.5
"""A thin mark along the picture's edge for this share of it is the edge of a page or a rule
cut off by the frame..."""
EDGE_THIN = 0.15
"""... when it is at most this share as wide as it is long."""
HAIRLINE = 0.5
"""A long mark this much finer than the pen is no writing..."""
HAIRLINE_LENGTH = 4
"""... when it is at least this many times longer than it is wide."""
LINE_MIN = 0.45
"""Lines of writing less than this share as tall as the tallest are not writing (a shadow's
sliver, a row of specks)."""
LINE_GAP = 0.2
"""Bands of writing further apart than this share of the shorter one's height are separate
lines (numbers); closer ones are one."""
CUT_FROM = 0.8
"""Marks wider than this many line heights may be two or more touching digits..."""
CUT_ALONE_FROM = 1.5
"""... or this many, when the mark is alone on its line (a wide 0 or 4 is one digit)."""
CUT_REACH = 0.25
"""A cut may wander this many line heights either side of the thin point it starts from..."""
SIDESTEP = 0.05
"""... each step aside costing as much as crossing this much ink."""
WIDEST_DIGIT = 1.6
"""Runs wider than this many line heights are never one digit."""
SAME_DIGIT_GAP = 0.35
"""Segments further apart than this many line heights are never parts of one digit."""
STACKED_WIDTH = 1.0
"""Marks that stand over one another are one digit, read whole, when together they are no wider
than this many times their height (a 5's detached bar, a stroke broken by a faint pen)..."""
DIGIT_HOLES = 3
"""... and hold no more enclosed holes than this (an 8 has two): a lattice of squared paper has
more."""
PATTERN = 0.1
"""Faint marks away from the writing, this share of its ink or more, are a printed pattern
(ruled or squared paper) that the writing may touch: no short path then."""


@dataclass(frozen=True)
class Candidate:
    """A run of segments ``start:stop`` of line ``line`` that may be one digit.

    ``box``: ``(x, y, width, height)`` in the picture's pixels; ``width`` and ``height``: its
    size in line heights; ``cut_strokes``: how many strokes the cuts on its sides cross.
    """

    line: int
    start: int
    stop: int
    box: tuple[int, int, int, int]
    width: float = 1.0
    height: float = 1.0
    cut_strokes: float = 0.0
    offset: float = 0.0
    """How far its top lies below the line's top, in line heights."""
    gaps: tuple[float, float] = (math.inf, math.inf)
    """The paper between it and the segments before and after it, in line heights (negative:
    they overlap; ``inf``: none)."""
    marks: int = 1
    """How many separate marks it holds (pieces of one mark, parted by cuts, count once):
    digits that touch or overlap are one mark."""


@dataclass(frozen=True)
class Layout:
    """The candidates of a picture, their ink (cropped, white on black), how many segments
    each line of writing has, and the lines (for what surrounds each candidate)."""

    candidates: list[Candidate]
    inks: list[np.ndarray]
    segments: list[int]
    lines: list["Line"] = field(default_factory=list)


def _free_writing_height(labelled: tuple[np.ndarray, np.ndarray], mask: np.ndarray,
                         lines: np.ndarray, spans: np.ndarray) -> int:
    """How tall the writing is that stands in its own right once straight ``lines`` are taken
    out of ``mask`` (``labelled``: its marks; ``spans``: each line pixel's line length).

    What is left of a mark that held a line counts, with the whole mark's height, only if it is
    tall beside that line (the loop of a 9 beside its stem); a 1's flag, or a digit's stub where
    it crossed a rule, does not.
    """
    marks, mark_stats = labelled
    longest = np.zeros(len(mark_stats), dtype=np.int64)
    np.maximum.at(longest, marks[lines], spans[lines])
    rest, rest_stats = label_marks(mask & ~lines)
    if len(rest_stats) < 2:
        return 0
    owner = np.zeros(len(rest_stats), dtype=np.int64)
    owner[rest.ravel()] = marks.ravel()
    heights = rest_stats[1:, cv2.CC_STAT_HEIGHT]
    big = rest_stats[1:, cv2.CC_STAT_AREA] >= SPECK_AREA * mark_stats[1:, cv2.CC_STAT_AREA].max()
    free = big & (heights >= 0.5 * longest[owner[1:]])
    return int(mark_stats[owner[1:][free], cv2.CC_STAT_HEIGHT].max(initial=0))


def _line_fit(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The least-squares line through the points, slope and offset: ``np.polyfit(x, y, 1)``'s
    own computation (the columns scaled, then LAPACK's least squares), without its checks."""
    lhs = np.stack([x + 0.0, np.ones(len(x))], axis=1)
    scale = np.sqrt((lhs * lhs).sum(axis=0))
    lhs /= scale
    return np.linalg.lstsq(lhs, y + 0.0, len(x) * np.finfo(np.float64).eps)[0] / scale


def _line_pixels(band: np.ndarray, marks: np.ndarray) -> np.ndarray | None:
    """The pixels of the one straight, horizontal-ish line that runs through ``band``: a line
    fitted to the middle of the marks in each column (columns where writing crosses it, much
    thicker than the line, left out), and the line's own thickness around it."""
    inside = band & marks
    columns = np.flatnonzero(inside.any(0))
    if len(columns) < 2:
        return None
    counts = np.count_nonzero(inside[:, columns], axis=0)
    rows = np.arange(inside.shape[0])[:, None]
    middles = (inside[:, columns] * rows).sum(0) / counts
    thickness = median(counts)
    plain = counts <= 1.5 * thickness
    slope, offset = _line_fit(columns[plain], middles[plain])
    distance = np.abs(rows - (slope * np.arange(inside.shape[1]) + offset))
    line = (distance <= thickness / 2 + 0.5) & marks
    if np.count_nonzero(line.any(0)) < RULE_INKED * inside.shape[1]:
        return None
    return line


_NO_LINES = (np.zeros((1, 1), dtype=np.int32), np.zeros(1, dtype=np.int64), np.zeros(1))


def _spans(marks: np.ndarray, axis: int) -> bool:
    """Whether some band of rows (columns, for axis 0), as high as a rule may climb, holds
    marks across enough of the picture for a rule: a cheap test before looking for one."""
    length = marks.shape[axis]
    if np.count_nonzero(marks.any(axis=1 - axis)) < RULE_SPAN * length:
        return False
    slack = max(1, round(RULE_TILT * length))
    across = np.ones((2 * slack + 1, 1) if axis == 1 else (1, 2 * slack + 1), np.uint8)
    band = cv2.dilate(marks.view(np.uint8), across)
    return int(np.count_nonzero(band, axis=axis).max()) >= RULE_INKED * RULE_SPAN * length


def _long_lines(marks: np.ndarray, axis: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Straight lines spanning ``RULE_SPAN`` of the picture, horizontal (axis 1) or vertical
    (axis 0), tilted a little and with short breaks (a faint rule is not inked all along):
    each line's pixels labelled, and each label's span and thickness: the median over its
    columns, so the strokes that cross it do not thicken it (label 0: none)."""
    work = marks if axis == 1 else marks.T
    length = work.shape[1]
    slack = max(1, round(RULE_TILT * length))
    across = np.ones((2 * slack + 1, 1), np.uint8)
    thick = cv2.dilate(work.view(np.uint8), across)
    joined = cv2.morphologyEx(thick, cv2.MORPH_CLOSE,
                              np.ones((1, max(3, int(RULE_BREAK * length))), np.uint8))
    runs = cv2.morphologyEx(joined, cv2.MORPH_OPEN,
                            np.ones((1, max(3, int(0.8 * RULE_SPAN * length))), np.uint8))
    bands, stats = label_marks(runs.view(bool))
    labels = np.zeros(work.shape, dtype=np.int32)
    spans, thicknesses = [0], [0.0]
    for band in np.flatnonzero(stats[:, cv2.CC_STAT_WIDTH] >= RULE_SPAN * length):
        if band == 0:
            continue
        x, y, width, height, _ = stats[band]
        window = (slice(max(0, y - slack), y + height + slack), slice(x, x + width))
        inside = cv2.dilate((bands[window] == band).view(np.uint8), across).view(bool)
        line = _line_pixels(inside, work[window])
        if line is None:
            continue
        columns = np.flatnonzero(line.any(0))
        if len(columns) and columns[-1] - columns[0] + 1 >= RULE_SPAN * length:
            labels[window][line] = len(spans)
            spans.append(int(columns[-1] - columns[0] + 1))
            thicknesses.append(median(np.count_nonzero(line[:, columns], axis=0)))
    if axis == 0:
        labels = np.ascontiguousarray(labels.T)
    return labels, np.array(spans), np.array(thicknesses)


def _attached_height(labelled: tuple[np.ndarray, np.ndarray], line: np.ndarray) -> int:
    """How tall the writing joined to a horizontal ``line`` stands (the line included), from
    the writing's marks (``label_marks``)."""
    labels, stats = labelled
    return int(stats[np.unique(labels[line & (labels > 0)]), cv2.CC_STAT_HEIGHT].max(initial=0))


def remove_rules(ink: Ink) -> np.ndarray:
    """Remove ruled and squared paper, long frames and underlines; mend the strokes they crossed.

    A straight line spanning most of the picture is a rule when it is thinner or fainter than
    the writing (medians along the line: the strokes crossing it do not count), or far longer
    than the writing is tall: for a horizontal line, the writing joined to it (a 7's bar is
    never much longer than the 7 is tall); for a vertical one, the writing that stands free of
    it (a tall 1 alone, or two, is kept), or when there are several and all the writing touches
    them.
    """
    mask, intensity = ink.mask, ink.intensity
    marks = ink.marks | mask
    reaching = [_spans(marks, axis) for axis in (1, 0)]
    if not any(reaching):
        return mask
    found = [_long_lines(marks, axis) if reach else _NO_LINES
             for axis, reach in zip((1, 0), reaching, strict=True)]
    lines = ((found[0][0] > 0) | (found[1][0] > 0)) & mask
    rest = mask & ~lines
    if not lines.any() or not rest.any():
        return mask
    pen, level = stroke_width(rest), float(intensity[rest].mean())
    spans = np.zeros(mask.shape, dtype=np.int64)
    for labels, line_spans, _ in found:
        np.maximum(spans, line_spans[labels] * (labels > 0), out=spans)
    free = _free_writing_height(ink.labelled(), mask, lines, spans)
    for axis, (labels, line_spans, thicknesses) in zip((1, 0), found, strict=True):
        rules = np.zeros(len(line_spans), dtype=bool)
        # Horizontal rules are judged first, on the ink's own marks: nothing is erased yet.
        writing_marks = ink.labelled() if axis == 1 and labels.any() else None
        for label in np.unique(labels[labels > 0]):
            line = labels == label
            writing = _attached_height(writing_marks, line) if axis == 1 else free
            rules[label] = (thicknesses[label] <= THIN_RULE * pen
                            or float(np.median(intensity[line])) <= FAINT_RULE * level
                            or 0 < writing * RULE_OVER_WRITING <= line_spans[label])
        several = len(np.unique(labels)) - 1 >= RULED_LINES
        if not rules.any() and free == 0 and several:
            rules[np.unique(labels[labels > 0])] = True
        for label in np.flatnonzero(rules):
            mask = _erase_mending(mask, labels == label, axis)
    return mask


def _erase_mending(mask: np.ndarray, rule: np.ndarray, axis: int) -> np.ndarray:
    """``mask`` without the ``rule``'s pixels, except where a stroke crosses it: ink on both
    sides of the rule, within its thickness, joins up again."""
    thickness = int(np.count_nonzero(rule, axis=axis - 1).max())
    reach = 2 * thickness + 1
    across = np.ones((reach, 1) if axis == 1 else (1, reach), np.uint8)
    kept = mask & ~rule
    bridged = cv2.morphologyEx(kept.view(np.uint8), cv2.MORPH_CLOSE, across).view(bool)
    return kept | (rule & mask & bridged)


def remove_frames(mask: np.ndarray, stroke: float,
                  labelled: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    """Remove boxes drawn around the writing: marks inked along all four sides of their box
    with other writing inside (a boxy or thick 0 has none). ``labelled``: ``mask``'s marks,
    when already known. Returns ``mask`` itself when there is no box."""
    labels, stats = labelled or label_marks(mask)
    if len(stats) < 2:
        return mask
    original = mask
    tallest = stats[1:, cv2.CC_STAT_HEIGHT].max()
    for label in np.argsort(-stats[1:, cv2.CC_STAT_AREA])[:MAX_FRAMES] + 1:
        x, y, width, height, _ = stats[label]
        band = max(2, min(round(2 * stroke), min(width, height) // 5))
        if height < 0.5 * tallest or min(width, height) < 5 * band:
            continue
        own = labels[y:y + height, x:x + width] == label
        sides = (own[:band].any(0), own[-band:].any(0), own[:, :band].any(1), own[:, -band:].any(1))
        if min(float(side.mean()) for side in sides) < FRAME_COVER:
            continue
        inner = (slice(y + band, y + height - band), slice(x + band, x + width - band))
        _, inside_stats = label_marks(mask[inner] & (labels[inner] != label))
        if inside_stats[1:, cv2.CC_STAT_HEIGHT].max(initial=0) < 0.3 * height:
            continue
        ring = own.copy()
        ring[band:-band, band:-band] = False
        mask = mask.copy() if mask is original else mask
        mask[y:y + height, x:x + width][ring] = False
    return mask


@dataclass
class _Mark:
    x: int
    y: int
    width: int
    height: int
    area: int
    labels: list[int]

    @property
    def right(self) -> int:
        return self.x + self.width

    @property
    def bottom(self) -> int:
        return self.y + self.height

    def absorb(self, other: "_Mark") -> None:
        right, bottom = max(self.right, other.right), max(self.bottom, other.bottom)
        self.x, self.y = min(self.x, other.x), min(self.y, other.y)
        self.width, self.height = right - self.x, bottom - self.y
        self.area += other.area
        self.labels += other.labels


def _overlap(start_a: int, stop_a: int, start_b: int, stop_b: int) -> int:
    return max(0, min(stop_a, stop_b) - max(start_a, start_b))


def _marks(mask: np.ndarray, labels: np.ndarray, stats: np.ndarray,
           pen: float) -> list[_Mark]:
    """Connected marks (``labels`` and ``stats`` label ``mask``), largest first, at most
    ``MAX_MARKS``, without specks, the edges of a page, or hairlines much finer than the pen
    (what is left of a rule)."""
    count = len(stats)
    if count < 2:
        return []
    order = np.argsort(-stats[1:, cv2.CC_STAT_AREA], kind="stable")[:MAX_MARKS] + 1
    largest = stats[order[0], cv2.CC_STAT_AREA]
    tallest = max(stats[order, cv2.CC_STAT_HEIGHT].max(), stats[order, cv2.CC_STAT_WIDTH].max())
    marks = []
    rows, cols = mask.shape
    for label in order:
        x, y, width, height, area = (int(value) for value in stats[label])
        if area < SPECK_AREA * largest and max(width, height) < SPECK_SIZE * tallest:
            continue
        along_edge = ((x == 0 or x + width == cols) and height >= EDGE_SPAN * rows
                      and width <= EDGE_THIN * height) or (
                     (y == 0 or y + height == rows) and width >= EDGE_SPAN * cols
                      and height <= EDGE_THIN * width)
        hairline = max(width, height) >= HAIRLINE_LENGTH * min(width, height) and (
            area / max(width, height) <= HAIRLINE * pen)
        if (along_edge or hairline) and len(order) > 1:
            continue
        marks.append(_Mark(x, y, width, height, area, [int(label)]))
    return marks


def _stack(marks: list[_Mark]) -> list[_Mark]:
    """Join marks that stand above one another within one digit's reach: a 5's detached bar,
    a stroke broken across by a faint pen."""
    heights = sorted(mark.height for mark in marks)
    typical = heights[len(heights) // 2]
    joined: list[_Mark] = []
    for mark in sorted(marks, key=lambda m: -m.area):
        for other in joined:
            across = _overlap(mark.x, mark.right, other.x, other.right)
            gap = max(mark.y, other.y) - min(mark.bottom, other.bottom)
            height = max(mark.bottom, other.bottom) - min(mark.y, other.y)
            if (across >= 0.5 * min(mark.width, other.width)
                    and -STACKED * min(mark.height, other.height) <= gap
                    <= 0.3 * max(mark.height, other.height)
                    and (len(marks) < 3 or height <= 1.4 * max(typical, other.height))):
                other.absorb(mark)
                break
        else:
            joined.append(mark)
    return joined


def _lines(marks: list[_Mark]) -> list[list[_Mark]]:
    """Marks gathered into lines of writing, top to bottom; each line left to right.

    Lines are the bands of rows the marks cover, split where the rows between two bands stay
    empty for a good share of the shorter band's height: a stroke broken by a faint pen leaves
    a much smaller gap than the space between lines of writing.
    """
    bands: list[list[_Mark]] = []
    top = bottom = 0
    for mark in sorted(marks, key=lambda m: m.y):
        if bands:
            gap = mark.y - bottom
            if gap < LINE_GAP * min(mark.height, bottom - top):
                bands[-1].append(mark)
                bottom = max(bottom, mark.bottom)
                continue
        bands.append([mark])
        top, bottom = mark.y, mark.bottom
    return [sorted(band, key=lambda m: m.x + m.width / 2) for band in bands]


def _thin_points(profile: np.ndarray, line_height: int) -> list[int]:
    """Columns where a wide segment is thinnest: where touching digits most likely meet."""
    margin = max(2, int(0.25 * line_height))
    if len(profile) <= 2 * margin:
        return []
    smooth = np.convolve(profile, np.ones(3) / 3, mode="same")
    inner = np.arange(margin, len(profile) - margin)
    order = inner[np.argsort(smooth[inner], kind="stable")]
    cuts: list[int] = []
    wanted = max(1, round(len(profile) / (0.45 * line_height)))
    for column in order:
        if all(abs(column - cut) >= 0.3 * line_height for cut in cuts):
            cuts.append(int(column))
        if len(cuts) >= wanted:
            break
    return sorted(cuts)


@dataclass(frozen=True)
class _Segment:
    left: int
    right: int
    cut_before: float
    """How many strokes the cut that begins the segment crosses (0: it begins a mark)."""


@dataclass(frozen=True)
class Line:
    """One line of writing: its box in the picture, its ink, which segment each pixel belongs
    to (0: none, k: segment k - 1), and the segments left to right."""

    top: int
    left: int
    ink: np.ndarray
    owner: np.ndarray
    segments: list[_Segment]

    @property
    def height(self) -> int:
        return self.ink.shape[0]


def _cut_path(ink: np.ndarray, column: int, reach: int) -> np.ndarray:
    """The top-to-bottom path through ``ink`` near ``column`` that crosses the least ink (a
    step aside costs a little): where two touching digits part, even when they overlap. One
    column per row."""
    height, width = ink.shape
    low, high = max(0, column - reach), min(width, column + reach + 1)
    cost = ink[:, low:high].astype(np.float64) + 1e-3
    total = cost[0].copy()
    came = np.zeros(cost.shape, dtype=np.int64)
    for row in range(1, height):
        options = np.stack([np.r_[np.inf, total[:-1]] + SIDESTEP, total,
                            np.r_[total[1:], np.inf] + SIDESTEP])
        came[row] = np.argmin(options, axis=0) - 1
        total = options[came[row] + 1, np.arange(len(total))] + cost[row]
    path = np.zeros(height, dtype=np.int64)
    path[-1] = int(np.argmin(total))
    for row in range(height - 1, 0, -1):
        path[row - 1] = path[row] + came[row, path[row]]
    return path + low


def _line(marks: list[_Mark], labels: np.ndarray, intensity: np.ndarray) -> Line:
    top, bottom = min(m.y for m in marks), max(m.bottom for m in marks)
    left, right = min(m.x for m in marks), max(m.right for m in marks)
    window = labels[top:bottom, left:right]
    ink = intensity[top:bottom, left:right]
    owner = np.zeros(window.shape, dtype=np.int32)
    segments: list[_Segment] = []
    columns = np.arange(window.shape[1])
    for mark in marks:
        own = np.isin(window, mark.labels)
        x0, x1 = mark.x - left, mark.right - left
        widest = CUT_FROM if len(marks) > 1 else CUT_ALONE_FROM
        wide = mark.width > widest * (bottom - top)
        cuts = _thin_points(np.count_nonzero(own[:, x0:x1], axis=0), bottom - top) if wide else []
        piece = np.zeros(window.shape, dtype=np.int32)
        crossed = [0.0]
        if cuts:  # most marks have none: their ink and pen are not needed
            mark_ink = np.where(own, ink, 0.0)
            pen = max(stroke_width(own), 1.0)
            for cut in cuts:
                path = _cut_path(mark_ink, x0 + cut, int(CUT_REACH * (bottom - top)))
                piece += columns[None, :] >= path[:, None]
                crossed.append(float(mark_ink[np.arange(len(path)), path].sum()) / pen)
        for index in range(len(cuts) + 1):
            pixels = own & (piece == index)
            spread = np.flatnonzero(pixels.any(0))
            if not len(spread):
                continue
            segments.append(_Segment(int(spread[0]), int(spread[-1]) + 1, crossed[index]))
            owner[pixels] = len(segments)
    ink = np.where(owner > 0, ink, 0.0).astype(np.float32)
    return Line(top, left, ink, owner, segments)


def _candidate(line: Line, number: int, start: int, stop: int,
               widest: float = WIDEST_DIGIT) -> tuple[Candidate, np.ndarray] | None:
    run = line.segments[start:stop]
    height = line.height
    for before, after in itertools.pairwise(run):
        if not after.cut_before and after.left - before.right > SAME_DIGIT_GAP * height:
            return None
    left, right = min(s.left for s in run), max(s.right for s in run)
    width = right - left
    if stop - start > 1 and width > widest * height:
        return None
    mine = (line.owner[:, left:right] > start) & (line.owner[:, left:right] <= stop)
    ink = np.where(mine, line.ink[:, left:right], 0.0)
    rows = np.flatnonzero(ink.any(1))
    if not len(rows):
        return None
    after = line.segments[stop] if stop < len(line.segments) else None
    before = line.segments[start - 1] if start > 0 else None
    cut_strokes = run[0].cut_before + (after.cut_before if after is not None else 0.0)
    gaps = (math.inf if before is None else (left - before.right) / height,
            math.inf if after is None else (after.left - right) / height)
    tall = int(rows[-1] - rows[0] + 1)
    box = (line.left + left, line.top + int(rows[0]), width, tall)
    marks = 1 + sum(not segment.cut_before for segment in run[1:])
    candidate = Candidate(number, start, stop, box, width / height, tall / height, cut_strokes,
                          float(rows[0]) / height, gaps, marks)
    return candidate, ink[rows[0]:rows[-1] + 1]


def _holes(mask: np.ndarray) -> int:
    """How many regions of paper ``mask`` encloses: the paper's parts, less the one outside
    (a margin of paper is put around it first)."""
    paper = np.ones((mask.shape[0] + 2, mask.shape[1] + 2), np.uint8)
    paper[1:-1, 1:-1] = ~mask
    count = cv2.connectedComponents(paper, connectivity=4)[0]
    return count - 2  # label 0 is the ink, one label the paper outside


def _rule_like(mark: _Mark, shape: tuple[int, int], height: int, width: int) -> bool:
    """Whether ``mark`` may be a rule beside writing ``height`` tall and ``width`` wide: a thin
    straight mark across most of the picture, far longer than the writing (a 5's bar is not)."""
    rows, cols = shape
    across = (mark.width >= RULE_SPAN * cols and mark.height <= EDGE_THIN * mark.width
              and mark.width >= RULE_OVER_WRITING * height)
    down = (mark.height >= RULE_SPAN * rows and mark.width <= EDGE_THIN * mark.height
            and mark.height >= RULE_OVER_WRITING * width)
    return across or down


def _without_rules(marks: list[_Mark], shape: tuple[int, int]) -> list[_Mark]:
    """``marks`` less the rules among them (``_rule_like``, beside the typical mark): a page's
    rule as dark and thick as the pen stays in the ink, and kept among the writing it would
    make the line as tall as the page and its digits specks."""
    if len(marks) < 2:
        return marks
    height = sorted(m.height for m in marks)[len(marks) // 2]
    width = sorted(m.width for m in marks)[len(marks) // 2]
    return [m for m in marks if not _rule_like(m, shape, height, width)] or marks


def _fills(mask: np.ndarray, pen: float) -> bool:
    """Whether the writing (specks and hairlines left out) spans as much of the picture both
    ways as a rule would: a digit that fills its picture (a scan stretched to its field), not
    one written on the lines of squared paper."""
    marks = _marks(mask, *label_marks(mask), pen)
    if not marks:
        return False
    width = max(m.right for m in marks) - min(m.x for m in marks)
    height = max(m.bottom for m in marks) - min(m.y for m in marks)
    return width >= RULE_SPAN * mask.shape[1] and height >= RULE_SPAN * mask.shape[0]


def _one_digit(ink: Ink, labelled: tuple[np.ndarray, np.ndarray]) -> Layout | None:
    """The whole writing as one digit when it is one compact mark, or marks standing over one
    another within one digit's width, with no mark held inside another (a frame), not the
    lattice of squared paper (more holes than a digit, or lines across the whole picture with
    the writing on them), on paper without printed lines; ``None`` otherwise. Specks are left
    out. Such a picture has no rules, frames or cuts to look for: the short path."""
    labels, stats = labelled
    marks = _marks(ink.mask, labels, stats, ink.stroke)
    if not marks:
        return None
    left, right = min(m.x for m in marks), max(m.right for m in marks)
    top, bottom = min(m.y for m in marks), max(m.bottom for m in marks)
    width, height = right - left, bottom - top
    if len(marks) > 1:
        by_column = sorted(marks, key=lambda m: m.x)
        reach = by_column[0].right
        for mark in by_column[1:]:
            if mark.x >= reach:
                return None  # a column of paper between two marks: digits side by side
            reach = max(reach, mark.right)
        largest = marks[0]
        inside = any(largest.x < m.x and m.right < largest.right and largest.y < m.y
                     and m.bottom < largest.bottom for m in marks[1:])
        if inside or width > STACKED_WIDTH * height:
            return None
    elif width > CUT_ALONE_FROM * height:
        return None  # two digits run together
    window = (slice(top, bottom), slice(left, right))
    writing_labels = np.zeros(len(stats), dtype=bool)
    writing_labels[[label for m in marks for label in m.labels]] = True
    own = writing_labels[labels[window]]
    if _holes(own) > DIGIT_HOLES:
        return None
    # The writing's halo, 2 px around it, is computed only in a window that holds it.
    around = (slice(max(0, top - 2), bottom + 2), slice(max(0, left - 2), right + 2))
    writing = np.zeros(ink.mask[around].shape, np.uint8)
    writing[top - around[0].start:bottom - around[0].start,
            left - around[1].start:right - around[1].start] = own
    halo = cv2.dilate(writing, np.ones((5, 5), np.uint8)).view(bool)
    beyond = np.count_nonzero(ink.marks) - np.count_nonzero(ink.marks[around] & halo)
    if beyond > PATTERN * np.count_nonzero(own):
        return None  # faint lines on the paper: rules or squares the writing may touch
    if len(marks) > 1 and any(_rule_like(m, ink.mask.shape, height, width) for m in marks):
        return None
    if (width, height) == ink.mask.shape[::-1]:
        unruled = remove_rules(ink)
        if unruled is not ink.mask and not _fills(unruled, ink.stroke):
            return None  # lines across the whole picture, the writing on them: squared paper
    crop = np.where(own, ink.intensity[window], 0.0).astype(np.float32)
    return Layout([Candidate(0, 0, 1, (left, top, width, height))], [crop], [1])


def find_candidates(ink: Ink, short_path: bool = True) -> Layout:
    """Every run of segments that may be a digit, line by line, top to bottom. A picture of
    one compact digit (``_one_digit``) has one candidate, found on a short path (``False``:
    the full search, for comparing the two)."""
    intensity = ink.intensity
    labelled = ink.labelled()
    single = _one_digit(ink, labelled) if short_path else None
    if single is not None:
        return single
    framed = remove_frames(ink.mask, ink.stroke, labelled)
    mask = remove_rules(ink if framed is ink.mask
                        else replace(ink, mask=framed, labels=None, stats=None))
    pen = ink.stroke
    if mask is not ink.mask:
        labelled, pen = label_marks(mask), stroke_width(mask)
    marks = _without_rules(_marks(mask, *labelled, pen), mask.shape)
    labels = labelled[0]
    layout = Layout([], [], [])
    if not marks:
        return layout
    lines = _lines(_stack(marks))
    heights = [max(m.bottom for m in members) - min(m.y for m in members) for members in lines]
    lines = [members for members, height in zip(lines, heights, strict=True)
             if height >= LINE_MIN * max(heights)]
    for number, members in enumerate(lines):
        line = _line(members, labels, intensity)
        count = len(line.segments)
        spans = [(start, stop) for start in range(count)
                 for stop in range(start + 1, min(start + MAX_DIGIT_SEGMENTS, count) + 1)]
        found = [_candidate(line, number, start, stop) for start, stop in spans]
        offered = dict(zip(spans, found, strict=True))
        if len(lines) == 1 and count > 1 and offered.get((0, count)) is None:
            # The picture's one line may be one wide or broken digit: the verifier weighs it.
            found.append(_candidate(line, number, 0, count, widest=math.inf))
        for candidate in filter(None, found):
            layout.candidates.append(candidate[0])
            layout.inks.append(candidate[1])
        layout.segments.append(count)
        layout.lines.append(line)
    return layout


def whole(intensity: np.ndarray) -> Layout:
    """All the ink as one digit: for pictures known to hold exactly one."""
    rows, cols = np.flatnonzero(intensity.any(1)), np.flatnonzero(intensity.any(0))
    box = (int(cols[0]), int(rows[0]), int(cols[-1] - cols[0] + 1), int(rows[-1] - rows[0] + 1))
    crop = intensity[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    return Layout([Candidate(0, 0, 1, box)], [crop], [1])
