from collections import Counter

import numpy as np
import pytest

from mnist_cnn.errors import DataError
from mnist_cnn.fitting.unipen import parse_ranges, read_unipen

from unipen_files import glyph, write_file


def strokes(*points):
    return [np.array(stroke, float) for stroke in points]


def test_ranges_of_components_and_points():
    assert parse_ranges("7") == [((7, None), (7, None))]
    assert parse_ranges("3-4") == [((3, None), (4, None))]
    assert parse_ranges("12:0-13:20,15") == [((12, 0), (13, 20)), ((15, None), (15, None))]
    assert parse_ranges("3-4:9") == [((3, None), (4, 9))]
    for bad in ("", "3-", "a-4", "3:x", "3--4"):
        with pytest.raises(ValueError):
            parse_ranges(bad)


def test_segments_take_their_components_with_y_pointing_down(tmp_path):
    one = strokes([(0, 0), (0, 100)])
    seven = strokes([(0, 0), (50, 0)], [(50, 0), (20, 100)])
    write_file(tmp_path, "1a", "abc", "w1", "17", [("1", one), ("7", seven)])
    first, second = read_unipen(tmp_path, ["1a"])
    assert (first.label, first.site, first.writer, first.index) == ("1", "abc", "abc/17", 0)
    assert first.file == "data/1a/abc/w1.dat" and first.complete
    np.testing.assert_array_equal(first.strokes[0], [[0, 0], [0, 100]])
    assert second.label == "7" and len(second.strokes) == 2
    np.testing.assert_array_equal(second.strokes[1], [[50, 0], [20, 100]])


def test_pen_up_blocks_with_points_are_numbered_and_hold_no_ink(tmp_path):
    characters = [("1", strokes([(0, 0), (0, 100)])),
                  ("7", strokes([(0, 0), (50, 0)], [(50, 0), (20, 100)]))]
    write_file(tmp_path, "1a", "abc", "w1", "3", characters, pen_up_points=True)
    first, second = read_unipen(tmp_path, ["1a"])
    assert [len(c.strokes) for c in (first, second)] == [1, 2]
    np.testing.assert_array_equal(second.strokes[0], [[0, 0], [50, 0]])
    assert first.complete and second.complete


def test_point_ranges_take_part_of_a_component(tmp_path):
    line = strokes([(x, 0) for x in range(10)])
    write_file(tmp_path, "1d", "abc", "w1", "3", [("-", line), ("-", line)],
               ranges=["0:2-0:5", "0:7-0"])
    first, second = read_unipen(tmp_path, ["1d"])
    np.testing.assert_array_equal(first.strokes[0][:, 0], [2, 3, 4, 5])
    np.testing.assert_array_equal(second.strokes[0][:, 0], [7, 8, 9])


def test_writers_keyed_by_site_or_by_pen_file(tmp_path):
    rng = np.random.default_rng(0)
    write_file(tmp_path, "1a", "abc", "w1", "5", [("0", glyph("0", rng))])
    write_file(tmp_path, "1a", "xyz", "w1", "5", [("0", glyph("0", rng))])
    write_file(tmp_path, "1a", "xyz", "w2", None, [("1", glyph("1", rng))])
    writers = {c.writer for c in read_unipen(tmp_path, ["1a"])}
    assert writers == {"abc/5", "xyz/5", "xyz/xyz/data/w2.dat"}


def test_labels_unescaped(tmp_path):
    rng = np.random.default_rng(0)
    data = write_file(tmp_path, "1d", "abc", "w1", "5",
                      [("x", glyph("1", rng)), ("x", glyph("1", rng)), ("x", glyph("1", rng))])
    text = data.read_text().splitlines()
    labels = [r'"\""', r'"\\"', r'"\@"']
    data.write_text("\n".join(text[:2] + [line.rsplit(" ", 1)[0] + " " + label
                                          for line, label in zip(text[2:], labels,
                                                                 strict=True)]) + "\n")
    assert [c.label for c in read_unipen(tmp_path, ["1d"])] == ['"', "\\", "\\@"]


def test_a_range_outside_the_pen_file_is_marked_incomplete(tmp_path):
    rng = np.random.default_rng(0)
    write_file(tmp_path, "1a", "abc", "w1", "5", [("1", glyph("1", rng)), ("0", glyph("0", rng))],
               ranges=["0", "1-4"])
    first, second = read_unipen(tmp_path, ["1a"])
    assert first.complete and not second.complete and len(second.strokes) == 1


def test_included_documentation_may_be_missing(tmp_path):
    rng = np.random.default_rng(0)
    write_file(tmp_path, "1a", "abc", "w1", None, [("1", glyph("1", rng))])
    pen = tmp_path / "include" / "abc" / "data" / "w1.dat"
    pen.write_text(".INCLUDE abc/abc.doc\n" + pen.read_text())
    assert len(read_unipen(tmp_path, ["1a"])) == 1
    (tmp_path / "include" / "abc" / "abc.doc").write_text(".WRITER_ID 42\n")
    assert read_unipen(tmp_path, ["1a"])[0].writer == "abc/42"


def _one_file(tmp_path):
    return write_file(tmp_path, "1a", "abc", "w1", "5",
                      [("1", glyph("1", np.random.default_rng(0)))])


@pytest.mark.parametrize("damage, named, message", [
    (lambda root, data: None, "nowhere", "UNIPEN folder not found"),
    (lambda root, data: (root / "include" / "abc" / "data" / "w1.dat").unlink(),
     "include/abc/data/w1.dat", "included file not found"),
    (lambda root, data: (root / "include" / "abc" / "data" / "w1.dat").write_text(
        ".PEN_DOWN\n 10 twenty\n"), "include/abc/data/w1.dat", "not x y numbers"),
    (lambda root, data: data.write_text(data.read_text().replace("CHARACTER 0", "CHARACTER x")),
     "data/1a/abc/w1.dat", "malformed range"),
    (lambda root, data: data.write_text(data.read_text().replace('"1"', "1")),
     "data/1a/abc/w1.dat", "is not 'CHARACTER"),
    (lambda root, data: (root / "include" / "abc" / "data" / "w1.dat").write_text(
        ".INCLUDE abc/data/w1.dat\n"), "include/abc/data/w1.dat", "does a file include itself"),
])
def test_broken_folders_and_files_are_one_line_errors_naming_them(tmp_path, damage, named,
                                                                  message):
    data = _one_file(tmp_path)
    damage(tmp_path, data)
    root = tmp_path / named if named == "nowhere" else tmp_path
    with pytest.raises(DataError) as caught:
        read_unipen(root, ["1a"])
    text = str(caught.value)
    assert message in text and named in text and "\n" not in text


def test_missing_category_and_unknown_category(tmp_path):
    _one_file(tmp_path)
    with pytest.raises(DataError, match=r"data/1b: not found"):
        read_unipen(tmp_path, ["1a", "1b"])
    with pytest.raises(DataError, match="unknown UNIPEN categories 2a"):
        read_unipen(tmp_path, ["2a"])


@pytest.mark.slow
def test_the_real_archive_reads_whole(real_unipen):
    characters = read_unipen(real_unipen, ["1a", "1d"])
    counts = Counter(c.category for c in characters)
    assert counts == {"1a": 15_953, "1d": 17_286}
    assert all(c.complete and c.strokes for c in characters)
    digits = [c for c in characters if c.category == "1a"]
    assert Counter(c.label for c in digits).keys() == set("0123456789")
    assert len({c.site for c in digits}) == 17
    assert len({c.writer for c in digits}) > 250
