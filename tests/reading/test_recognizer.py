"""Reading pictures end to end: paths, batches, workers, the JSON record, rejection."""

import json

import cv2
import numpy as np
import pytest
import torch
from pictures import as_image, draw_one, on_paper, write
from PIL import Image, ImageDraw

from mnist_cnn.errors import UsageError
from mnist_cnn.networks import registry
from mnist_cnn.networks.detector import FORMS
from mnist_cnn.reading.ink import dark_by_shape
from mnist_cnn.reading.pipeline import Options
from mnist_cnn.reading.recognizer import Recognizer
from mnist_cnn.reading.scoring import IN_NUMBER_LENIENCY

CPU = torch.device("cpu")
FIELDS = {"path", "digit", "confidence", "top_k", "uncertain", "blank", "error", "number",
          "digits", "not_digit", "rejected", "alternatives"}


@pytest.mark.parametrize("workers", [1, 2])
def test_bad_files_do_not_stop_the_others(images, checkpoint, workers, monkeypatch):
    monkeypatch.setattr("mnist_cnn.reading.pipeline.PARALLEL_FROM", 2)
    (images / "broken.png").write_bytes(b"\x89PNG broken")
    Image.new("L", (40, 40), 255).save(images / "blank.png")
    paths = sorted(images.glob("*.png"))
    recognizer = Recognizer.from_checkpoint(checkpoint, CPU, top_k=3)
    results = list(recognizer.read_paths(paths, workers=workers, batch_size=2))
    assert [r.path for r in results] == [str(p) for p in paths]
    by_name = {r.path.rsplit("/", 1)[-1]: r for r in results}
    assert by_name["broken.png"].error and by_name["broken.png"].number == ""
    assert by_name["blank.png"].blank and by_name["blank.png"].digit is None
    for name in ("d0.png", "d1.png", "d2.png"):
        result = by_name[name]
        assert result.digit in range(10) and len(result.top_k) == 3
        assert result.top_k[0] == (result.digit, result.confidence)
        assert sum(p for _, p in result.top_k) <= 1 + 1e-6
        assert result.uncertain == (result.confidence < 0.5)


def test_pictures_are_kept_only_for_the_first_ones(images, checkpoint):
    recognizer = Recognizer.from_checkpoint(checkpoint, CPU)
    results = list(recognizer.read_paths(sorted(images.glob("*.png")), keep_images=2))
    assert [r.preview is not None for r in results] == [True, True, False]
    assert results[0].digits[0].network_input.shape == (28, 28)
    assert results[2].digits[0].network_input is None


def test_the_json_record_keeps_the_old_fields_and_adds_the_digits(checkpoint, tmp_path):
    recognizer = Recognizer.from_checkpoint(checkpoint, CPU)
    path = tmp_path / "427.png"
    as_image(on_paper(write("427", gap=0.6))).save(path)
    one, many = recognizer.read_paths([tmp_path / "none.png", path])
    assert set(one.as_json()) == FIELDS and one.as_json()["number"] == ""
    assert one.as_json()["alternatives"] == []
    record = json.loads(json.dumps(many.as_json()))
    assert set(record) == FIELDS
    others = record["alternatives"]
    assert 1 <= len(others) <= 3 and all(set(o) == {"number", "probability"} for o in others)
    assert record["number"] not in {o["number"] for o in others}
    assert all(0 < o["probability"] < 1 for o in others)
    assert len(record["digits"]) == 3 and len(record["number"]) == 3 and record["digit"] is None
    assert record["confidence"] == min(d["confidence"] for d in record["digits"])
    for digit, left in zip(record["digits"], (30, 107, 185), strict=True):
        assert set(digit) == {"digit", "confidence", "top_k", "uncertain", "box", "score"}
        x, y, _, height = digit["box"]
        assert abs(x - left) <= 3 and 27 <= y <= 33 and 57 <= height <= 63
    two_lines = tmp_path / "lines.png"
    as_image(on_paper(write("12/34", gap=0.6))).save(two_lines)
    (result,) = recognizer.read_paths([two_lines])
    assert len(result.as_json()["lines"]) == 2 and " " in result.number


def test_boxes_are_in_the_original_pictures_pixels(checkpoint):
    ink = np.kron(write("7"), np.ones((8, 8), dtype=np.float32))  # 8x larger than written
    result = Recognizer.from_checkpoint(checkpoint, CPU).read_image(as_image(on_paper(ink)), "big")
    x, y, _, height = result.digits[0].box
    assert abs(x - 240) <= 16 and abs(y - 240) <= 16 and abs(height - 480) <= 24


