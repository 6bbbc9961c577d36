import json
import os
import re
import signal
import subprocess
import sys

import cv2
import pytest
import torch
from pictures import as_image, draw_one, on_paper, write
from PIL import Image

from mnist_cnn.cli.recognize import expand_inputs, main
from mnist_cnn.errors import UsageError


@pytest.fixture
def folder(tmp_path):
    path = tmp_path / "imgs"
    path.mkdir()
    draw_one().save(path / "a.png")
    draw_one(ink=235, paper=20).save(path / "b.jpg")
    Image.new("L", (50, 50), 255).save(path / "blank.png")
    return path


def test_expand_files_folders_and_globs(images):
    assert [p.name for p in expand_inputs([str(images)])] == ["d0.png", "d1.png", "d2.png"]
    assert [p.name for p in expand_inputs([str(images / "d*.png")])] == [
        "d0.png", "d1.png", "d2.png"]
    assert [p.name for p in expand_inputs([str(images / "d1.png"), str(images / "nope.png")])] \
        == ["d1.png", "nope.png"]


def test_nothing_matched_is_a_usage_error(images):
    with pytest.raises(UsageError, match="no image files matched"):
        expand_inputs([str(images / "*.jpeg")])


def test_a_folder_that_cannot_be_listed_is_a_usage_error(images, monkeypatch):
    def denied(self):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(type(images), "iterdir", denied)
    with pytest.raises(UsageError, match="cannot list the folder"):
        expand_inputs([str(images)])


