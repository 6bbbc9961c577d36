"""Tell the ink from the paper: which side is ink, the paper's level around every pixel, and how
far above the paper's noise a stroke must stand.

The paper's level is estimated locally, by a morphological opening wider than the pen: it follows
uneven light, vignetting and the sharp edge of a shadow, which one global threshold or one smooth
surface cannot. Dark ink on light paper is inverted first, so the result is always MNIST's white
ink on black.
"""

import functools
from collections.abc import Callable
from dataclasses import dataclass, replace

import cv2
import numpy as np

MIN_CONTRAST = 0.08
"""Ink must differ from the paper by this much (of full scale) to count at all..."""
BLANK_NOISE_RATIO = 6
"""... and by this many times the paper's noise level..."""
BLANK_SPREAD = 7.2
"""... and, in pictures of ``SMOOTH_FROM`` px or more, stand out from the paper's contrast by
this many times its spread, both read from the lowest third of the picture's contrast, which is
paper even where ink covers half (pure noise reaches 6.6; real ink 7.8 on a patterned cheque,
over 28 on the dev set's digits)."""
SMOOTH_FROM = 48
"""Images at least this large are blurred a little before finding ink, against noise and grain;
smaller ones are usually clean drawings whose thin strokes blurring would fade."""
PEN_SPAN = 6
"""The paper's level is taken over squares this many pen widths wide: wide enough to see past a
stroke crossing or a blot, narrow enough to follow a shadow."""
MOST_INK = 0.25
"""Writing rarely covers more than this share of a picture: when faint marks would, they are a
printed pattern (a cheque's) or paper texture, and only ink nearer the strokes' level counts..."""
WEAK = 0.7
"""... this share of Otsu's split between the faint marks and the strokes. Otherwise all ink
that stands out counts, when it touches a stroke (hysteresis)."""
BORDER = 0.04
"""A picture's border, where the paper should be, is this share of its shorter side wide."""
CLEAR_BORDER = 0.3
"""Otsu's brighter class covering this much more (or less) than half the border settles the
polarity at once."""
LIGHTING_SPAN = 0.5
"""The lighting is the median over squares this share of the picture's short side."""
LIGHTING_SIDE = 96
"""... computed on a copy reduced to about this long a side."""
DIMMEST_PAPER = 0.1
"""Paper in shadow is no darker than this: darker is beyond the page (a book's edge, a table),
where no ink is looked for."""
PANEL_AREA = 0.03
"""A card of other paper covers at least this share of the picture..."""
PANEL_SQUARE = 0.92
"""... its outline fills this share of its bounding box (it is a rectangle)..."""
PANEL_SOLID = 0.6
"""... its paper at least this share of its outline..."""
PANEL_HOLES = 0.005
"""... and the writing on it (its holes) at least this share, in strokes no wider than this
share of the card (a thick 0's counter is no writing)."""
PANEL_STROKES = 0.2
CARD_EDGE = 3
"""Pixels around a card that belong to its edge, not to the page."""
SPECK_AREA = 0.03
"""A piece of ink or paper smaller than this share of the largest piece is a speck."""
UINT16_LABELS = 65535
"""Labels a 16-bit label image holds."""
CHANNELS = 128
"""OpenCV filters at most this many channels of one image at once."""
NOISE_SAMPLES = 2400
"""Paper pixel pairs sampled to measure the paper's noise: plenty, and fast."""
PEN_PIXELS = 4
"""Ink is found where the pen is about this many pixels wide at most: a picture drawn with a
thicker pen is reduced first. Its digit is then still about 30 px tall, more than the 20 px the
network sees, and a large picture costs hardly more than a small one."""

cv2.setNumThreads(1)  # images here are small: threads cost more than they save, and forked
# worker processes must not inherit a thread pool


