"""Finding the digits in the ink: rules, frames, specks, lines of writing, merges and cuts."""

import cv2
import numpy as np
import pytest
from pictures import as_image, digit_ink, on_paper, write

from mnist_cnn.reading import layout as segmentation
from mnist_cnn.reading.images import WORK_AREA, to_gray
from mnist_cnn.reading.ink import find_ink, label_marks
from mnist_cnn.reading.layout import MAX_MARKS, Layout, find_candidates


def layout_of(gray: np.ndarray) -> Layout:
    return find_candidates(find_ink(gray))


def single_boxes(layout: Layout) -> list[tuple[int, int, int, int]]:
    """The boxes of the one-segment candidates, left to right, line by line."""
    return [c.box for c in layout.candidates if c.stop - c.start == 1]


def digit_columns(text: str, gap: float = 0.35, height: int = 60, margin: int = 30) -> list:
    """Where ``write`` puts each digit: (left, right) columns."""
    spans, x = [], margin
    for digit in text:
        width = digit_ink(int(digit), height).shape[1]
        spans.append((x, x + width))
        x += width + int(gap * height)
    return spans


def assert_one_segment_per_digit(layout: Layout, text: str, gap: float = 0.35) -> None:
    assert layout.segments == [len(text)]
    boxes = single_boxes(layout)
    for (left, right), box in zip(digit_columns(text, gap), boxes, strict=True):
        assert abs(box[0] - left) <= 3 and abs(box[0] + box[2] - right) <= 3


def test_three_digits_apart_are_three_segments():
    assert_one_segment_per_digit(layout_of(on_paper(write("427"))), "427")


@pytest.mark.parametrize("squared", [False, True])
def test_ruled_and_squared_paper_lines_are_removed(squared):
    gray = on_paper(write("427"))
    rows, cols = gray.shape
    for y in range(12, rows, 33):  # rules every 33 px, through the digits too
        cv2.line(gray, (0, y), (cols, y + 4), 0.55, 2)
    if squared:
        for x in range(7, cols, 33):
            cv2.line(gray, (x, 0), (x - 3, rows), 0.55, 2)
    assert_one_segment_per_digit(layout_of(gray), "427")


def test_a_box_drawn_around_the_number_is_removed():
    gray = on_paper(write("427"))
    cv2.rectangle(gray, (12, 12), (gray.shape[1] - 14, gray.shape[0] - 12), 0.1, 5)
    assert_one_segment_per_digit(layout_of(gray), "427")


def test_a_lone_tall_one_is_not_a_rule():
    gray = np.full((100, 60), 0.95, dtype=np.float32)
    cv2.line(gray, (30, 4), (30, 96), 0.05, 6)
    layout = layout_of(gray)
    assert layout.segments == [1] and single_boxes(layout)[0][3] >= 85


def test_a_pages_rules_kept_in_the_ink_are_dropped_among_the_marks():
    """A register's row number: small digits between vertical rules that run the whole page,
    as dark and thick as the pen (so they stay in the ink). Kept among the marks, they would
    make the line as tall as the page; a tall 1 beside other digits is no rule."""
    rule = segmentation._Mark(12, 0, 4, 240, 960, [1])
    digits = [segmentation._Mark(50, 100, 18, 30, 200, [2]),
              segmentation._Mark(75, 100, 20, 30, 220, [3])]
    assert segmentation._without_rules([rule, *digits], (240, 160)) == digits
    tall_one = segmentation._Mark(100, 95, 5, 40, 150, [4])
    assert tall_one in segmentation._without_rules([*digits, tall_one], (240, 160))
    assert segmentation._without_rules([rule], (240, 160)) == [rule]


def test_a_five_with_its_bar_detached_is_one_segment():
    ink = np.pad(digit_ink(5, 80), 20)
    rows = np.flatnonzero(ink.max(1) > 0.3)
    ink[rows[0] + 12:rows[0] + 18] = 0  # cut the bar off the body
    layout = layout_of(on_paper(ink))
    assert layout.segments == [1]


def test_two_lines_of_writing_are_two_numbers():
    layout = layout_of(on_paper(write("12/345")))
    assert layout.segments == [2, 3]
    first, second = ([c for c in layout.candidates if c.line == line] for line in (0, 1))
    assert max(c.box[1] + c.box[3] for c in first) < min(c.box[1] for c in second)


def test_touching_digits_are_offered_a_cut_at_their_thin_point():
    ink = write("7", margin=0)
    pair = write("00", gap=-0.05, margin=0)
    gray = on_paper(np.pad(np.concatenate([ink, np.zeros((60, 25)), pair], axis=1), 30))
    layout = layout_of(gray)
    assert layout.segments == [3], "the 7, and the touching pair cut in two"
    cut = [c for c in layout.candidates if c.stop - c.start == 1][1:]
    assert cut[0].box[0] < cut[1].box[0] and cut[0].cut_strokes > 0 and cut[1].cut_strokes > 0
    assert any(c.start == 1 and c.stop == 3 and c.cut_strokes == 0 for c in layout.candidates)


