"""Finding the ink: polarity, uneven light, shadows, cards of other paper, blank pictures."""

import cv2
import numpy as np
import pytest
from pictures import digit_ink, draw_one, on_paper, write
from PIL import Image, ImageDraw

from mnist_cnn.reading.ink import (
    at_pen_scale,
    dark_by_shape,
    edges_reached,
    find_ink,
    ink_is_dark,
    label_marks,
    quantiles,
)


def stroke_found(ink, rows, cols) -> float:
    """Share of the drawn stroke's pixels found as ink."""
    return float(ink.mask[rows, cols].mean())


@pytest.mark.parametrize("ink_level, paper", [(20, 235), (235, 20)])
def test_both_polarities_become_white_on_black(ink_level, paper):
    gray = np.asarray(draw_one(ink=ink_level, paper=paper), dtype=np.float32) / 255
    assert ink_is_dark(gray) == (ink_level < paper)
    ink = find_ink(gray)
    assert stroke_found(ink, slice(50, 150), slice(97, 103)) == 1.0
    assert not ink.mask[:, :80].any() and ink.intensity.max() == pytest.approx(1.0)


def test_light_falling_off_by_half_across_the_page_is_not_ink():
    drawn = write("7")
    gray = on_paper(drawn) * np.linspace(1.0, 0.5, drawn.shape[1])[None, :]
    ink = find_ink(gray)
    assert ink.mask[drawn > 0.5].all(), "all of the stroke"
    near = cv2.dilate((drawn > 0).astype(np.uint8),
                      np.ones((3, 3), np.uint8)).astype(bool)
    assert not (ink.mask & ~near).any(), "and nothing of the paper"