@dataclass(frozen=True)
class Ink:
    """The ink of one picture, white on black.

    ``intensity``: float32 in [0, 1], 0 on paper; ``mask``: the pixels that are ink;
    ``stroke``: the typical pen width in pixels; ``marks``: every pixel that stands out from the
    paper at all, however faint (printed rules and patterns too), for finding what is not
    writing.
    """

    intensity: np.ndarray
    mask: np.ndarray
    stroke: float
    marks: np.ndarray
    dark_ink: bool = True
    """Whether the ink was darker than the paper."""
    labels: np.ndarray | None = None
    stats: np.ndarray | None = None
    """The mask's connected marks, as ``label_marks`` gives them, when found with the ink."""

    def labelled(self) -> tuple[np.ndarray, np.ndarray]:
        """The mask's connected marks (``label_marks``), labelled once."""
        if self.labels is None or self.stats is None:
            return label_marks(self.mask)
        return self.labels, self.stats


def otsu_threshold(values: np.ndarray) -> float:
    """The level that best splits ``values`` into two classes (Otsu's method, via OpenCV)."""
    low, high = float(values.min()), float(values.max())
    if high - low < 1e-6:
        return high
    levels = ((values - low) * (255.0 / (high - low))).astype(np.uint8)
    level, _ = cv2.threshold(levels, 0, 255, cv2.THRESH_BINARY | cv2.THRESH_OTSU)
    return low + (level + 0.5) * (high - low) / 255.0


def _border_width(shape: tuple[int, ...]) -> int:
    """How wide a picture's border is: ``BORDER`` of its shorter side."""
    return max(1, round(BORDER * min(shape)))


@functools.lru_cache(maxsize=64)
def _border(shape: tuple[int, int]) -> np.ndarray:
    """The picture's border (``_border_width``; read-only: shared by every picture of this
    shape)."""
    width = _border_width(shape)
    mask = np.ones(shape, dtype=bool)
    mask[width:-width, width:-width] = False
    mask.flags.writeable = False
    return mask