def test_one_line_per_image(folder, checkpoint, capsys):
    assert main([str(folder), "--checkpoint", str(checkpoint), "--no-grid"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3
    assert re.fullmatch(rf"{re.escape(str(folder / 'a.png'))}: \d \(\d+\.\d%\)( uncertain)?",
                        lines[0])
    assert lines[2] == f"{folder / 'blank.png'}: no digit found (blank, or no ink that stands out)"


def test_json_is_one_document_with_errors_per_file(folder, checkpoint, capsys):
    (folder / "bad.png").write_text("text, not a png")
    code = main([str(folder), "--checkpoint", str(checkpoint), "--json", "--top-k", "3"])
    assert code == 1
    records = json.loads(capsys.readouterr().out)
    assert [r["path"].rsplit("/", 1)[-1] for r in records] == ["a.png", "b.jpg", "bad.png",
                                                             "blank.png"]
    bad = records[2]
    assert bad["digit"] is None and "not an image format" in bad["error"]
    assert records[0]["digit"] in range(10) and len(records[0]["top_k"]) == 3
    assert records[3]["blank"] is True


def test_numbers_print_as_one_line_with_the_lowest_confidence(tmp_path, checkpoint, capsys):
    as_image(on_paper(write("427"))).save(tmp_path / "n.png")
    assert main([str(tmp_path / "n.png"), "--checkpoint", str(checkpoint), "--no-grid"]) == 0
    captured = capsys.readouterr()
    assert re.fullmatch(rf"{re.escape(str(tmp_path / 'n.png'))}: \d{{3}} "
                        r"\(lowest digit confidence \d+\.\d%\)( uncertain)?\n", captured.out)
    assert captured.err == ""
    assert main([str(tmp_path / "n.png"), "--checkpoint", str(checkpoint), "--no-grid",
                 "--one-digit", "--no-reject"]) == 0
    captured = capsys.readouterr()
    assert re.fullmatch(r".*n\.png: \d \(\d+\.\d%\)( uncertain)?\n", captured.out)
    assert captured.err == ""


def test_json_has_the_number_and_its_digits(tmp_path, checkpoint, capsys):
    as_image(on_paper(write("12/34", gap=0.6))).save(tmp_path / "n.png")
    assert main([str(tmp_path / "n.png"), "--checkpoint", str(checkpoint), "--json"]) == 0
    (record,) = json.loads(capsys.readouterr().out)
    assert record["number"] == " ".join(record["lines"]) and len(record["lines"]) == 2
    assert len(record["digits"]) == 4 and record["digit"] is None
    assert record["not_digit"] is False and record["rejected"] == []


def test_length_reads_that_many_digits_and_json_lists_alternatives(tmp_path, capsys):
    ink = write("427", gap=0.9).copy()
    cv2.line(ink, (105, 45), (108, 80), 1.0, 3)  # a stray stroke between the 4 and the 2
    as_image(on_paper(ink)).save(tmp_path / "n.png")
    assert main([str(tmp_path / "n.png"), "--json", "--no-grid"]) == 0
    (record,) = json.loads(capsys.readouterr().out)
    assert record["number"] == "4127" and record["alternatives"][0]["number"] == "427"
    assert main([str(tmp_path / "n.png"), "--json", "--no-grid", "--length", "3"]) == 0
    (record,) = json.loads(capsys.readouterr().out)
    assert record["number"] == "427" and record["alternatives"][0]["number"] == "4127"
    assert main([str(tmp_path / "n.png"), "--no-grid", "--length", "2-3"]) == 0
    assert capsys.readouterr().out.startswith(f"{tmp_path / 'n.png'}: 427 ")


def test_bad_file_is_an_error_line_and_exit_1(folder, checkpoint, capsys):
    (folder / "empty.png").write_bytes(b"")
    assert main([str(folder), "--checkpoint", str(checkpoint), "--no-grid"]) == 1
    captured = capsys.readouterr()
    assert f"mnist-recognize: error: {folder / 'empty.png'}: empty file" in captured.err
    assert len(captured.out.splitlines()) == 3
    assert "Traceback" not in captured.err


def test_no_checkpoint_is_a_usage_error_with_a_hint(folder, tmp_path, capsys):
    assert main([str(folder), "--checkpoint", str(tmp_path / "none.ckpt")]) == 2
    assert "mnist-train" in capsys.readouterr().err


def test_no_input_matched_is_a_usage_error(tmp_path, checkpoint, capsys):
    assert main([str(tmp_path / "*.png"), "--checkpoint", str(checkpoint)]) == 2
    assert "no image files matched" in capsys.readouterr().err


def test_corrupt_checkpoint_is_exit_1(folder, tmp_path, capsys):
    bad = tmp_path / "bad.ckpt"
    bad.write_bytes(b"garbage" * 100)
    assert main([str(folder), "--checkpoint", str(bad)]) == 1
    assert f"{bad}:" in capsys.readouterr().err


@pytest.mark.parametrize("args", [["--top-k", "11"], ["--top-k", "0"], ["--threshold", "2"],
                                  ["--device", "tpu"], ["--reject-threshold", "nan"],
                                  ["--reject-threshold", "x"], ["--length", "0"],
                                  ["--length", "3-2"], ["--length", "x"], ["--length", "2-"]])
def test_bad_flags_exit_2(folder, args):
    with pytest.raises(SystemExit) as exit_info:
        main([str(folder), *args])
    assert exit_info.value.code == 2


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_on_a_cpu_machine_is_a_clear_message(folder, checkpoint, capsys):
    assert main([str(folder), "--checkpoint", str(checkpoint), "--device", "cuda"]) == 2
    assert "CUDA is not available" in capsys.readouterr().err


def test_grid_is_saved_headless_with_boxes_and_network_inputs(folder, checkpoint, tmp_path):
    grid = tmp_path / "grid.png"
    as_image(on_paper(write("427"))).save(folder / "number.png")
    assert main([str(folder), "--checkpoint", str(checkpoint), "--grid", str(grid),
                 "--show-input"]) == 0
    with Image.open(grid) as image:
        assert image.format == "PNG" and image.height > 300


def test_without_a_grid_matplotlib_is_never_imported(folder, checkpoint, monkeypatch):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    code = ("import sys; from mnist_cnn.cli.recognize import main; "
            f"rc = main([{str(folder)!r}, '--checkpoint', {str(checkpoint)!r}]); "
            "assert 'matplotlib' not in sys.modules; assert 'torchvision' not in sys.modules; "
            "sys.exit(rc)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert len(done.stdout.splitlines()) == 3


def test_debug_shows_the_traceback(folder, tmp_path, capsys):
    assert main([str(folder), "--checkpoint", str(tmp_path / "none.ckpt"), "--debug"]) == 2
    assert "Traceback" in capsys.readouterr().err


@pytest.mark.slow
def test_ten_thousand_files_in_bounded_memory_and_one_json_document(tmp_path, checkpoint):
    folder = tmp_path / "many"
    folder.mkdir()
    for index in range(10_000):
        draw_one(size=(28, 28), box=(10 + index % 5, 4, 16, 24), width=3).save(
            folder / f"{index:05d}.png")
    command = [sys.executable, "-m", "mnist_cnn.cli.recognize", str(folder), "--checkpoint",
               str(checkpoint), "--json"]
    with open(tmp_path / "stderr.txt", "wb") as errors:
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=errors)
        output = process.stdout.read()
        _, status, usage = os.wait4(process.pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, (tmp_path / "stderr.txt").read_text()
    assert usage.ru_maxrss * 1024 < 1.5e9
    records = json.loads(output)
    assert len(records) == 10_000 and all(r["digit"] in range(10) for r in records)


def test_show_without_a_display_says_so_and_does_not_hang(folder, checkpoint, monkeypatch,
                                                          capsys):
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.setattr(sys, "platform", "linux")
    assert main([str(folder), "--checkpoint", str(checkpoint), "--show"]) == 0
    assert "no display here" in capsys.readouterr().err


def test_grid_is_capped(folder, checkpoint, tmp_path, capsys):
    grid = tmp_path / "grid.png"
    assert main([str(folder), "--checkpoint", str(checkpoint), "--grid", str(grid),
                 "--grid-max", "2"]) == 0
    assert "the grid shows the first 2 of 3 images" in capsys.readouterr().err
    assert grid.exists()


@pytest.mark.parametrize("name", ["missing-folder/grid.png", "grid.unknownformat"])
def test_a_grid_that_cannot_be_saved_is_a_one_line_error(folder, checkpoint, tmp_path, name,
                                                        capsys):
    assert main([str(folder), "--checkpoint", str(checkpoint), "--grid",
                 str(tmp_path / name)]) == 1
    err = capsys.readouterr().err
    assert "cannot save the grid" in err and "Traceback" not in err


def test_ctrl_c_while_recognizing_many_files_is_one_line(tmp_path, checkpoint):
    folder = tmp_path / "many"
    folder.mkdir()
    for index in range(3000):
        draw_one(size=(300, 300), box=(120, 40, 180, 260), width=9).save(folder / f"{index}.png")
    process = subprocess.Popen(
        [sys.executable, "-m", "mnist_cnn.cli.recognize", str(folder), "--checkpoint",
         str(checkpoint), "--no-grid"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    process.stdout.readline()
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 130
    assert "interrupted" in err and "Traceback" not in err
