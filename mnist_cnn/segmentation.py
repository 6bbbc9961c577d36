"""Find the digits in a picture's ink: the marks, the lines of writing, and where one digit ends.

The ink (``mnist_cnn.ink``) still holds things that are not writing: ruled and squared paper,
a box drawn around a number, underlines, page edges, specks. Those are removed first. What is
left is cut into connected marks, gathered into lines of writing (top to bottom) and, within a
line, into *segments* (left to right): marks that stand above one another (a 5's detached bar,
the two strokes of a 4) are one segment, and a segment too wide for one digit is offered cuts at
the thin points of its ink. Which runs of segments are digits is for the network to judge:
``candidates`` lists the plausible runs, and ``best_reading`` picks the partition of each line
whose digits read most confidently.
"""

from dataclasses import dataclass

import cv2
import numpy as np

MAX_MARKS = 300
"""Connected marks considered per picture, largest first: a page of noise or thousands of specks
stays cheap, and no handwritten number has this many."""
MAX_DIGIT_SEGMENTS = 3
"""A digit is at most this many segments: a broken stroke, a detached bar, or a cut too many."""
SPECK_AREA = 0.03
"""Marks smaller than this share of the largest mark's area..."""
SPECK_SIZE = 0.3
"""... and smaller than this share of the tallest mark's height are specks, not writing."""
RULE_SPAN = 0.75
"""A straight line this long a share of the picture may be a rule of the paper, a frame or an
underline..."""
RULE_OVER_WRITING = 1.8
"""... when it is also this many times longer than the writing is tall..."""
RULED_LINES = 3
"""... or when there are this many such lines and all the writing touches them."""
FRAME_COVER = 0.75
"""A mark whose bounding box's four sides are inked along this share of their length is a box
drawn around the writing."""
CUT_FROM = 0.8
"""Segments wider than this many line heights may be two or more touching digits."""
WIDEST_DIGIT = 1.15
"""Runs wider than this many line heights are never one digit."""
SAME_DIGIT_GAP = 0.35
"""Segments further apart than this many line heights are never parts of one digit."""
CUT_COST = 1.5
"""Log-odds against cutting through ink: a cut must make both sides read clearly better."""
WIDTH_COST = 4.0
"""Log-odds against a digit wider than it is high, per squared excess."""
DIGIT_BONUS = 0.0
"""Log-odds for each digit read, against merging what should stay apart."""


@dataclass(frozen=True)
class Candidate:
    """A run of segments ``start:stop`` of line ``line`` that may be one digit.

    ``box``: ``(x, y, width, height)`` in the picture's pixels; ``prior``: the log-odds its
    shape gives it (wider than a digit, cut through ink: lower).
    """

    line: int
    start: int
    stop: int
    box: tuple[int, int, int, int]
    prior: float


@dataclass(frozen=True)
class Layout:
    """The candidates of a picture, their ink (cropped, white on black) and how many segments
    each line of writing has."""

    candidates: list[Candidate]
    inks: list[np.ndarray]
    segments: list[int]


def _straight_lines(mask: np.ndarray, axis: int) -> np.ndarray:
    """Pixels of ``mask`` on straight horizontal (axis 1) or vertical (axis 0) runs most of
    ``RULE_SPAN`` of the picture long, allowing a slight tilt."""
    length = max(3, int(0.8 * RULE_SPAN * mask.shape[axis]))
    along = np.ones((1, length) if axis == 1 else (length, 1), np.uint8)
    across = np.ones((3, 1) if axis == 1 else (1, 3), np.uint8)
    runs = cv2.morphologyEx(cv2.dilate(mask.view(np.uint8), across), cv2.MORPH_OPEN, along)
    return cv2.dilate(runs, across).view(bool) & mask


