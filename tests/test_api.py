"""The API for scripts and notebooks: ``Recognizer.load``, ``read``, ``read_many``, how results
show themselves, ``mnist_cnn.train``, and the example notebook."""

import base64
import io
import json
import re
import subprocess

import numpy as np
import pytest
import torch
from pictures import as_image, draw_one, on_paper, write
from PIL import Image

import mnist_cnn
from mnist_cnn import DigitReading, Recognition, Recognizer, RejectedMark, TrainingRun
from mnist_cnn.cli.recognize import main as recognize
from mnist_cnn.errors import MissingCheckpointError, UsageError
from mnist_cnn.fitting import run as fitting_run

from conftest import REPO, cli

CPU = torch.device("cpu")
EXAMPLES = REPO / "examples"


@pytest.fixture
def number_file(tmp_path):
    """A picture of a two-line number (several boxes, lines), saved as a PNG."""
    path = tmp_path / "number.png"
    as_image(on_paper(write("427/15"))).save(path)
    return path


def _record(result: Recognition) -> dict:
    """What was read, whatever the picture was called. Digit scores are rounded: the
    detector's matrix products round differently in batches of other sizes (about 1e-6)."""
    record = {key: value for key, value in result.as_json().items() if key != "path"}
    for mark in record["digits"] + record["rejected"]:
        mark["score"] = None if mark["score"] is None else round(mark["score"], 3)
    return record


def _opened(path) -> Image.Image:
    with Image.open(path) as image:
        return image.copy()


def _inputs(path):
    """The picture at ``path`` as every kind of input ``read`` takes."""
    image = _opened(path)
    gray = np.asarray(image)
    return {
        "str": str(path),
        "Path": path,
        "PIL image": image,
        "grayscale uint8": gray,
        "grayscale HxWx1": gray[:, :, None],
        "RGB uint8": np.stack([gray] * 3, axis=-1),
        "RGBA uint8": np.dstack([gray] * 3 + [np.full_like(gray, 255)]),
        "float in [0, 1]": gray.astype(np.float32) / 255,
        "bytes": path.read_bytes(),
    }


def test_the_package_exports_the_api():
    assert mnist_cnn.train is fitting_run.train
    assert mnist_cnn.Recognizer is Recognizer and mnist_cnn.TrainingRun is TrainingRun
    assert {"Recognizer", "Recognition", "DigitReading", "RejectedMark", "train"} <= set(
        mnist_cnn.__all__)
    assert DigitReading.__module__ == RejectedMark.__module__ == "mnist_cnn.reading.results"


