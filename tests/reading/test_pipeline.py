"""The one path a picture takes: what reading imports and loads, what the stages hand on, the
same preparation in worker processes as in this one."""

import json
import subprocess
import sys

import numpy as np
import pytest
import torch
from pictures import as_image, draw_one, on_paper, write

from mnist_cnn.networks import registry
from mnist_cnn.reading.images import read_grayscale
from mnist_cnn.reading.pipeline import Options, prepare, prepare_paths
from mnist_cnn.reading.recognizer import Recognizer

from conftest import REPO

CPU = torch.device("cpu")


def test_reading_imports_nothing_of_fitting(tmp_path):
    """In a fresh interpreter: import the package, load the recognizer, read a digit and a
    number. Not one fitting module (nor torchvision, nor matplotlib) is imported."""
    as_image(on_paper(write("47"))).save(tmp_path / "number.png")
    script = (
        "import sys, json, mnist_cnn\n"
        "reader = mnist_cnn.Recognizer.load(device='cpu')\n"
        f"digit = reader.read({str(REPO / 'num-draft' / 'num4.png')!r})\n"
        f"number = reader.read({str(tmp_path / 'number.png')!r})\n"
        "loaded = [m for m in sys.modules if m.startswith(('mnist_cnn.fitting', 'torchvision',"
        " 'matplotlib', 'mnist_cnn.cli'))]\n"
        "print(json.dumps([digit.number, number.number, loaded]))\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    digit, number, loaded = json.loads(done.stdout)
    assert (digit, number) == ("4", "47")
    assert loaded == []


def test_the_verifier_and_the_pair_reader_are_loaded_for_the_first_number_only(tmp_path):
    reader = Recognizer.from_checkpoint(registry.MODEL.shipped, CPU)
    assert reader.read(draw_one()).number == "1"
    assert reader.networks._searchers is None
    number = tmp_path / "number.png"
    as_image(on_paper(write("38"))).save(number)
    assert reader.read(number).number == "38"
    assert reader.networks._searchers is not None


def test_a_digit_takes_the_short_path_and_a_number_is_searched():
    digit = prepare(on_paper(write("5")), 1.0, Options())
    assert len(digit.layout.candidates) == 1 and not digit.inputs.searched
    assert digit.inputs.digits.shape == (1, 28, 28)
    number = prepare(on_paper(write("508")), 1.0, Options())
    count = len(number.layout.candidates)
    assert count > 3 and number.layout.segments == [3] and number.inputs.searched
    assert number.inputs.contexts.shape == (count, 2, 32, 32)
    assert number.inputs.shapes.shape == (count, 8)
    assert number.inputs.pairs.shape == (count, 28, 56)
    searched = prepare(on_paper(write("5")), 1.0, Options(search=True))
    assert searched.inputs.searched and searched.layout.lines


def test_a_picture_one_digit_is_one_candidate_of_all_its_ink():
    number = prepare(on_paper(write("508")), 1.0, Options(one_digit=True))
    assert len(number.layout.candidates) == 1 and not number.inputs.searched


@pytest.mark.parametrize("workers", [1, 2])
def test_files_are_prepared_alike_in_workers_and_here(tmp_path, workers, monkeypatch):
    monkeypatch.setattr("mnist_cnn.reading.pipeline.PARALLEL_FROM", 2)
    paths = []
    for index, text in enumerate(["1", "23", "7", "450"]):
        paths.append(tmp_path / f"{index}.png")
        as_image(on_paper(write(text))).save(paths[-1])
    prepared = list(prepare_paths(paths, Options(), keep_images=2, workers=workers))
    for index, (path, ready) in enumerate(zip(paths, prepared, strict=True)):
        gray, scale = read_grayscale(path)
        here = prepare(gray, scale, Options())
        assert np.array_equal(ready.inputs.digits, here.inputs.digits)
        assert ready.layout.candidates == here.layout.candidates
        assert ready.layout.lines == [] and (ready.preview is not None) == (index < 2)