def test_digits_in_a_sharp_edged_shadow_are_found_like_the_others():
    ink = write("4444", gap=0.5)
    gray = on_paper(ink)
    gray[:, gray.shape[1] // 2:] *= 0.55  # a hard shadow over the second half
    found = find_ink(gray)
    left, right = found.mask[:, :gray.shape[1] // 2], found.mask[:, gray.shape[1] // 2:]
    assert right.sum() == pytest.approx(left.sum(), rel=0.25)
    edge = found.mask[:, gray.shape[1] // 2 - 3:gray.shape[1] // 2 + 3]
    assert edge.sum() <= 6 * 3, "the shadow's edge is paper, not ink"


@pytest.mark.parametrize("pen, ink_level", [(1, 0.95), (15, 0.95), (1, 0.6)],
                         ids=["plain", "bold", "faint"])
def test_light_ink_on_a_dark_card_pasted_on_a_white_page(pen, ink_level):
    written = cv2.dilate(write("52"), np.ones((pen, pen), np.uint8))
    card = 0.15 * (1 - written) + ink_level * written
    page = np.full((card.shape[0] + 80, card.shape[1] + 120), 0.95, dtype=np.float32)
    page[40:-40, 60:-60] = card
    ink = find_ink(page)
    assert not ink.mask[40:45, 60:-60].any(), "the card itself is not ink"
    expected = written > 0.5
    found = ink.mask[40:-40, 60:-60]
    assert (found & expected).sum() >= 0.8 * expected.sum()


def test_the_page_around_a_card_holds_no_ink_when_nothing_is_written_on_it():
    """Neither the card's soft edge nor the page's grain is read as writing."""
    rng = np.random.default_rng(3)
    card = 0.15 * (1 - write("452")) + 0.95 * write("452")
    page = np.full((card.shape[0] + 160, card.shape[1] + 240), 0.93, dtype=np.float32)
    page[80:-80, 120:-120] = card
    page = cv2.GaussianBlur(page, (5, 5), 1.2) + rng.normal(0, 0.03, page.shape)
    ink = find_ink(np.clip(page, 0, 1).astype(np.float32))
    outside = ink.mask.copy()
    outside[80:-80, 120:-120] = False
    assert not outside.any()
    expected = write("452") > 0.5
    assert (ink.mask[80:-80, 120:-120] & expected).sum() >= 0.8 * expected.sum()


def test_blank_pictures_and_pure_noise_have_no_ink():
    assert find_ink(np.ones((100, 100), dtype=np.float32)) is None
    rng = np.random.default_rng(0)
    for sigma in (0.01, 0.05):
        noise = np.clip(rng.normal(0.85, sigma, (300, 400)), 0, 1).astype(np.float32)
        assert find_ink(noise) is None


def test_faint_thin_strokes_are_kept_but_a_printed_pattern_is_not():
    image = Image.new("L", (28, 28), 255)
    pen = ImageDraw.Draw(image)
    pen.line([(8, 4), (20, 4)], fill=90, width=1)  # a darker bar
    pen.line([(20, 4), (12, 24)], fill=200, width=1)  # a very faint stroke joined to it
    ink = find_ink(np.asarray(image, dtype=np.float32) / 255)
    assert ink.mask[20:24].any(), "the faint stroke is ink, seeded by the darker one"

    rng = np.random.default_rng(1)
    gray = on_paper(write("8"))
    rows, cols = np.indices(gray.shape)
    pattern = (np.sin(cols / 3 + 4 * np.sin(rows / 11)) > 0.6) & (write("8") < 0.1)
    gray[pattern] -= 0.25  # a cheque's printed background, a quarter of the way to the ink
    gray += rng.normal(0, 0.01, gray.shape).astype(np.float32)
    found = find_ink(gray)
    assert (found.mask & pattern).sum() < 0.1 * found.mask.sum()


@pytest.mark.parametrize("side", [16, 20, 28])
def test_a_tightly_cropped_small_digit_touching_every_edge_is_still_found(side):
    """Like USPS-style scans: a fat "8" whose ink covers much of the border."""
    image = Image.new("L", (120, 160), 255)
    pen = ImageDraw.Draw(image)
    pen.ellipse((0, 0, 119, 85), outline=0, width=26)
    pen.ellipse((0, 70, 119, 159), outline=0, width=26)
    small = np.asarray(image.resize((side, side), Image.Resampling.BOX), dtype=np.float32) / 255
    assert ink_is_dark(small)
    ink = find_ink(small)
    assert ink is not None and ink.mask.mean() > 0.3


def overlap(a: np.ndarray, b: np.ndarray) -> float:
    return np.count_nonzero(a & b) / np.count_nonzero(a | b)


def test_the_polarity_can_be_given_and_how_many_edges_the_ink_reaches_is_told():
    """A binarized 8 stretched to fill its field: its ink reaches every edge, and read the
    other way round its paper becomes the ink."""
    low = cv2.resize(digit_ink(8, 64), (16, 16), interpolation=cv2.INTER_AREA) > 0.3
    scan = cv2.resize(1.0 - low.astype(np.float32), (48, 48), interpolation=cv2.INTER_NEAREST)
    found = find_ink(scan, dark_ink=True)
    assert found.dark_ink and edges_reached(found.mask) >= 3
    assert overlap(found.mask, scan < 0.5) > 0.8
    turned = find_ink(scan, dark_ink=False)
    assert not turned.dark_ink and overlap(turned.mask, scan > 0.5) > 0.8
    assert edges_reached(find_ink(on_paper(np.pad(write("7"), 10))).mask) == 0


@pytest.mark.parametrize("digit", [0, 2, 6, 8])
def test_the_shapes_tell_which_class_is_ink_when_the_digit_fills_its_field(digit):
    """Stretched to fill its field, a digit is one stroke while the paper is cut into corners
    and holes: the class in fewer pieces is the ink, either way round. A picture half dark and
    half light (a stretched 1 with paper on one side only) says nothing."""
    low = cv2.resize(digit_ink(digit, 64), (16, 16), interpolation=cv2.INTER_AREA) > 0.3
    scan = cv2.resize(1.0 - low.astype(np.float32), (48, 48), interpolation=cv2.INTER_NEAREST)
    assert dark_by_shape(scan) is True
    assert dark_by_shape(1.0 - scan) is False
    halves = np.zeros((48, 48), np.float32)
    halves[:, 24:] = 1.0
    assert dark_by_shape(halves) is None


def test_the_dark_beyond_the_page_holds_no_ink():
    """A scanned register: the book's black edge down the left, grainy, beside the white page
    with a number on it. The edge is beyond the page: no ink is found in it, the number is."""
    page = on_paper(np.pad(write("56", height=30), 25))
    edge = np.random.default_rng(0).uniform(0.0, 0.08, (page.shape[0], 40)).astype(np.float32)
    ink = find_ink(np.concatenate([edge, page], axis=1))
    assert not ink.mask[:, :38].any()
    rows, cols = np.flatnonzero(ink.mask.any(1)), np.flatnonzero(ink.mask.any(0))
    assert cols[0] >= 60 and rows[-1] - rows[0] + 1 >= 28


def test_a_one_pixel_stroke_is_not_lost():
    gray = np.full((40, 400), 0.92, dtype=np.float32)
    gray[5:35, 201] = 0.1
    ink = find_ink(gray)
    assert ink is not None and ink.mask[5:35, 201].all()


def test_a_thick_pen_is_read_at_a_reduced_scale_and_a_thin_one_as_it_is():
    thick = np.full((300, 300), 0.95, np.float32)
    cv2.circle(thick, (150, 150), 90, 0.1, thickness=30)
    reduced = at_pen_scale(thick)
    assert reduced.shape[0] < thick.shape[0] // 3
    assert 3 <= find_ink(reduced).stroke <= 6, "the pen comes out about 4 px wide"
    thin = np.full((300, 300), 0.95, np.float32)
    cv2.circle(thin, (150, 150), 90, 0.1, thickness=3)
    assert at_pen_scale(thin) is thin


def test_marks_are_labelled_with_opencvs_statistics():
    rng = np.random.default_rng(0)
    mask = rng.random((120, 90)) > 0.7
    labels, stats = label_marks(mask)
    count, expected_labels, expected, _ = cv2.connectedComponentsWithStats(
        mask.view(np.uint8), connectivity=8)
    assert len(stats) == count > 100
    assert (labels == expected_labels).all() and (stats == expected).all()


@pytest.mark.parametrize("size", [1, 2, 7, 2400])
def test_quantiles_agree_with_numpy(size):
    values = np.random.default_rng(size).normal(size=size).astype(np.float32)
    assert np.allclose(quantiles(values, [0.05, 0.3, 0.5]),
                       np.quantile(values, [0.05, 0.3, 0.5]), rtol=1e-5, atol=1e-6)