def test_one_digit_reads_the_whole_picture_as_one(checkpoint):
    recognizer = Recognizer.from_checkpoint(checkpoint, CPU, reject=False,
                                            options=Options(one_digit=True))
    result = recognizer.read_image(as_image(on_paper(write("427"))), "427")
    assert len(result.digits) == 1 and result.digit in range(10)


def test_uploads_are_read_with_one_line_errors(checkpoint):
    recognizer = Recognizer.from_checkpoint(checkpoint, CPU)
    assert recognizer.read_bytes(b"", "empty").error == "empty: empty file (0 bytes)"
    assert "not an image format" in recognizer.read_bytes(b"GIF89 nope", "bad").error


def test_a_checkpoint_without_a_detector_sidecar_takes_the_shipped_detector(checkpoint):
    recognizer = Recognizer.from_checkpoint(checkpoint, CPU)
    shipped = registry.load(registry.DETECTOR, registry.MODEL.shipped, CPU)
    assert recognizer.detector is not None and not recognizer.notes
    assert recognizer.reject_threshold is None
    assert recognizer.thresholds() == shipped.thresholds.tolist()
    recognizer.reject_threshold = -1.5
    assert recognizer.thresholds() == [-1.5] * len(FORMS)
    recognizer.reject_threshold = None
    result = recognizer.read_image(draw_one(), "one")
    assert all(mark.score is not None for mark in [*result.digits, *result.rejected])
    unchecked = Recognizer.from_checkpoint(checkpoint, CPU, reject=False)
    result = unchecked.read_image(draw_one(), "one")
    assert unchecked.detector is None and result.digits[0].score is None


def test_the_shipped_model_reads_numbers_and_says_not_a_digit():
    """The default model (six epochs; a one-epoch model reads this drawn 6 as a 5 about as
    often as not)."""
    recognizer = Recognizer.from_checkpoint(registry.MODEL.shipped, CPU)
    assert recognizer.detector is not None and not recognizer.notes
    assert recognizer.read_image(as_image(on_paper(write("4270"))), "n").number == "4270"
    for number in ("2468", "97531"):
        touching = recognizer.read_image(as_image(on_paper(write(number, gap=0.02))), "t")
        assert touching.number == number
    house = Image.new("L", (200, 200), 255)
    pen = ImageDraw.Draw(house)
    pen.rectangle((50, 90, 150, 170), outline=0, width=6)
    pen.line([(45, 95), (100, 35), (155, 95)], fill=0, width=6)
    result = recognizer.read_image(house, "house")
    assert result.not_digit and result.number == "" and result.rejected[0].closest in range(10)
    plain = Recognizer.from_checkpoint(registry.MODEL.shipped, CPU, reject=False)
    assert plain.read_image(house, "house").digit in range(10)


def test_a_length_asked_for_reads_the_likeliest_reading_of_that_many_digits():
    ink = write("427", gap=0.9).copy()
    cv2.line(ink, (105, 45), (108, 80), 1.0, 3)  # a stray stroke between the 4 and the 2
    picture = as_image(on_paper(ink))
    default = Recognizer.from_checkpoint(registry.MODEL.shipped, CPU).read_image(picture)
    assert default.number == "4127" and "427" in dict(default.alternatives)
    three = Recognizer.from_checkpoint(registry.MODEL.shipped, CPU, length=3)
    read = three.read_image(picture)
    assert read.number == "427" and [d.digit for d in read.digits] == [4, 2, 7]
    assert read.alternatives[0][0] == "4127" and read.alternatives[0][1] > 0.5
    assert three.read_image(as_image(on_paper(write("4270", gap=0.6)))).number == "470"
    none_fit = Recognizer.from_checkpoint(registry.MODEL.shipped, CPU, length=(8, 9))
    assert none_fit.read_image(picture).number == "4127"  # no reading that long: the likeliest
    for wrong in (0, (3, 2), "3", (1, 2, 3), True):
        with pytest.raises(UsageError, match="length must be"):
            Recognizer.load(length=wrong)