def _labelled(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Connected marks of ``mask``: the label of each pixel, and each label's statistics
    (OpenCV's x, y, width, height, area; row 0 is the background)."""
    _, labels, stats = cv2.connectedComponentsWithStats(mask.view(np.uint8), connectivity=8)[:3]
    return labels, stats


def _free_writing_height(mask: np.ndarray, lines: np.ndarray, spans: np.ndarray,
                         line_labels: np.ndarray) -> int:
    """How tall the writing is that stands in its own right once straight lines are taken out.

    What is left of a mark that held a line counts, with the whole mark's height, only if it is
    tall beside that line (the loop of a 9 beside its stem); a 1's flag, or a digit's stub where
    it crossed a rule, does not.
    """
    marks, mark_stats = _labelled(mask)
    longest = np.zeros(len(mark_stats), dtype=np.int64)
    np.maximum.at(longest, marks[lines], spans[line_labels[lines]])
    rest, rest_stats = _labelled(mask & ~lines)
    if len(rest_stats) < 2:
        return 0
    owner = np.zeros(len(rest_stats), dtype=np.int64)
    owner[rest.ravel()] = marks.ravel()
    heights = rest_stats[1:, cv2.CC_STAT_HEIGHT]
    big = rest_stats[1:, cv2.CC_STAT_AREA] >= SPECK_AREA * mark_stats[1:, cv2.CC_STAT_AREA].max()
    free = big & (heights >= 0.5 * longest[owner[1:]])
    return int(mark_stats[owner[1:][free], cv2.CC_STAT_HEIGHT].max(initial=0))


def remove_rules(mask: np.ndarray) -> np.ndarray:
    """Remove ruled and squared paper, long frames and underlines; mend the strokes they crossed.

    A straight line is a rule when it spans most of the picture and is far longer than the
    free writing is tall, or when there are several such lines and no free writing (every
    digit touches the ruling). A digit's own straight stroke is never that much longer than
    the digit, and a tall 1 (or two) alone is kept.
    """
    for axis in (1, 0):
        candidates = _straight_lines(mask, axis)
        if not candidates.any():
            continue
        labels, stats = _labelled(candidates)
        spans = stats[:, cv2.CC_STAT_WIDTH if axis == 1 else cv2.CC_STAT_HEIGHT]
        long_enough = spans >= RULE_SPAN * mask.shape[axis]
        long_enough[0] = False
        if not long_enough.any():
            continue
        lines = long_enough[labels]
        writing = _free_writing_height(mask, lines, spans, labels)
        if writing:
            rules = long_enough & (spans >= RULE_OVER_WRITING * writing)
        else:
            rules = long_enough if np.count_nonzero(long_enough) >= RULED_LINES else long_enough & False
        if not rules.any():
            continue
        ruled = rules[labels]
        thickness = int(np.ceil(np.count_nonzero(ruled) / spans[rules].sum())) + 2
        across = np.ones((thickness, 1) if axis == 1 else (1, thickness), np.uint8)
        kept = mask & ~ruled
        bridged = cv2.morphologyEx(kept.view(np.uint8), cv2.MORPH_CLOSE, across).view(bool)
        mask = kept | (ruled & bridged)
    return mask


def _frame_band(stats_row: np.ndarray, stroke: float) -> int:
    width, height = stats_row[cv2.CC_STAT_WIDTH], stats_row[cv2.CC_STAT_HEIGHT]
    return max(2, min(round(2 * stroke), min(width, height) // 5))


def remove_frames(mask: np.ndarray, stroke: float) -> np.ndarray:
    """Remove boxes drawn around the writing: marks inked along all four sides of their box that
    hold other ink inside."""
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask.view(np.uint8), connectivity=8)
    if count < 2:
        return mask
    tallest = stats[1:, cv2.CC_STAT_HEIGHT].max()
    for label in np.argsort(-stats[1:, cv2.CC_STAT_AREA])[:8] + 1:
        x, y, width, height, _ = stats[label]
        if height < 0.5 * tallest or min(width, height) < 10:
            continue
        own = labels[y:y + height, x:x + width] == label
        band = _frame_band(stats[label], stroke)
        sides = (own[:band].any(0), own[-band:].any(0), own[:, :band].any(1), own[:, -band:].any(1))
        if min(float(side.mean()) for side in sides) < FRAME_COVER:
            continue
        inside = mask[y + band:y + height - band, x + band:x + width - band]
        if np.count_nonzero(inside) < 0.1 * np.count_nonzero(own):
            continue
        box = mask[y:y + height, x:x + width]
        ring = own.copy()
        ring[band:-band, band:-band] = False
        box[ring] = False
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


def _marks(mask: np.ndarray) -> tuple[list[_Mark], np.ndarray]:
    """Connected marks, largest first, at most ``MAX_MARKS``, without specks."""
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask.view(np.uint8), connectivity=8)
    if count < 2:
        return [], labels
    order = np.argsort(-stats[1:, cv2.CC_STAT_AREA], kind="stable")[:MAX_MARKS] + 1
    largest = stats[order[0], cv2.CC_STAT_AREA]
    tallest = max(stats[order, cv2.CC_STAT_HEIGHT].max(), stats[order, cv2.CC_STAT_WIDTH].max())
    marks = []
    for label in order:
        x, y, width, height, area = (int(value) for value in stats[label])
        if area < SPECK_AREA * largest and max(width, height) < SPECK_SIZE * tallest:
            continue
        marks.append(_Mark(x, y, width, height, area, [int(label)]))
    return marks, labels


def _stack(marks: list[_Mark]) -> list[_Mark]:
    """Join marks that stand above one another within one digit's reach: a 5's detached bar, a
    4 in two strokes, a stroke broken by a faint pen."""
    heights = sorted(mark.height for mark in marks)
    typical = heights[len(heights) // 2]
    joined: list[_Mark] = []
    for mark in sorted(marks, key=lambda m: -m.area):
        for other in joined:
            across = _overlap(mark.x, mark.right, other.x, other.right)
            gap = max(mark.y, other.y) - min(mark.bottom, other.bottom)
            height = max(mark.bottom, other.bottom) - min(mark.y, other.y)
            if (across >= 0.5 * min(mark.width, other.width)
                    and gap <= 0.3 * max(mark.height, other.height)
                    and (len(marks) < 3 or height <= 1.4 * max(typical, other.height))):
                other.absorb(mark)
                break
        else:
            joined.append(mark)
    return joined


def _lines(marks: list[_Mark]) -> list[list[_Mark]]:
    """Marks gathered into lines of writing by their vertical overlap, top to bottom; each line
    left to right."""
    lines: list[tuple[list[int], list[_Mark]]] = []
    for mark in sorted(marks, key=lambda m: -m.height):
        best, best_share = None, 0.0
        for span, members in lines:
            share = _overlap(mark.y, mark.bottom, *span) / max(min(mark.height, span[1] - span[0]), 1)
            if share > best_share:
                best, best_share = (span, members), share
        if best is not None and best_share >= 0.5:
            best[1].append(mark)
        else:
            lines.append(([mark.y, mark.bottom], [mark]))
    lines.sort(key=lambda line: line[0][0] + line[0][1])
    return [sorted(members, key=lambda m: m.x + m.width / 2) for _, members in lines]


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
    cut_before: bool
    """Whether the segment begins where a mark was cut in two."""


@dataclass(frozen=True)
class _Line:
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


def _line(marks: list[_Mark], labels: np.ndarray, intensity: np.ndarray) -> _Line:
    top, bottom = min(m.y for m in marks), max(m.bottom for m in marks)
    left, right = min(m.x for m in marks), max(m.right for m in marks)
    window = labels[top:bottom, left:right]
    owner = np.zeros(window.shape, dtype=np.int32)
    segments: list[_Segment] = []
    for mark in marks:
        own = np.isin(window, mark.labels)
        x0, x1 = mark.x - left, mark.right - left
        wide = mark.width > CUT_FROM * (bottom - top)
        cuts = _thin_points(np.count_nonzero(own[:, x0:x1], axis=0), bottom - top) if wide else []
        edges = [x0, *(x0 + cut for cut in cuts), x1]
        for index, (start, stop) in enumerate(zip(edges, edges[1:], strict=False)):
            segments.append(_Segment(start, stop, cut_before=index > 0))
            columns = own[:, start:stop]
            owner[:, start:stop][columns] = len(segments)
    ink = np.where(owner > 0, intensity[top:bottom, left:right], 0.0).astype(np.float32)
    return _Line(top, left, ink, owner, segments)


def _candidate(line: _Line, number: int, start: int,
               stop: int) -> tuple[Candidate, np.ndarray] | None:
    run = line.segments[start:stop]
    height = line.height
    for before, after in zip(run, run[1:], strict=False):
        if not after.cut_before and after.left - before.right > SAME_DIGIT_GAP * height:
            return None
    left, right = min(s.left for s in run), max(s.right for s in run)
    width = right - left
    if stop - start > 1 and width > WIDEST_DIGIT * height:
        return None
    mine = (line.owner[:, left:right] > start) & (line.owner[:, left:right] <= stop)
    ink = np.where(mine, line.ink[:, left:right], 0.0)
    rows = np.flatnonzero(ink.any(1))
    if not len(rows):
        return None
    after = line.segments[stop] if stop < len(line.segments) else None
    cuts = run[0].cut_before + (after is not None and after.cut_before)
    prior = -CUT_COST / 2 * cuts - WIDTH_COST * max(0.0, width / height - 1.0) ** 2
    box = (line.left + left, line.top + int(rows[0]), width, int(rows[-1] - rows[0] + 1))
    return Candidate(number, start, stop, box, prior), ink[rows[0]:rows[-1] + 1]


def find_candidates(ink_mask: np.ndarray, intensity: np.ndarray, stroke: float) -> Layout:
    """Every run of segments that may be a digit, line by line, top to bottom."""
    mask = remove_frames(remove_rules(ink_mask.copy()), stroke)
    marks, labels = _marks(mask)
    layout = Layout([], [], [])
    if not marks:
        return layout
    for number, members in enumerate(_lines(_stack(marks))):
        line = _line(members, labels, intensity)
        count = len(line.segments)
        for start in range(count):
            for stop in range(start + 1, min(start + MAX_DIGIT_SEGMENTS, count) + 1):
                found = _candidate(line, number, start, stop)
                if found is not None:
                    layout.candidates.append(found[0])
                    layout.inks.append(found[1])
        layout.segments.append(count)
    return layout


def whole(intensity: np.ndarray) -> Layout:
    """All the ink as one digit: for pictures known to hold exactly one."""
    rows, cols = np.flatnonzero(intensity.any(1)), np.flatnonzero(intensity.any(0))
    box = (int(cols[0]), int(rows[0]), int(cols[-1] - cols[0] + 1), int(rows[-1] - rows[0] + 1))
    crop = intensity[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    return Layout([Candidate(0, 0, 1, box, 0.0)], [crop], [1])


def best_reading(layout: Layout, scores: np.ndarray) -> list[list[int]]:
    """For each line, the candidates (indices into ``layout.candidates``) that partition its
    segments with the highest total of ``scores`` (the network's log confidence) and priors."""
    reading = []
    for number, count in enumerate(layout.segments):
        best = np.full(count + 1, -np.inf)
        best[0] = 0.0
        choice = np.full(count + 1, -1)
        mine = [i for i, c in enumerate(layout.candidates) if c.line == number]
        for index in sorted(mine, key=lambda i: layout.candidates[i].stop):
            candidate = layout.candidates[index]
            value = best[candidate.start] + scores[index] + candidate.prior + DIGIT_BONUS
            if value > best[candidate.stop]:
                best[candidate.stop], choice[candidate.stop] = value, index
        chosen, stop = [], count
        while stop > 0:
            index = int(choice[stop])
            chosen.append(index)
            stop = layout.candidates[index].start
        reading.append(chosen[::-1])
    return reading
