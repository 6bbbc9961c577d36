import dataclasses
from collections import Counter

import numpy as np
import pytest
import torch

from mnist_cnn.fitting.handwriting import (
    SHARES,
    SIDES,
    as_read,
    by_file,
    check_labels,
    drawing,
    load_handwriting,
    real_digits,
    shape_votes,
    side_of,
)
from mnist_cnn.networks import registry
from mnist_cnn.reading.inputs import normalize
from mnist_cnn.reading.pipeline import Options
from mnist_cnn.reading.recognizer import Recognizer

from unipen_files import glyph, write_file, write_writers

CPU = torch.device("cpu")


def fit_writers(count: int, side: str = "fit") -> list[str]:
    """Writer ids whose key at site ``abc`` falls on ``side``."""
    found = [str(n) for n in range(10_000) if SIDES[side_of(f"abc/{n}")] == side]
    return found[:count]


def test_drawing_follows_the_strokes_with_a_pen_of_the_writers_scale():
    bar = [np.array([[0.0, 0.0], [0.0, 100.0]])]
    thin, thick = drawing(bar, 100.0, 0.05), drawing(bar, 100.0, 0.2)
    rows, cols = np.nonzero(thick > 127)
    assert np.ptp(rows) > 3 * np.ptp(cols)  # tall and narrow, as the bar
    assert (thick > 127).sum(1).max() > 2 * (thin > 127).sum(1).max()
    small = drawing(bar, 400.0, 0.1)  # the same bar from a writer whose characters are larger
    assert small.shape[0] < thick.shape[0] / 2
    dot = drawing([np.array([[5.0, 5.0]])], 100.0, 0.1)
    assert (dot > 127).sum() > 4


def test_as_read_is_readings_normalization_of_the_drawing():
    seven = glyph("7", np.random.default_rng(0))
    image = as_read(seven, 100.0, 0.1)
    np.testing.assert_allclose(image, normalize(drawing(seven, 100.0, 0.1) / np.float32(255)))
    assert image.shape == (28, 28)
    assert image[:10].sum() > image[18:].sum()  # the 7's bar at the top: y points down


def test_sides_by_writer_key_alone():
    keys = [f"site/{n}" for n in range(4000)]
    sides = Counter(side_of(key) for key in keys)
    for index, share in enumerate(SHARES):
        assert abs(sides[index] / len(keys) - share) < 0.03
    assert [side_of(key) for key in keys[:50]] == [side_of(key) for key in keys[:50]]


def _characters(tmp_path, writers=8):
    root = write_writers(tmp_path, [f"w{n}" for n in range(writers)])
    return load_handwriting(root, ["1a"])


def test_aligned_files_are_kept_and_a_shifted_one_dropped(tmp_path):
    handwriting = _characters(tmp_path)
    assert all(not check.misaligned for check in handwriting.checks)
    assert handwriting.kept.all()
    votes = shape_votes(handwriting.images, handwriting.characters)
    shifted = [dataclasses.replace(c, label="017"[("017".index(c.label) + 1) % 3])
               if c.writer == "abc/w3" else c for c in handwriting.characters]
    verdicts = {check.file: check.misaligned for check in check_labels(shifted, votes)}
    assert verdicts.pop("data/1a/abc/w3.dat") is True
    assert not any(verdicts.values())


def test_a_lone_writer_cannot_be_judged_and_is_kept(tmp_path):
    root = write_writers(tmp_path, ["w0"])
    handwriting = load_handwriting(root, ["1a"])
    assert set(shape_votes(handwriting.images, handwriting.characters)) == {""}
    assert handwriting.kept.all() and [c.judged for c in handwriting.checks] == [0]


def test_small_or_one_label_files_are_judged_with_the_writers_others(tmp_path):
    rng = np.random.default_rng(1)
    write_writers(tmp_path, [f"w{n}" for n in range(6)])
    # One writer's digits in three small files of one label each: together they tell.
    for label in "017":
        write_file(tmp_path, "1a", "abc", f"x{label}", "x",
                   [(label, glyph(label, rng)) for _ in range(3)])
    handwriting = load_handwriting(tmp_path, ["1a"])
    small = [check for check in handwriting.checks if "/x" in check.file]
    assert len(small) == 3 and all(check.judged == 9 and not check.misaligned
                                   for check in small)
    votes = shape_votes(handwriting.images, handwriting.characters)
    wrong = [dataclasses.replace(c, label="1") if c.writer == "abc/x" and c.label == "0" else
             dataclasses.replace(c, label="0") if c.writer == "abc/x" and c.label == "1" else c
             for c in handwriting.characters]
    verdicts = {check.file: check.misaligned for check in check_labels(wrong, votes)}
    assert [verdicts[f"data/1a/abc/x{label}.dat"] for label in "017"] == [True] * 3