@pytest.mark.parametrize(("number", "gap"), [("3007", -0.02), ("6470", -0.2)])
def test_a_touching_or_overlapping_pair_in_a_number_reads_right_boxes_on_digits(number, gap):
    """The middle two digits touch or overlap: no cut parts them cleanly. Each digit's box
    lies on it, also in the JSON record."""
    parts = [write(number[0], margin=0), write(number[1:3], gap=gap, margin=0),
             write(number[3], margin=0)]
    ink = np.pad(np.concatenate([parts[0], np.zeros((60, 20), np.float32), parts[1],
                                 np.zeros((60, 20), np.float32), parts[2]], axis=1), 30)
    result = Recognizer.from_checkpoint(registry.MODEL.shipped, CPU).read_image(
        as_image(on_paper(ink)), number)
    assert result.number == number
    left = 30 + parts[0].shape[1] + 20
    right = left + parts[1].shape[1]
    second, third = (digit.box for digit in result.digits[1:3])
    assert abs(second[0] - left) <= 3 and abs(third[0] + third[2] - right) <= 3
    assert second[0] < (left + right) / 2 < third[0] + third[2]
    assert second[0] + second[2] <= third[0] + parts[1].shape[1] // 3
    record = json.loads(json.dumps(result.as_json()))
    assert [d["box"] for d in record["digits"]] == [list(d.box) for d in result.digits]


