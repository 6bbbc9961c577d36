"""Tell the ink from the paper: which side is ink, the paper's level around every pixel, and how
far above the paper's noise a stroke must stand.

The paper's level is estimated locally, by a morphological opening wider than the pen: it follows
uneven light, vignetting and the sharp edge of a shadow, which one global threshold or one smooth
surface cannot. Dark ink on light paper is inverted first, so the result is always MNIST's white
ink on black.
"""

import functools
from dataclasses import dataclass

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


def otsu_threshold(values: np.ndarray) -> float:
    """The level that best splits ``values`` into two classes (Otsu's method, via OpenCV)."""
    low, high = float(values.min()), float(values.max())
    if high - low < 1e-6:
        return high
    levels = ((values - low) * (255.0 / (high - low))).astype(np.uint8)
    level, _ = cv2.threshold(levels, 0, 255, cv2.THRESH_BINARY | cv2.THRESH_OTSU)
    return low + (level + 0.5) * (high - low) / 255.0


@functools.lru_cache(maxsize=64)
def _border(shape: tuple[int, int]) -> np.ndarray:
    """The picture's border, 4 % of its shorter side wide (read-only: shared by every picture
    of this shape)."""
    width = max(1, round(0.04 * min(shape)))
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
    return float(bright[_border(bright.shape)].mean()), bright


def _polarity(gray: np.ndarray, dark: bool | None = None) -> tuple[bool, np.ndarray]:
    """Whether the ink is darker than the paper, whatever the lighting, and a rough mask of
    the ink (Otsu's ink class), to measure the pen by. ``dark``: the answer, when known.

    A border all of one class decides at once. Otherwise the lighting may be what splits it (a
    shadow over part of the page), so the flattened picture (``flatten``) decides; small
    pictures, which are no photos of a page, keep the plain rule.
    """
    share, bright = _border_share(gray)
    if dark is not None:
        return dark, ~bright if dark else bright
    if abs(share - 0.5) > CLEAR_BORDER or min(gray.shape) < SMOOTH_FROM:
        dark = _dark_on_light(gray, (share, bright))
        return dark, ~bright if dark else bright
    flat = flatten(gray)
    dark = _dark_on_light(flat)
    if dark:
        flat = -flat
    return dark, flat > otsu_threshold(flat)


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


def _odd(value: float) -> int:
    return int(value) // 2 * 2 + 1


def paper_level(image: np.ndarray, pen: float) -> np.ndarray:
    """The paper's level under every pixel of ``image`` (bright ink on darker paper): a grey
    opening with a square wider than the pen, so strokes vanish and lighting stays."""
    size = _odd(min(max(PEN_SPAN * pen, 5), max(5, min(image.shape) / 2)))
    square = cv2.getStructuringElement(cv2.MORPH_RECT, (size, size))
    levels = (np.clip(image, 0.0, 1.0) * 65535).astype(np.uint16)  # OpenCV is faster on ints
    opened = cv2.morphologyEx(levels, cv2.MORPH_OPEN, square, borderType=cv2.BORDER_REPLICATE)
    return opened.astype(np.float32) / 65535


def quantiles(values: np.ndarray, levels: list[float]) -> np.ndarray:
    """``np.quantile(values, levels)`` (linear interpolation) by one partial sort: numpy's own
    costs more in overhead than the sort on the few thousand values read here."""
    flat = values.ravel()
    positions = np.asarray(levels) * (flat.size - 1)
    below = np.floor(positions).astype(np.int64)
    above = np.minimum(below + 1, flat.size - 1)
    ranked = np.partition(flat, np.unique(np.concatenate([below, above])))
    return ranked[below] + (positions - below) * (ranked[above] - ranked[below])


def _median(values: np.ndarray) -> float:
    """``np.median`` of a flat array by one partial sort, for the same reason as ``quantiles``."""
    below, above = (values.size - 1) // 2, values.size // 2
    ranked = np.partition(values, (below, above))
    return 0.5 * (float(ranked[below]) + float(ranked[above]))


def _sample(values: np.ndarray) -> np.ndarray:
    """A regular subsample of about ``NOISE_SAMPLES`` values, for quantiles."""
    every = max(1, int((values.size / NOISE_SAMPLES) ** 0.5))
    return values[::every, ::every]