def test_python_m_runs_the_train_command_without_a_warning():
    done = subprocess.run(cli("mnist_cnn.cli.train", "--help"), capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0 and done.stdout.startswith("usage: mnist-train")
    assert done.stderr == ""


def test_load_has_the_cli_defaults(checkpoint):
    reader = Recognizer.load(checkpoint, device="cpu")
    assert (reader.top_k, reader.threshold, reader.device) == (1, 0.5, CPU)
    assert reader.options.one_digit is False and reader.options.preprocess == "mnist"
    # The untrained checkpoint has no detector beside it: the shipped one is used, no note.
    assert reader.detector is not None and reader.notes == []
    assert Recognizer.load(str(checkpoint)).device.type in ("cpu", "cuda", "mps")


@pytest.mark.parametrize("settings, message", [
    ({"top_k": 11}, "top_k must be a whole number between 1 and 10, got 11"),
    ({"top_k": 2.5}, "top_k must be a whole number"),
    ({"threshold": 2.0}, "threshold must be between 0 and 1"),
    ({"reject_threshold": float("nan")}, "reject_threshold must be a finite number"),
    ({"preprocess": "fancy"}, "preprocess must be one of mnist, plain"),
    ({"device": "tpu"}, "unknown device 'tpu'"),
])
def test_load_refuses_bad_settings(checkpoint, settings, message):
    with pytest.raises(UsageError, match=message):
        Recognizer.load(checkpoint, **settings)


def test_load_without_a_checkpoint_says_to_train(tmp_path):
    with pytest.raises(MissingCheckpointError, match="mnist-train"):
        Recognizer.load(tmp_path / "none.ckpt", device="cpu")


def test_every_kind_of_input_reads_as_the_file_does(checkpoint, number_file):
    reader = Recognizer.load(checkpoint, device="cpu", top_k=3)
    (expected,) = Recognizer.from_checkpoint(checkpoint, CPU, top_k=3).read_paths([number_file])
    assert len(expected.lines) == 2 and len(expected.digits) >= 3  # untrained: cuts may differ
    for kind, picture in _inputs(number_file).items():
        result = reader.read(picture)
        assert _record(result) == _record(expected), kind
        assert result.preview is not None, kind
        assert all(d.network_input is not None for d in result.digits), kind


def test_a_single_digit_reads_as_the_file_does(checkpoint, tmp_path):
    path = tmp_path / "one.png"
    draw_one().save(path)
    reader = Recognizer.load(checkpoint, device="cpu")
    (expected,) = reader.read_paths([path])
    for kind, picture in _inputs(path).items():
        assert _record(reader.read(picture)) == _record(expected), kind


def test_str_is_the_line_mnist_recognize_prints(checkpoint, number_file, tmp_path, capsys):
    blank = tmp_path / "blank.png"
    Image.new("L", (50, 50), 255).save(blank)
    assert recognize([str(number_file), str(blank), "--checkpoint", str(checkpoint),
                      "--no-grid", "--top-k", "2"]) == 0
    printed = capsys.readouterr().out.splitlines()
    reader = Recognizer.load(checkpoint, device="cpu", top_k=2)
    assert [str(reader.read(str(number_file))), str(reader.read(str(blank)))] == printed
    assert printed[1].endswith(": no digit found (blank, or no ink that stands out)")
    assert str(reader.read(_opened(number_file), name=str(number_file))) == printed[0]


def test_read_many_keeps_the_order_and_reports_bad_inputs(checkpoint, number_file, tmp_path,
                                                          monkeypatch):
    monkeypatch.setattr("mnist_cnn.reading.pipeline.PARALLEL_FROM", 2)
    bad = tmp_path / "bad.png"
    bad.write_text("text, not a png")
    one = tmp_path / "one.png"
    draw_one().save(one)
    gray = np.asarray(_opened(number_file))
    pictures = [number_file, str(bad), one, gray, np.full((9, 9), np.nan), number_file.read_bytes(),
                one, number_file]
    reader = Recognizer.load(checkpoint, device="cpu")
    stream = reader.read_many(iter(pictures), workers=2, keep_images=1)
    assert iter(stream) is stream  # results come as they are read, not as one list
    results = list(stream)
    assert [r.path for r in results] == [str(number_file), str(bad), str(one), "array[3]",
                                         "array[4]", "bytes[5]", str(one), str(number_file)]
    assert results[1].error == f"{bad}: not an image format Pillow can read"
    assert results[4].error == "array[4]: the array holds NaN or infinite values"
    assert [r.error is None for r in results] == [True, False, True, True, False, True, True,
                                                  True]
    number = _record(reader.read(number_file))
    assert _record(results[0]) == _record(results[3]) == _record(results[5]) == number
    assert _record(results[7]) == number and _record(results[2]) == _record(results[6])
    assert results[0].preview is not None
    assert all(r.preview is None for r in results[1:])


@pytest.mark.parametrize("array, reason", [
    (np.zeros((4, 4, 2), np.uint8), r"expected a grayscale \(H, W\) or RGB/RGBA .* \(4, 4, 2\)"),
    (np.zeros((2, 4, 4, 3), np.uint8), r"got shape \(2, 4, 4, 3\)"),
    (np.zeros((0, 5), np.uint8), r"empty array, shape \(0, 5\)"),
    (np.zeros((8, 8), np.int64), "dtype int64 is not supported: use uint8"),
    (np.zeros((8, 8), bool), "dtype bool is not supported"),
    (np.full((8, 8), np.inf, np.float32), "NaN or infinite values"),
    (np.full((8, 8), 255.0), r"float values must be in \[0, 1\] \(1 = white\), got 255 to 255"),
])
def test_an_unreadable_array_is_a_result_with_the_reason(checkpoint, array, reason):
    result = Recognizer.load(checkpoint, device="cpu").read(array)
    assert result.error.startswith("array: ") and re.search(reason, result.error)
    assert "\n" not in result.error and result.digits == [] and result.number == ""
    assert str(result) == f"error: {result.error}"


def test_unreadable_files_and_bytes_are_results_with_the_reason(checkpoint, tmp_path):
    reader = Recognizer.load(checkpoint, device="cpu")
    assert reader.read(tmp_path / "nope.png").error == f"{tmp_path / 'nope.png'}: no such file"
    assert reader.read(b"").error == "bytes: empty file (0 bytes)"
    truncated = io.BytesIO()
    draw_one().save(truncated, format="PNG")
    assert "truncated or corrupt" in reader.read(truncated.getvalue()[:100]).error
    with Image.open(io.BytesIO(truncated.getvalue()[:100])) as lazy:  # decoded only when read
        assert "truncated or corrupt" in reader.read(lazy, name="scan").error


@pytest.mark.parametrize("wrong", [42, None, [[0, 255]], {"path": "a.png"}])
def test_a_value_of_another_type_is_a_type_error(checkpoint, wrong):
    reader = Recognizer.load(checkpoint, device="cpu")
    with pytest.raises(TypeError, match="give a file's path, a PIL image, a numpy array"):
        reader.read(wrong)
    with pytest.raises(TypeError):
        list(reader.read_many([wrong]))


def test_a_result_shows_itself_in_a_notebook(checkpoint, number_file):
    reader = Recognizer.load(checkpoint, device="cpu")
    result = reader.read(np.asarray(_opened(number_file)), name="form-7")
    assert repr(result) == f"Recognition(path='form-7', number='{result.number}')"
    assert re.fullmatch(r"form-7: \d+ \d+ \(lowest digit confidence \d+\.\d%\)( uncertain)?",
                        str(result))
    png = result._repr_png_()
    assert png.startswith(b"\x89PNG")
    with Image.open(io.BytesIO(png)) as image:
        assert image.format == "PNG" and image.width >= 200 and image.height >= 200
    assert "array" not in repr(result.digits[0])  # no 28x28 input dumped
    error = reader.read(b"junk")
    assert repr(error) == "Recognition(path='bytes', error='bytes: not an image format Pillow " \
                          "can read')"
    assert error._repr_png_() is None  # no picture: Jupyter shows the text


def test_train_returns_the_accuracy_and_the_files_it_wrote(tiny_mnist, tmp_path, capsys):
    run = mnist_cnn.train(epochs=2, batch_size=64, data_dir=tiny_mnist, download=False,
                          checkpoint=tmp_path / "out" / "digits.ckpt", device="cpu",
                          verbose=False)
    assert capsys.readouterr().out == ""
    assert isinstance(run, TrainingRun) and 0 <= run.accuracy <= 100
    assert run.checkpoint == tmp_path / "out" / "digits.ckpt"
    assert run.sidecar == tmp_path / "out" / "digits.json"
    assert run.report_dir == tmp_path / "out" / "digits-report"
    assert not (tmp_path / "out" / "digits.detector.pt").exists()  # the shipped one serves
    for path in (run.checkpoint, run.sidecar, run.report_dir / "metrics.json"):
        assert path.is_file(), path
    sidecar = json.loads(run.sidecar.read_text())
    assert sidecar["test_accuracy"] == run.accuracy == run.history.epochs[-1].test_accuracy
    assert sidecar["arguments"]["epochs"] == 2 and sidecar["arguments"]["download"] is False
    assert len(run.history.epochs) == 2
    reader = Recognizer.load(run.checkpoint, device="cpu")
    assert reader.detector is not None and reader.notes == []


def test_train_prints_the_cli_progress_unless_quiet(tiny_mnist, tmp_path, capsys):
    run = mnist_cnn.train(epochs=1, batch_size=64, data_dir=str(tiny_mnist), download=False,
                          checkpoint=str(tmp_path / "model.ckpt"), device="cpu", report=False)
    output = capsys.readouterr().out
    assert "Training on cpu" in output and "Epoch [1/1] done in" in output
    assert f"Saved model to {tmp_path / 'model.ckpt'}" in output
    assert run.report_dir is None and not (tmp_path / "model-report").exists()


@pytest.mark.parametrize("settings, message", [
    ({"epochs": 0}, "epochs must be a whole number of at least 1, got 0"),
    ({"batch_size": 2.5}, "batch_size must be a whole number"),
    ({"lr": -1.0}, "lr must be greater than 0"),
    ({"hard_share": 0.0}, "hard_share must be between 0.01 and 1"),
    ({"precision": "fp16"}, "precision must be one of auto, bf16, fp32"),
    ({"device": "gpu"}, "unknown device 'gpu'"),
])
def test_train_refuses_bad_settings_before_any_work(tmp_path, settings, message):
    with pytest.raises(UsageError, match=message):
        mnist_cnn.train(data_dir=tmp_path / "none", checkpoint=tmp_path / "model.ckpt",
                        download=False, verbose=False, **settings)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_the_example_notebook_runs_and_reads_the_drafts(trained_checkpoint, monkeypatch,
                                                        capsys):
    import nbclient
    import nbformat

    notebook = nbformat.read(EXAMPLES / "quickstart.ipynb", as_version=4)
    monkeypatch.setenv("MNIST_CNN_CHECKPOINT", str(trained_checkpoint))
    nbclient.NotebookClient(notebook, timeout=300, kernel_name="python3",
                            resources={"metadata": {"path": str(EXAMPLES)}}).execute()
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert not any(out.output_type == "error" for cell in code for out in cell.outputs)

    def printed(cell) -> str:
        return "".join(out.text for out in cell.outputs if out.output_type == "stream")

    def shown(cell) -> dict:
        (result,) = [out for out in cell.outputs if out.output_type == "execute_result"]
        return result.data

    drafts = sorted(f"../num-draft/{path.name}" for path in (REPO / "num-draft").glob("*.png"))
    monkeypatch.chdir(EXAMPLES)
    capsys.readouterr()
    assert recognize([*drafts, "--checkpoint", str(trained_checkpoint), "--no-grid"]) == 0
    assert printed(code[1]) == capsys.readouterr().out  # read_many: the CLI's very lines
    assert [line.split(": ")[1][0] for line in printed(code[1]).splitlines()] == list("0123456789")
    seven = shown(code[2])
    assert seven["text/plain"] == "Recognition(path='../num-draft/num7.png', number='7')"
    assert base64.b64decode(seven["image/png"]).startswith(b"\x89PNG")
    assert printed(code[3]) == "2025 2025\n"  # the array of four drafts, uint8 and float
    assert base64.b64decode(shown(code[3])["image/png"]).startswith(b"\x89PNG")