@pytest.mark.slow
def test_in_a_number_a_digit_sized_mark_needs_less_evidence_a_dash_does_not(trained_checkpoint):
    recognizer = Recognizer.from_checkpoint(trained_checkpoint, CPU)
    ink = write("47", gap=1.4)
    middle = ink.shape[1] // 2
    cv2.line(ink, (middle - 12, ink.shape[0] // 2), (middle + 12, ink.shape[0] // 2), 1.0, 5)
    number = as_image(on_paper(ink))
    recognizer.reject_threshold = -np.inf  # the verifier may still leave the dash out
    read = recognizer.read_image(number, "4-7")
    marks = sorted([(d.box[0], d.score) for d in read.digits]
                   + [(m.box[0], m.score) for m in read.rejected])
    assert len(marks) == 3, "the dash is a mark of its own"
    scores = [score for _, score in marks]
    weakest = min(scores[0], scores[2])
    assert scores[1] < weakest - IN_NUMBER_LENIENCY
    recognizer.reject_threshold = weakest + IN_NUMBER_LENIENCY / 2
    read = recognizer.read_image(number, "4-7")
    assert read.number == "47" and len(read.rejected) == 1, "the dash is left out, the digits kept"
    digits = write("47", gap=1.4)
    alone = digits[:, :middle - 20] if scores[0] == weakest else digits[:, middle + 20:]
    assert recognizer.read_image(as_image(on_paper(alone)), "alone").not_digit


def mnist_on_paper(digit: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A real MNIST digit as a user's picture: enlarged, dark on light paper, with a margin."""
    size = int(rng.integers(40, 160))
    ink = cv2.resize(digit.astype(np.float32) / 255, (size, size), interpolation=cv2.INTER_LINEAR)
    return on_paper(np.pad(ink, int(rng.integers(4, 40))))


@pytest.mark.slow
def test_the_short_path_reads_single_digits_as_the_full_path_does(trained_checkpoint,
                                                                   real_mnist, monkeypatch):
    import torchvision

    test = torchvision.datasets.MNIST(str(real_mnist), train=False)
    rng = np.random.default_rng(0)
    pictures = [as_image(mnist_on_paper(digit, rng)) for digit in test.data[:300].numpy()]
    labels = test.targets[:300].tolist()
    recognizer = Recognizer.from_checkpoint(trained_checkpoint, CPU)
    short = [recognizer.read_image(picture).number for picture in pictures]
    searching = Recognizer.from_checkpoint(trained_checkpoint, CPU, options=Options(search=True))
    full = [searching.read_image(picture).number for picture in pictures]
    right_in_full = [index for index, label in enumerate(labels) if full[index] == str(label)]
    assert len(right_in_full) > 250
    assert all(short[index] == full[index] for index in right_in_full)
    assert sum(number == str(label) for number, label in zip(short, labels, strict=True)) \
        >= len(right_in_full)


@pytest.mark.slow
def test_a_wide_digit_alone_is_read_as_one_digit(trained_checkpoint, real_mnist):
    """MNIST digits drawn 1.6 times wider than tall, each alone in its picture: most are read
    as their one digit, not cut into two (before the whole line was a candidate: 66 of 174)."""
    import torchvision

    test = torchvision.datasets.MNIST(str(real_mnist), train=False)
    recognizer = Recognizer.from_checkpoint(trained_checkpoint, CPU)
    read = several = 0
    for digit, label in zip(test.data[:100].numpy(), test.targets[:100].tolist(), strict=True):
        ink = digit.astype(np.float32) / 255
        rows, cols = np.flatnonzero(ink.max(1) > 0.2), np.flatnonzero(ink.max(0) > 0.2)
        ink = ink[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
        if ink.shape[1] < ink.shape[0] / 2:
            continue  # a 1: stretched, it is no digit anyone writes
        wide = cv2.resize(ink, (96, 60), interpolation=cv2.INTER_LINEAR)
        result = recognizer.read_image(as_image(on_paper(np.pad(wide, 20))))
        read += result.number == str(label)
        several += len(result.digits) > 1
    assert several <= 10 and read >= 60


def _scan(digit: np.ndarray, stretched: bool, side: int) -> Image.Image:
    """An MNIST digit as a binarized 16x16 scan, dark on white, shown at ``side`` px: cropped
    tight to its height (the field as it is across) or stretched to fill the field."""
    rows, cols = np.flatnonzero(digit.max(1) > 80), np.flatnonzero(digit.max(0) > 80)
    crop = digit[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1] if stretched else \
        digit[rows[0]:rows[-1] + 1]
    low = cv2.resize(crop, (16, 16), interpolation=cv2.INTER_AREA) > 100
    scan = 255 * (1 - low.astype(np.uint8))
    return Image.fromarray(cv2.resize(scan, (side, side), interpolation=cv2.INTER_NEAREST))


@pytest.mark.slow
def test_a_scan_stretched_to_fill_its_field_is_read_the_right_way_round(trained_checkpoint,
                                                                         real_mnist):
    """Binarized 16x16 scans of digits stretched to fill the field (their ink reaches three
    edges or four, and the border holds more ink than paper), shown 3x: both polarities are
    read and the better reading kept (before: 90 of 105 with this model, now 97)."""
    import torchvision

    test = torchvision.datasets.MNIST(str(real_mnist), train=False)
    recognizer = Recognizer.from_checkpoint(trained_checkpoint, CPU)
    hits = count = 0
    for digit, label in zip(test.data[:120].numpy(), test.targets[:120].tolist(), strict=True):
        if label == 1:
            continue  # stretched to the field, a 1 is a block
        hits += recognizer.read_image(_scan(digit, True, 48)).number == str(label)
        count += 1
    assert hits >= 0.9 * count


@pytest.mark.slow
def test_a_blocky_enlarged_scan_reads_right(trained_checkpoint, real_mnist):
    import torchvision

    test = torchvision.datasets.MNIST(str(real_mnist), train=False)
    recognizer = Recognizer.from_checkpoint(trained_checkpoint, CPU)
    hits = 0
    for digit, label in zip(test.data[:50].numpy(), test.targets[:50].tolist(), strict=True):
        low = cv2.resize(digit[2:-2, 2:-2], (16, 16), interpolation=cv2.INTER_AREA) > 80
        scan = cv2.resize(255 * (1 - low.astype(np.uint8)), (64, 64),
                          interpolation=cv2.INTER_NEAREST)
        hits += recognizer.read_image(Image.fromarray(scan.astype(np.uint8))).number == str(label)
    assert hits >= 47


@pytest.mark.slow
def test_the_polarity_the_shapes_settle_is_the_one_reading_both_ways_keeps(real_mnist,
                                                                           monkeypatch):
    """Scans whose ink reaches three edges or more may be read either way round. Where the
    shapes of ink and paper settle it (``ink.dark_by_shape``), the picture is read once; it
    reads as it does when both ways are read and the better reading is kept (forced here by
    making the shapes say nothing), on tight-cropped and stretched scans alike."""
    import torchvision

    from mnist_cnn.reading import pipeline

    test = torchvision.datasets.MNIST(str(real_mnist), train=False)
    recognizer = Recognizer.from_checkpoint(registry.MODEL.shipped, CPU)
    scans = [_scan(digit, stretched, side) for index, digit in enumerate(test.data[:150].numpy())
             for stretched, side in [(index % 2 == 0, (16, 32, 48, 96)[index % 4])]]
    decisions = []

    def recorded(gray: np.ndarray) -> bool | None:
        decisions.append(dark_by_shape(gray))
        return decisions[-1]

    monkeypatch.setattr(pipeline, "dark_by_shape", recorded)
    settled = [recognizer.read_image(scan).number for scan in scans]
    assert sum(decision is not None for decision in decisions) >= 0.3 * len(scans)
    monkeypatch.setattr(pipeline, "dark_by_shape", lambda gray: None)
    both_ways = [recognizer.read_image(scan).number for scan in scans]
    same = sum(a == b for a, b in zip(settled, both_ways, strict=True))
    assert same >= 0.95 * len(scans)