def _noise(image: np.ndarray, paper: np.ndarray, lag: int,
           light: np.ndarray | float = 1.0) -> float:
    """Noise of the paper: the spread of differences between paper pixels ``lag`` apart (far
    enough to be independent after smoothing), so lighting gradients do not count; measured
    relative to the paper's ``light``, like the contrast."""
    every = max(1, image.size // NOISE_SAMPLES)
    rows = image[::every] / (light[::every] if np.ndim(light) else light)
    pairs = paper[::every, lag:] & paper[::every, :-lag]
    differences = np.abs(rows[:, lag:] - rows[:, :-lag])[pairs]
    spread = 1.4826 / 2**0.5 * _median(differences) if differences.size else 0.0
    return spread + 1e-3


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


def _keep_seeded(weak: np.ndarray, strong: np.ndarray) -> tuple[np.ndarray, bool]:
    """Hysteresis: the connected parts of ``weak`` that hold at least one ``strong`` pixel;
    and whether one of them is a large solid blob, as a card of other paper looks before it
    is read on its own."""
    labels, stats = label_marks(weak)
    seeded = np.zeros(len(stats), dtype=bool)
    seeded[labels[strong & weak]] = True
    seeded[0] = False
    area = stats[:, cv2.CC_STAT_AREA]
    box = stats[:, cv2.CC_STAT_WIDTH] * stats[:, cv2.CC_STAT_HEIGHT]
    solid = seeded & (area >= PANEL_AREA * weak.size) & (area >= PANEL_SOLID * box)
    return seeded[labels], bool(solid.any())


def _ink_on_paper(gray: np.ndarray, ignore: np.ndarray | None = None,
                  dark: bool | None = None) -> tuple[Ink | None, bool]:
    """The ink of one sheet of paper, white on black, whatever the polarity and lighting; and
    whether it holds a large solid blob (what a card of other paper looks like from here).

    Dark ink's contrast is measured against the paper's brightness under it (a shadow dims
    paper and ink alike). ``ignore``: pixels that are not this sheet, left out of the noise
    and of the test for a blank sheet. ``dark``: whether the ink is darker, when known.
    """
    lag = 3 if min(gray.shape) >= SMOOTH_FROM else 1
    smooth = cv2.GaussianBlur(gray, (3, 3), 0.8) if lag == 3 else gray
    dark_ink, rough = _polarity(smooth, dark)
    if dark_ink:
        gray, smooth = 1.0 - gray, 1.0 - smooth
    level = paper_level(smooth, stroke_width(rough))
    light = np.maximum(1.0 - level, DIMMEST_PAPER) if dark_ink else np.float32(1.0)
    contrast = (smooth - level) / light
    near_ink = cv2.dilate(rough.view(np.uint8), np.ones((3, 3), np.uint8)).view(bool)
    if dark_ink:  # the dark beyond the page: a book's edge, a table, where no ink is looked for
        beyond = level > 1.0 - DIMMEST_PAPER
        contrast[beyond] = 0.0
        ignore = beyond if ignore is None else ignore | beyond
    paper = ~near_ink if ignore is None else ~(near_ink | ignore)
    noise = _noise(smooth, paper, lag, light)
    peak = float(contrast.max())
    if peak < max(MIN_CONTRAST, BLANK_NOISE_RATIO * noise):
        return None, False
    if lag > 1:  # a picture this large may be a photo of blank paper or pure noise
        sampled = _sample(contrast)
        if ignore is not None:
            sampled = sampled[~_sample(ignore)]
        q05, q30 = quantiles(sampled, [0.05, 0.3]) if sampled.size else (0.0, 0.0)
        if peak - q30 < BLANK_SPREAD * (q30 - q05) / 1.12:
            return None, False
    low, high = max(0.15 * peak, 3 * noise), 0.6 * peak
    marks = contrast >= low
    split = otsu_threshold(contrast[marks])
    if np.count_nonzero(marks) > MOST_INK * marks.size:
        marks = contrast >= max(low, WEAK * split)
    mask, blob = _keep_seeded(marks, contrast >= max(split, 5 * noise))
    intensity = np.clip(((gray - level) / light - low) / (high - low), 0.0, 1.0)
    intensity[~mask] = 0.0
    return Ink(intensity, mask, 0.0, marks, dark_ink), blob


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
    if min(gray.shape) < 3:
        gray = np.pad(gray, 2, mode="edge")
    ink, blob = _ink_on_paper(gray, dark=dark_ink)
    panels = _panels(gray) if blob and min(gray.shape) >= SMOOTH_FROM else []
    if panels:
        cards = np.zeros(gray.shape, dtype=bool)
        for rows, cols, card in panels:
            cards[rows, cols] |= card
        # The card's soft edge, a few pixels wide, goes too: left on the page, its outline is
        # the strongest mark there and the page's noise would be read against it.
        edge = np.ones((2 * CARD_EDGE + 1, 2 * CARD_EDGE + 1), np.uint8)
        cards = cv2.dilate(cards.view(np.uint8), edge).view(bool)
        page = gray.copy()
        page[cards] = float(np.median(gray[_border(gray.shape)]))
        ink, _ = _ink_on_paper(page, cards, dark_ink)
        ink = ink or Ink(np.zeros_like(gray), np.zeros(gray.shape, bool), 0.0,
                         np.zeros(gray.shape, bool))
        for rows, cols, card in panels:
            inner, _ = _ink_on_paper(gray[rows, cols])
            for whole, part in ((ink.intensity, inner and inner.intensity),
                                (ink.mask, inner and inner.mask),
                                (ink.marks, inner and inner.marks)):
                region = whole[rows, cols]
                region[card] = 0 if part is None else part[card]
    if ink is None or not ink.mask.any():
        return None
    return Ink(ink.intensity, ink.mask, stroke_width(ink.mask), ink.marks, ink.dark_ink)


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