def test_specks_are_left_out():
    gray = on_paper(write("7"))
    rng = np.random.default_rng(0)
    for y, x in rng.integers(5, 25, (6, 2)):
        gray[y, x] = 0.1
    assert layout_of(gray).segments == [1]


@pytest.mark.parametrize("kind", ["noise", "specks"])
def test_hostile_pictures_are_searched_in_bounded_work(kind):
    """Noise or thousands of specks over a 12-megapixel picture: it is reduced to the working
    size before any search, and no more than ``MAX_MARKS`` marks are considered (the time it
    takes is bench_app's to measure)."""
    rng = np.random.default_rng(0)
    if kind == "noise":
        pixels = rng.integers(0, 256, (3000, 4000), dtype=np.uint8)
    else:
        pixels = np.full((3000, 4000), 240, dtype=np.uint8)
        ys, xs = rng.integers(0, 3000, 20000), rng.integers(0, 4000, 20000)
        pixels[ys, xs] = 0
    gray, _ = to_gray(as_image(pixels / 255), "hostile")
    assert gray.size <= 2 * WORK_AREA
    ink = find_ink(gray)
    layout = find_candidates(ink) if ink is not None else Layout([], [], [])
    assert len(layout.candidates) <= 3 * MAX_MARKS


def test_a_grid_line_through_the_middle_of_the_writing_is_removed():
    """Judged by its own thickness and shade, not by the strokes that cross it, which only
    thicken and darken it where the digits are."""
    gray = on_paper(write("70", gap=0.5))
    rows, cols = gray.shape
    for y in (8, rows // 2, rows - 8):
        cv2.line(gray, (0, y), (cols, y), 0.55, 2)
    for x in range(8, cols, 40):
        cv2.line(gray, (x, 0), (x, rows), 0.55, 2)
    assert_one_segment_per_digit(layout_of(gray), "70", gap=0.5)


def broken(ink: np.ndarray, rows: slice) -> np.ndarray:
    out = ink.copy()
    out[rows] = 0
    return out


@pytest.mark.parametrize("case", ["broken stroke", "detached bar", "speck", "thick scan"])
def test_a_single_digit_is_one_candidate_on_the_short_path(case):
    """One digit, however its strokes fall apart, is read whole: no cut, no second digit."""
    ink = np.pad(digit_ink({"broken stroke": 7, "detached bar": 5}.get(case, 2), 80), 20)
    if case == "broken stroke":
        ink = broken(ink, slice(70, 73))  # the 7's stem broken across by a faint pen
    elif case == "detached bar":
        top = int(np.flatnonzero(ink.max(1) > 0.3)[0])
        ink = broken(ink, slice(top + 12, top + 18))
    elif case == "speck":
        ink[8:11, 90:93] = 1.0
    else:  # a binarized 16x16 scan, enlarged 4x, the digit filling the frame
        low = cv2.resize(ink[20:-20, 10:-10], (16, 16), interpolation=cv2.INTER_AREA) > 0.3
        ink = cv2.resize(low.astype(np.float32), (64, 64), interpolation=cv2.INTER_NEAREST)
    ink_found = find_ink(on_paper(ink))
    layout = find_candidates(ink_found)
    assert len(layout.candidates) == 1 and layout.segments == [1]
    assert segmentation._one_digit(ink_found, label_marks(ink_found.mask)) is not None


def test_a_wide_broken_digit_alone_is_also_offered_whole():
    """A digit far wider than tall, in four pieces, alone in the picture: besides its pieces,
    the whole line is a candidate (the verifier weighs it); in a number it is not."""
    height = 60
    wide = cv2.resize(digit_ink(2, height), (2 * height, height), interpolation=cv2.INTER_LINEAR)
    for x in (30, 60, 90):
        wide[:, x:x + 2] = 0
    layout = layout_of(on_paper(np.pad(wide, 20)))
    (count,) = layout.segments
    assert count > segmentation.MAX_DIGIT_SEGMENTS
    assert any((c.start, c.stop) == (0, count) for c in layout.candidates)
    two_lines = np.zeros((3 * height + 40, 5 * height + 40), np.float32)
    for top in (20, 2 * height + 20):
        two_lines[top:top + height, 20:20 + 2 * height] = wide
        two_lines[top:top + height, 20 + 3 * height:20 + 5 * height] = wide
    layout = layout_of(on_paper(two_lines))
    assert len(layout.segments) == 2
    assert all(c.stop - c.start <= segmentation.MAX_DIGIT_SEGMENTS for c in layout.candidates)


def test_digits_side_by_side_or_framed_take_the_full_path():
    framed = on_paper(write("7", margin=40))
    cv2.rectangle(framed, (8, 8), (framed.shape[1] - 9, framed.shape[0] - 9), 0.1, 4)
    for gray in (on_paper(write("12")), framed):
        ink = find_ink(gray)
        assert segmentation._one_digit(ink, label_marks(ink.mask)) is None
    assert layout_of(on_paper(write("12"))).segments == [2]
    assert layout_of(framed).segments == [1]