def flatten(gray: np.ndarray) -> np.ndarray:
    """``gray`` minus its large-scale lighting: a median over half the picture's short side,
    which follows gradients and keeps the sharp edge of a shadow, while strokes (a minority of
    any such window) barely move it. Computed on a reduced copy: lighting is smooth."""
    factor = max(1, max(gray.shape) // LIGHTING_SIDE)
    small = gray if factor == 1 else cv2.resize(
        gray, (gray.shape[1] // factor, gray.shape[0] // factor), interpolation=cv2.INTER_AREA)
    size = min(255, max(3, _odd(LIGHTING_SPAN * min(small.shape))))
    levels = (np.clip(small, 0.0, 1.0) * 255).astype(np.uint8)
    lighting = cv2.medianBlur(levels, size).astype(np.float32) / 255
    if factor > 1:
        lighting = cv2.resize(lighting, gray.shape[::-1], interpolation=cv2.INTER_LINEAR)
    return gray - lighting


def _dark_on_light(gray: np.ndarray,
                   classes: tuple[float, np.ndarray] | None = None) -> bool:
    """Polarity from Otsu's brighter class: the paper covers most of the border. A tightly
    cropped digit can touch the border, so an undecided border defers to the corners (even a
    fat 8 leaves them), and then to whichever class covers most of the picture. ``classes``:
    ``_border_share(gray)``, when already known."""
    share, bright = classes or _border_share(gray)
    if abs(share - 0.5) > 0.15:
        return share > 0.5
    corners = int(bright[0, 0]) + int(bright[0, -1]) + int(bright[-1, 0]) + int(bright[-1, -1])
    if corners != 2:
        return corners > 2
    return float(bright.mean()) > 0.5


def _border_share(gray: np.ndarray) -> tuple[float, np.ndarray]:
    """How much of the border Otsu's brighter class covers, and that class."""
    bright = gray > otsu_threshold(gray)
    return float(_border_shares(bright[None])[0]), bright


def _border_shares(bright: np.ndarray) -> np.ndarray:
    """The share of each picture's border (``_border``) that ``bright`` covers: all it covers
    less what it covers inside."""
    rows, cols = bright.shape[1:]
    width = _border_width((rows, cols))
    inside = bright[:, width:rows - width, width:cols - width].sum((1, 2))
    border = rows * cols - max(0, rows - 2 * width) * max(0, cols - 2 * width)
    return (bright.sum((1, 2)) - inside) / border


def _polarity(gray: np.ndarray, dark: bool | None = None) -> tuple[bool, np.ndarray]:
    """``_polarities`` of one picture."""
    darks, rough = _polarities(gray[None], None if dark is None else np.array([dark]))
    return bool(darks[0]), rough[0]


def _polarities(stack: np.ndarray, dark: np.ndarray | None = None
                ) -> tuple[np.ndarray, np.ndarray]:
    """Whether the ink is darker than the paper in each picture of a stack, whatever the
    lighting, and a rough mask of the ink (Otsu's ink class), to measure the pen by.
    ``dark``: the answers, when known.

    A border all of one class decides at once. Otherwise the lighting may be what splits it (a
    shadow over part of the page), so the flattened picture (``flatten``) decides; small
    pictures, which are no photos of a page, keep the plain rule.
    """
    thresholds = np.array([otsu_threshold(gray) for gray in stack], np.float32)
    bright = stack > thresholds[:, None, None]
    shares = _border_shares(bright)
    if dark is None:
        dark = np.empty(len(stack), bool)
        plain = (np.abs(shares - 0.5) > CLEAR_BORDER) | (min(stack.shape[1:]) < SMOOTH_FROM)
        for index in np.flatnonzero(plain):
            dark[index] = _dark_on_light(stack[index], (float(shares[index]), bright[index]))
        rough = np.where(dark[:, None, None], ~bright, bright)
        for index in np.flatnonzero(~plain):
            flat = flatten(stack[index])
            dark[index] = _dark_on_light(flat)
            if dark[index]:
                flat = -flat
            rough[index] = flat > otsu_threshold(flat)
        return dark, rough
    return dark, np.where(dark[:, None, None], ~bright, bright)


def ink_is_dark(gray: np.ndarray) -> bool:
    """Whether the ink is darker than the paper, whatever the lighting."""
    return _polarity(gray)[0]


def stroke_width(mask: np.ndarray) -> float:
    """Mean stroke width of a binary drawing: twice its area over its perimeter."""
    area = int(np.count_nonzero(mask))
    if area == 0:
        return 0.0
    edges = (np.count_nonzero(mask[1:] != mask[:-1]) + np.count_nonzero(mask[:, 1:] != mask[:, :-1])
             + np.count_nonzero(mask[0]) + np.count_nonzero(mask[-1])
             + np.count_nonzero(mask[:, 0]) + np.count_nonzero(mask[:, -1]))
    return 2.0 * area / max(edges, 1)


def stroke_widths(masks: np.ndarray) -> np.ndarray:
    """``stroke_width`` of each of a stack of binary drawings (0 for one without ink)."""
    if len(masks) == 1:
        return np.array([stroke_width(masks[0])])
    count = len(masks)

    def counts(part: np.ndarray) -> np.ndarray:
        return part.reshape(count, -1).view(np.uint8).sum(1, dtype=np.int64)

    area = counts(masks)
    edges = (counts(masks[:, 1:] != masks[:, :-1]) + counts(masks[:, :, 1:] != masks[:, :, :-1])
             + counts(masks[:, 0]) + counts(masks[:, -1]) + counts(masks[:, :, 0].copy())
             + counts(masks[:, :, -1].copy()))
    return 2.0 * area / np.maximum(edges, 1)


def _odd(value: float) -> int:
    return int(value) // 2 * 2 + 1


def _filtered(stack: np.ndarray, apply: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """``apply`` (an OpenCV filter) to each picture of a stack: at once, as the channels of one
    image, which OpenCV filters apart, ``CHANNELS`` at a time."""
    if len(stack) == 1:
        return apply(stack[0])[None]
    parts = []
    for start in range(0, len(stack), CHANNELS):
        part = np.ascontiguousarray(np.moveaxis(stack[start:start + CHANNELS], 0, -1))
        parts.append(np.moveaxis(apply(part).reshape(part.shape), -1, 0))
    return np.concatenate(parts)


def paper_level(image: np.ndarray, pen: float) -> np.ndarray:
    """The paper's level under every pixel of ``image`` (bright ink on darker paper): a grey
    opening with a square wider than the pen, so strokes vanish and lighting stays."""
    return paper_levels(image[None], np.array([pen]))[0]


def paper_levels(stack: np.ndarray, pens: np.ndarray) -> np.ndarray:
    """``paper_level`` of each picture of a stack, with its own pen: pictures whose squares
    are as wide are opened together."""
    sizes = np.array([_odd(min(max(PEN_SPAN * pen, 5), max(5, min(stack.shape[1:]) / 2)))
                      for pen in pens])
    levels = (np.clip(stack, 0.0, 1.0) * 65535).astype(np.uint16)  # OpenCV is faster on ints

    def opened(part: np.ndarray, size: int) -> np.ndarray:
        square = cv2.getStructuringElement(cv2.MORPH_RECT, (size, size))
        return _filtered(part, lambda picture: cv2.morphologyEx(
            picture, cv2.MORPH_OPEN, square, borderType=cv2.BORDER_REPLICATE))

    kinds = np.unique(sizes)
    if len(kinds) == 1:  # the usual case: no copies of the stack in and out
        return opened(levels, int(kinds[0])).astype(np.float32) / 65535
    out = np.empty_like(levels)
    for size in kinds:
        out[sizes == size] = opened(levels[sizes == size], int(size))
    return out.astype(np.float32) / 65535


def quantiles(values: np.ndarray, levels: list[float]) -> np.ndarray:
    """``np.quantile(values, levels)`` (linear interpolation) by one partial sort: numpy's own
    costs more in overhead than the sort on the few thousand values read here."""
    flat = values.ravel()
    positions = np.asarray(levels) * (flat.size - 1)
    below = np.floor(positions).astype(np.int64)
    above = np.minimum(below + 1, flat.size - 1)
    ranked = np.partition(flat, np.unique(np.concatenate([below, above])))
    return ranked[below] + (positions - below) * (ranked[above] - ranked[below])


def median(values: np.ndarray) -> float:
    """``np.median`` of a flat array by one partial sort, for the same reason as ``quantiles``
    (in float64, as numpy gives it for integers)."""
    below, above = (values.size - 1) // 2, values.size // 2
    ranked = np.partition(values, (below, above))
    return 0.5 * (float(ranked[below]) + float(ranked[above]))


def _sample(values: np.ndarray) -> np.ndarray:
    """A regular subsample of about ``NOISE_SAMPLES`` values of each picture, for quantiles."""
    every = max(1, int((values[0].size / NOISE_SAMPLES) ** 0.5))
    return values[:, ::every, ::every]


def _noises(stack: np.ndarray, paper: np.ndarray, lag: int,
            light: np.ndarray | np.float32) -> np.ndarray:
    """The noise of each picture's paper: the spread of differences between paper pixels
    ``lag`` apart (far enough to be independent after smoothing), so lighting gradients do
    not count; measured relative to the paper's ``light``, like the contrast."""
    every = max(1, stack[0].size // NOISE_SAMPLES)
    rows = stack[:, ::every] / (light[:, ::every] if np.ndim(light) else light)
    pairs = paper[:, ::every, lag:] & paper[:, ::every, :-lag]
    differences = np.abs(rows[:, :, lag:] - rows[:, :, :-lag])
    noises = np.empty(len(stack))
    for index, (mine, kept) in enumerate(zip(differences, pairs, strict=True)):
        values = mine[kept]
        noises[index] = 1.4826 / 2**0.5 * median(values) if values.size else 0.0
    return noises + 1e-3


def label_marks(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Connected marks of ``mask`` (8-connected): the label of each pixel, and each label's
    statistics (OpenCV's x, y, width, height, area; row 0 is the paper). Labels are 16-bit
    where they fit, which OpenCV counts three times faster: 8-connected marks that touch no
    other are at least a pixel apart, so a mask holds at most one per 2x2 square."""
    rows, cols = mask.shape
    small = (rows + 1) // 2 * ((cols + 1) // 2) < UINT16_LABELS
    _, labels, stats, _ = cv2.connectedComponentsWithStats(
        mask.view(np.uint8), connectivity=8, ltype=cv2.CV_16U if small else cv2.CV_32S)
    return labels, stats


def label_stack(masks: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """``label_marks`` of each of a stack of masks (the same marks, numbered in the same
    order), from one labelling of them all side by side: OpenCV numbers marks in the order of
    the 2x2 blocks it scans, so each mask starts at an even column, a column of paper or more
    after the last. Row 0 of each table is the paper: its area, and the whole mask as its box."""
    count, rows, cols = masks.shape
    if count == 1:
        return [label_marks(masks[0])]
    step = cols + 2 - cols % 2
    side_by_side = np.zeros((rows, count * step), bool)
    for index, mask in enumerate(masks):
        side_by_side[:, index * step:index * step + cols] = mask
    _, labels, stats, _ = cv2.connectedComponentsWithStats(
        side_by_side.view(np.uint8), connectivity=8, ltype=cv2.CV_32S)
    owner = stats[1:, cv2.CC_STAT_LEFT] // step
    order = np.argsort(owner, kind="stable")
    starts = np.searchsorted(owner[order], np.arange(count + 1))
    local = np.zeros(len(stats), np.int32)
    local[order + 1] = np.arange(len(order)) - starts[owner[order]] + 1
    dtype = np.uint16 if (rows + 1) // 2 * ((cols + 1) // 2) < UINT16_LABELS else np.int32
    out = []
    for index in range(count):
        mine = stats[order[starts[index]:starts[index + 1]] + 1]
        table = np.concatenate([[[0, 0, cols, rows, 0]], mine]).astype(np.int32)
        table[1:, cv2.CC_STAT_LEFT] -= index * step
        table[0, cv2.CC_STAT_AREA] = rows * cols - int(mine[:, cv2.CC_STAT_AREA].sum())
        numbered = local[labels[:, index * step:index * step + cols]].astype(dtype)
        out.append((numbered, table))
    return out


def _keep_seeded(weak: np.ndarray, strong: np.ndarray
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Hysteresis for a stack: the connected parts of each ``weak`` mask that hold at least one
    ``strong`` pixel; whether one of them is a large solid blob, as a card of other paper
    looks before it is read on its own; and the kept parts' labels and statistics (as
    ``label_marks`` gives them for the mask kept)."""
    masks, blobs, labelled = [], np.zeros(len(weak), bool), []
    for index, (labels, stats) in enumerate(label_stack(weak)):
        seeded = np.zeros(len(stats), dtype=bool)
        seeded[labels[strong[index] & weak[index]]] = True
        seeded[0] = False
        area = stats[:, cv2.CC_STAT_AREA]
        box = stats[:, cv2.CC_STAT_WIDTH] * stats[:, cv2.CC_STAT_HEIGHT]
        size = weak[index].size
        blobs[index] = bool((seeded & (area >= PANEL_AREA * size) & (area >= PANEL_SOLID * box))
                            .any())
        if not seeded[1:].all():
            kept = stats[seeded]
            stats = np.concatenate([stats[:1], kept]).astype(np.int32)
            stats[0, cv2.CC_STAT_AREA] = size - int(kept[:, cv2.CC_STAT_AREA].sum())
            labels = (np.cumsum(seeded) * seeded).astype(labels.dtype)[labels]
        masks.append(labels > 0)
        labelled.append((labels, stats))
    return np.stack(masks), blobs, *zip(*labelled, strict=True)


def _inks_on_paper(stack: np.ndarray, ignore: np.ndarray | None = None,
                   dark: np.ndarray | None = None) -> list[tuple["Ink | None", bool]]:
    """The ink of each sheet of paper of a stack of same-size pictures, white on black,
    whatever the polarity and lighting; and whether it holds a large solid blob (what a card
    of other paper looks like from here).

    Dark ink's contrast is measured against the paper's brightness under it (a shadow dims
    paper and ink alike). ``ignore``: pixels that are not this sheet, left out of the noise
    and of the test for a blank sheet. ``dark``: whether the ink is darker, when known. Each
    step runs on the whole stack; per-picture figures are cast to float32 before they meet
    float32 pixels, as a Python float would be.
    """
    count = len(stack)
    lag = 3 if min(stack.shape[1:]) >= SMOOTH_FROM else 1
    smooth = _filtered(stack, lambda part: cv2.GaussianBlur(part, (3, 3), 0.8)) if lag == 3 \
        else stack
    darks, rough = _polarities(smooth, dark)
    flipped = np.flatnonzero(darks)
    every = len(flipped) == count
    gray, light = stack, np.float32(1.0)
    if every:  # white ink on black, always
        gray = 1.0 - stack
        smooth = gray if lag == 1 else 1.0 - smooth
    elif len(flipped):
        gray = stack.copy()
        gray[flipped] = 1.0 - stack[flipped]
        smooth = gray if lag == 1 else smooth.copy()
        if lag > 1:
            smooth[flipped] = 1.0 - smooth[flipped]
    level = paper_levels(smooth, stroke_widths(rough))
    if every:
        light = np.maximum(1.0 - level, DIMMEST_PAPER)
    elif len(flipped):
        light = np.ones_like(level)
        light[flipped] = np.maximum(1.0 - level[flipped], DIMMEST_PAPER)
    contrast = (smooth - level) / light
    near_ink = _filtered(rough.view(np.uint8), lambda part: cv2.dilate(
        part, np.ones((3, 3), np.uint8))).view(bool)
    paper = ~near_ink
    if len(flipped):  # the dark beyond the page (a book's edge, a table) holds no ink
        beyond = level > 1.0 - DIMMEST_PAPER
        if not every:
            beyond &= darks[:, None, None]
        contrast[beyond] = 0.0
        ignore = beyond if ignore is None else ignore | beyond
    if ignore is not None:
        paper &= ~ignore
    noise = _noises(smooth, paper, lag, light)
    peak = contrast.max((1, 2)).astype(np.float64)
    alive = peak >= np.maximum(MIN_CONTRAST, BLANK_NOISE_RATIO * noise)
    if lag > 1:  # a picture this large may be a photo of blank paper or pure noise
        sampled = _sample(contrast)
        outside = None if ignore is None else _sample(ignore)
        for index in np.flatnonzero(alive):
            values = sampled[index] if outside is None else sampled[index][~outside[index]]
            q05, q30 = quantiles(values, [0.05, 0.3]) if values.size else (0.0, 0.0)
            alive[index] = not peak[index] - q30 < BLANK_SPREAD * (q30 - q05) / 1.12
    found: list[tuple[Ink | None, bool]] = [(None, False)] * count
    chosen = np.flatnonzero(alive)
    if not len(chosen):
        return found
    if len(chosen) < count:
        contrast, gray, level = contrast[chosen], gray[chosen], level[chosen]
        light = light[chosen] if np.ndim(light) else light
    low = np.maximum(0.15 * peak[chosen], 3 * noise[chosen])
    high = 0.6 * peak[chosen]
    marks = contrast >= low.astype(np.float32)[:, None, None]
    splits = np.array([otsu_threshold(mine[kept]) for mine, kept in zip(contrast, marks,
                                                                      strict=True)])
    crowded = np.count_nonzero(marks, axis=(1, 2)) > MOST_INK * marks[0].size
    for index in np.flatnonzero(crowded):
        marks[index] = contrast[index] >= np.float32(max(low[index], WEAK * splits[index]))
    strong = contrast >= np.maximum(splits, 5 * noise[chosen]).astype(np.float32)[:, None, None]
    masks, blobs, labels, stats = _keep_seeded(marks, strong)
    scale = (high - low).astype(np.float32)[:, None, None]
    intensity = np.clip(((gray - level) / light - low.astype(np.float32)[:, None, None])
                        / scale, 0.0, 1.0)
    intensity[~masks] = 0.0
    for row, index in enumerate(chosen):
        found[index] = (Ink(intensity[row], masks[row], 0.0, marks[row], bool(darks[index]),
                            labels[row], stats[row]), bool(blobs[row]))
    return found


def _fill_holes(mask: np.ndarray) -> np.ndarray:
    """``mask`` with every region it encloses filled in."""
    outside = np.pad(~mask, 1, constant_values=True).view(np.uint8)
    cv2.floodFill(outside, None, (0, 0), 2)
    return (outside[1:-1, 1:-1] != 2) | mask


def _panels(gray: np.ndarray) -> list[tuple[slice, slice, np.ndarray]]:
    """Cards of other paper on the page: a dark card pasted on a white page (or a white one on
    a dark page), written on in the opposite polarity. A card is a large solid region of the
    page's opposite class (Otsu's), holding writing as holes; a digit is never that solid and
    that holed at once, and a shadow holds no holes."""
    page_is_light = _dark_on_light(gray)
    other = gray < otsu_threshold(gray) if page_is_light else gray > otsu_threshold(gray)
    other = cv2.morphologyEx(other.view(np.uint8), cv2.MORPH_CLOSE, np.ones((3, 3), np.uint8))
    labels, stats = label_marks(other.view(bool))
    panels = []
    for label in np.flatnonzero(stats[:, cv2.CC_STAT_AREA] >= PANEL_AREA * gray.size):
        x, y, width, height, area = stats[label]
        if label == 0 or min(width, height) < SMOOTH_FROM // 2:
            continue
        rows, cols = slice(y, y + height), slice(x, x + width)
        own = labels[rows, cols] == label
        card = _fill_holes(own)
        filled = np.count_nonzero(card)
        holes = card & ~own
        if (filled >= PANEL_SQUARE * width * height and area >= PANEL_SOLID * filled
                and np.count_nonzero(holes) >= PANEL_HOLES * filled
                and stroke_width(holes) <= PANEL_STROKES * min(width, height)):
            panels.append((rows, cols, card))
    return panels


def at_pen_scale(gray: np.ndarray) -> np.ndarray:
    """``gray`` reduced by a whole factor so its pen is about ``PEN_PIXELS`` wide (or itself,
    when its pen is no wider). The pen is measured on every other pixel; the reduced picture keeps
    ``SMOOTH_FROM`` px, so it is smoothed and tested for blankness like the original."""
    if min(gray.shape) < 2 * SMOOTH_FROM:
        return gray
    rough = _polarity(gray[::2, ::2])[1]
    _, stats = label_marks(rough)
    area = stats[1:, cv2.CC_STAT_AREA]
    box = stats[1:, cv2.CC_STAT_WIDTH] * stats[1:, cv2.CC_STAT_HEIGHT]
    if ((area >= PANEL_AREA * rough.size) & (area >= PANEL_SOLID * box)).any():
        return gray  # a card of other paper, maybe: found at full scale, its writing too
    pen = 2 * stroke_width(rough)
    factor = max(1, min(int(pen / PEN_PIXELS), min(gray.shape) // SMOOTH_FROM))
    if factor == 1:
        return gray
    size = (gray.shape[1] // factor, gray.shape[0] // factor)
    return cv2.resize(gray, size, interpolation=cv2.INTER_AREA)


def find_ink(gray: np.ndarray, dark_ink: bool | None = None) -> Ink | None:
    """The ink of a grayscale picture (1 = white), or ``None`` when nothing stands out.

    Cards of other paper (``_panels``) are read on their own, each with its polarity.
    ``dark_ink``: whether the ink is darker than the paper, when the caller knows better
    (``edges_reached`` says when it may).
    """
    gray = np.asarray(gray, dtype=np.float32)
    if gray.ndim != 2 or min(gray.shape) < 1:
        return None
    return find_inks(gray[None], None if dark_ink is None else np.array([dark_ink]))[0]


def find_inks(stack: np.ndarray, dark: np.ndarray | None = None) -> list[Ink | None]:
    """``find_ink`` of each of a stack of same-size grayscale pictures, found at once."""
    stack = np.asarray(stack, dtype=np.float32)
    if min(stack.shape[1:]) < 3:
        stack = np.pad(stack, ((0, 0), (2, 2), (2, 2)), mode="edge")
    inks: list[Ink | None] = []
    for index, (ink, blob) in enumerate(_inks_on_paper(stack, dark=dark)):
        gray = stack[index]
        panels = _panels(gray) if blob and min(gray.shape) >= SMOOTH_FROM else []
        if panels:
            ink = _with_cards(gray, panels, None if dark is None else bool(dark[index]))
        inks.append(ink if ink is not None and ink.mask.any() else None)
    found = [index for index, ink in enumerate(inks) if ink is not None]
    if found:
        strokes = stroke_widths(np.stack([inks[index].mask for index in found]))
        for index, stroke in zip(found, strokes.tolist(), strict=True):
            inks[index] = replace(inks[index], stroke=stroke)
    return inks


def _with_cards(gray: np.ndarray, panels: list[tuple[slice, slice, np.ndarray]],
                dark: bool | None) -> Ink:
    """The ink of a page with cards of other paper on it, each card's read on its own."""
    cards = np.zeros(gray.shape, dtype=bool)
    for rows, cols, card in panels:
        cards[rows, cols] |= card
    # The card's soft edge, a few pixels wide, goes too: left on the page, its outline is the
    # strongest mark there and the page's noise would be read against it.
    edge = np.ones((2 * CARD_EDGE + 1, 2 * CARD_EDGE + 1), np.uint8)
    cards = cv2.dilate(cards.view(np.uint8), edge).view(bool)
    page = gray.copy()
    page[cards] = float(np.median(gray[_border(gray.shape)]))
    ink = _inks_on_paper(page[None], cards[None], None if dark is None else np.array([dark]))
    ink = ink[0][0] or Ink(np.zeros_like(gray), np.zeros(gray.shape, bool), 0.0,
                           np.zeros(gray.shape, bool))
    for rows, cols, card in panels:
        inner = _inks_on_paper(np.ascontiguousarray(gray[rows, cols])[None])[0][0]
        for whole, part in ((ink.intensity, inner and inner.intensity),
                            (ink.mask, inner and inner.mask), (ink.marks, inner and inner.marks)):
            region = whole[rows, cols]
            region[card] = 0 if part is None else part[card]
    return replace(ink, labels=None, stats=None)


def dark_by_shape(gray: np.ndarray) -> bool | None:
    """Whether the ink is the darker of Otsu's two classes, judged by their shapes, for a
    picture whose border cannot say (``edges_reached``): the ink is the class in fewer pieces.
    A digit is one or two strokes, while the paper around a digit stretched to fill its field
    is cut into corners and holes. ``None`` when both are in as many pieces (a stretched 1, a
    solid block, has no paper left to count). Pieces smaller than a speck beside the largest
    of their class (``SPECK_AREA``) are not counted; the paper's pieces are 4-connected, the
    dual of the ink's 8."""
    dark = gray < otsu_threshold(gray)
    pieces = []
    for mask, connectivity in ((dark, 8), (~dark, 4)):
        _, _, stats, _ = cv2.connectedComponentsWithStats(mask.view(np.uint8),
                                                          connectivity=connectivity)
        areas = stats[1:, cv2.CC_STAT_AREA]
        pieces.append(int(np.count_nonzero(areas >= SPECK_AREA * areas.max(initial=0))))
    return None if pieces[0] == pieces[1] else pieces[0] < pieces[1]


def edges_reached(mask: np.ndarray) -> int:
    """How many of the picture's four edges the ink reaches. Ink that reaches three or four
    may be the paper: a digit cropped close and stretched to fill its field (as some
    scanners' forms do) leaves less paper than ink on the border, so the polarity rule can
    take one for the other."""
    return int(mask[0].any()) + int(mask[-1].any()) + int(mask[:, 0].any()) + int(mask[:, -1].any())