def test_a_file_with_a_segment_outside_its_pen_file_is_dropped(tmp_path):
    write_writers(tmp_path, [f"w{n}" for n in range(4)])
    rng = np.random.default_rng(2)
    write_file(tmp_path, "1a", "abc", "bad", "bad", [(label, glyph(label, rng))
                                                     for label in "0170171017"],
               ranges=[str(n) for n in range(9)] + ["40"])
    handwriting = load_handwriting(tmp_path, ["1a"])
    dropped = [check.file for check in handwriting.checks if check.misaligned]
    assert dropped == ["data/1a/abc/bad.dat"]
    assert not handwriting.kept[[c.writer == "abc/bad" for c in handwriting.characters]].any()


def test_select_keeps_a_side_and_sets_look_alikes_apart(tmp_path):
    writers = fit_writers(2) + fit_writers(1, "validate")
    rng = np.random.default_rng(3)
    for writer in writers:
        write_file(tmp_path, "1b", "abc", writer, writer,
                   [(label, glyph("017"[n % 3], rng)) for n, label in enumerate("OKTAX")])
    handwriting = load_handwriting(tmp_path, ["1b"])
    fit = handwriting.select(["1b"], "fit")
    assert {handwriting.characters[i].label for i in fit} == {"K", "A", "X"}
    assert {handwriting.characters[i].writer for i in fit} == {f"abc/{w}" for w in writers[:2]}
    every = handwriting.select(["1b"], "validate", look_alikes=True)
    assert sorted(handwriting.characters[i].label for i in every) == sorted("OKTAX")


def test_real_digits_are_the_fit_writers_drawn_and_handed_over(tmp_path):
    writers = fit_writers(3) + fit_writers(2, "validate")
    write_writers(tmp_path, writers, per_label=2)
    reader = Recognizer(registry.load(registry.MODEL, registry.MODEL.shipped, CPU), CPU,
                        options=Options(one_digit=True))
    real = real_digits(tmp_path, reader, seed=0)
    assert len(real) == 2 * 3 * 6  # the fit writers' 18 digits, drawn and handed over
    assert real.images.dtype == torch.uint8 and real.images.shape[1:] == (28, 28)
    assert real.labels[:18].tolist() == real.labels[18:].tolist()
    assert Counter(real.labels.tolist()) == {0: 12, 1: 12, 7: 12}
    assert (real.images.flatten(1).amax(1) > 200).all()
    again = real_digits(tmp_path, reader, seed=0)
    assert torch.equal(real.images, again.images)


@pytest.mark.slow
def test_the_real_archive_checked_and_split(real_unipen):
    handwriting = load_handwriting(real_unipen, ["1a", "1b"])
    segments = Counter(c.category for c in handwriting.characters)
    dropped = Counter(c.category for c, kept in zip(handwriting.characters, handwriting.kept,
                                                    strict=True) if not kept)
    assert dropped["1a"] <= 0.01 * segments["1a"] and dropped["1b"] <= 0.01 * segments["1b"]
    writers = [{c.writer for c, side in zip(handwriting.characters, handwriting.side,
                                            strict=True) if side == s} for s in range(3)]
    assert not (writers[0] & writers[1] or writers[0] & writers[2] or writers[1] & writers[2])
    assert len(writers[1]) >= 25
    # Labels moved by one segment, as when a file's segments are misaligned, are found.
    votes = shape_votes(handwriting.images, handwriting.characters)
    moved = list(handwriting.characters)
    for indices in by_file(moved).values():
        labels = [moved[i].label for i in indices]
        for i, label in zip(indices, labels[1:] + labels[:1], strict=True):
            moved[i] = dataclasses.replace(moved[i], label=label)
    verdicts = {check.file: check.misaligned for check in check_labels(moved, votes)}
    changed = [c for c, m in zip(handwriting.characters, moved, strict=True) if c.label != m.label]
    found = np.mean([verdicts[c.file] for c in changed if c.category == "1b"])
    assert found > 0.9
