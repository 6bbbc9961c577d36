import json
import shutil
import signal
import subprocess
import time

import pytest
import torch

from mnist_cnn.cli.train import main
from mnist_cnn.fitting.convnet import resolve_precision
from mnist_cnn.fitting.handwriting import SIDES, side_of
from mnist_cnn.networks import registry
from mnist_cnn.reading.recognizer import Recognizer

from conftest import cli, same_weights
from unipen_files import write_writers

CPU = torch.device("cpu")


def load_model(path):
    return registry.load(registry.MODEL, path, CPU)


def _train_args(data_dir, checkpoint, *extra):
    return ["--data-dir", str(data_dir), "--no-download", "--checkpoint", str(checkpoint),
            "--epochs", "1", "--batch-size", "64", "--device", "cpu", *extra]


def test_trains_and_writes_checkpoint_and_sidecar(tiny_mnist, tmp_path, capsys):
    checkpoint = tmp_path / "out" / "model.ckpt"
    assert main(_train_args(tiny_mnist, checkpoint, "--epochs", "2", "--log-interval", "2")) == 0
    output = capsys.readouterr().out
    assert "Epoch [1/2], Step [2/5], Loss: " in output
    assert "Epoch [2/2] done in" in output
    assert "Test accuracy on the 100 test images: " in output
    assert f"Saved model to {checkpoint}" in output
    sidecar = json.loads((tmp_path / "out" / "model.json").read_text())
    assert sidecar["config"]["epochs"] == 2
    assert sidecar["environment"]["torch"] == torch.__version__
    assert len(sidecar["epochs"]) == 2
    load_model(checkpoint)


@pytest.mark.parametrize("precision", ["fp32", "bf16", "auto"])
def test_precision_is_chosen_and_recorded(tiny_mnist, tmp_path, capsys, precision):
    checkpoint = tmp_path / "model.ckpt"
    assert main(_train_args(tiny_mnist, checkpoint, "--precision", precision, "--epochs", "3",
                            "--no-report")) == 0
    used = resolve_precision(precision, torch.device("cpu"))
    name = {"fp32": "float32", "bf16": "bfloat16 autocast"}[used]
    assert f"Training on cpu ({name}) with 300 images, then the hardest 30%: 3 epochs" in (
        capsys.readouterr().out)
    sidecar = json.loads(checkpoint.with_suffix(".json").read_text())
    assert sidecar["precision"] == used and sidecar["config"]["precision"] == precision
    assert [(e["images"], e["steps"]) for e in sidecar["epochs"]] == [(300, 5), (90, 2), (90, 2)]
    state = torch.load(checkpoint, weights_only=True)
    assert all(t.dtype == torch.float32 for t in state.values() if t.is_floating_point())


def test_hard_share_one_trains_on_every_image_every_epoch(tiny_mnist, tmp_path, capsys):
    checkpoint = tmp_path / "model.ckpt"
    assert main(_train_args(tiny_mnist, checkpoint, "--hard-share", "1", "--epochs", "2",
                            "--no-report")) == 0
    assert "with 300 images: 2 epochs" in capsys.readouterr().out
    sidecar = json.loads(checkpoint.with_suffix(".json").read_text())
    assert [e["images"] for e in sidecar["epochs"]] == [300, 300]


def test_same_seed_gives_the_same_checkpoint(tiny_mnist, tmp_path):
    states = []
    for run, seed in enumerate(["3", "3", "4"]):
        path = tmp_path / f"run{run}.ckpt"
        assert main(_train_args(tiny_mnist, path, "--seed", seed, "--no-report")) == 0
        states.append(torch.load(path, weights_only=True))
    assert all(torch.equal(states[0][name], states[1][name]) for name in states[0])
    assert not torch.equal(states[0]["fc.weight"], states[2]["fc.weight"])


def test_eval_only_reports_accuracy_without_writing(tiny_mnist, checkpoint, capsys):
    before = checkpoint.read_bytes()
    assert main(["--eval-only", "--checkpoint", str(checkpoint), "--data-dir", str(tiny_mnist),
                 "--no-download"]) == 0
    assert "Test accuracy on the 100 test images:" in capsys.readouterr().out
    assert checkpoint.read_bytes() == before


@pytest.mark.parametrize("flag, value", [
    ("--epochs", "0"), ("--batch-size", "-1"), ("--lr", "0"), ("--lr", "nan"),
    ("--log-interval", "x"), ("--device", "gpu"), ("--hard-share", "0"),
    ("--hard-share", "1.5"), ("--precision", "fp16"),
])
def test_argparse_rejects_nonsense(flag, value, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main([flag, value])
    assert exit_info.value.code == 2
    assert flag in capsys.readouterr().err


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_on_a_cpu_machine_is_a_usage_error(tiny_mnist, tmp_path, capsys):
    code = main(_train_args(tiny_mnist, tmp_path / "m.ckpt", "--device", "cuda"))
    assert code == 2
    assert "CUDA is not available" in capsys.readouterr().err


def test_missing_data_fails_before_training(tmp_path, capsys):
    code = main(_train_args(tmp_path / "nowhere", tmp_path / "m.ckpt"))
    assert code == 1
    err = capsys.readouterr().err
    assert "MNIST not found" in err and "Traceback" not in err
    assert not (tmp_path / "m.ckpt").exists()


def test_real_digits_join_the_training_images(tiny_mnist, tmp_path, capsys):
    writers = [str(n) for n in range(400) if side_of(f"abc/{n}") == SIDES.index("fit")][:3]
    unipen = write_writers(tmp_path / "unipen", writers, per_label=2)
    checkpoint = tmp_path / "model.ckpt"
    assert main(_train_args(tiny_mnist, checkpoint, "--unipen", str(unipen), "--no-report")) == 0
    output = capsys.readouterr().out
    assert f"Added 36 real digits from UNIPEN's fit writers in {unipen}" in output
    assert "with 336 images" in output
    facts = json.loads(checkpoint.with_suffix(".json").read_text())
    assert facts["arguments"]["unipen"] == str(unipen) and facts["epochs"][0]["images"] == 336
    load_model(checkpoint)


@pytest.mark.parametrize("damage", ["missing", "broken"])
def test_a_missing_or_broken_unipen_folder_fails_before_training(tiny_mnist, checkpoint,
                                                                 tmp_path, capsys, damage):
    before = checkpoint.read_bytes()
    unipen = tmp_path / "unipen"
    if damage == "broken":
        write_writers(unipen, ["1"], per_label=1)
        (unipen / "include" / "abc" / "data" / "1.dat").write_text(".PEN_DOWN\n 1 x\n")
    code = main(_train_args(tiny_mnist, checkpoint, "--unipen", str(unipen)))
    assert code == 1
    err = capsys.readouterr().err
    assert str(unipen) in err and "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert checkpoint.read_bytes() == before


def test_unwritable_checkpoint_folder_fails_before_loading_data(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    code = main(_train_args(tmp_path / "nowhere", blocker / "model.ckpt"))
    assert code == 1
    assert "cannot write the checkpoint there" in capsys.readouterr().err


def test_a_diverging_run_keeps_the_previous_checkpoint(tiny_mnist, checkpoint, capsys):
    before = checkpoint.read_bytes()
    code = main(_train_args(tiny_mnist, checkpoint, "--lr", "1e30", "--log-interval", "1"))
    assert code == 1
    assert "loss became nan" in capsys.readouterr().err
    assert checkpoint.read_bytes() == before


def _start_long_training(data_dir, checkpoint):
    command = cli("mnist_cnn.cli.train", *_train_args(data_dir, checkpoint, "--epochs", "100000",
                                                  "--log-interval", "1"))
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    for line in process.stdout:
        if line.startswith("Epoch [") or time.monotonic() > deadline:
            break
    return process


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_interrupting_training_exits_cleanly_and_keeps_the_checkpoint(
        tiny_mnist, checkpoint, signum):
    before = checkpoint.read_bytes()
    process = _start_long_training(tiny_mnist, checkpoint)
    process.send_signal(signum)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130
    assert "interrupted" in err and "Traceback" not in err
    assert checkpoint.read_bytes() == before
    assert sorted(p.name for p in checkpoint.parent.iterdir()) == ["data", "model.ckpt"]


def test_kill_9_never_leaves_a_partial_checkpoint(tiny_mnist, checkpoint):
    before, untrained = checkpoint.read_bytes(), load_model(checkpoint)
    process = _start_long_training(tiny_mnist, checkpoint)
    process.kill()
    process.wait(timeout=60)
    assert checkpoint.read_bytes() == before

    command = cli("mnist_cnn.cli.train", *_train_args(tiny_mnist, checkpoint, "--epochs", "3"))
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    for line in process.stdout:
        if line.startswith("Test accuracy on"):
            break
    process.kill()
    process.wait(timeout=60)
    if checkpoint.read_bytes() != before:  # saved before the kill: the whole new checkpoint
        assert not same_weights(load_model(checkpoint), untrained)


def test_progress_bar_on_a_terminal_and_plain_lines_otherwise(capsys):
    from mnist_cnn.fitting.convnet import EpochStats, StepEvent
    from mnist_cnn.fitting.run import ProgressPrinter

    for show_bar in (True, False):
        printer = ProgressPrinter(epochs=1, show_bar=show_bar)
        for step in (1, 2):
            printer.step(StepEvent(1, step, 2, 0.5 if step == 2 else None))
        printer.epoch(EpochStats(1, 0.5, 97.0, 0.001, 1.0))
        captured = capsys.readouterr()
        assert "Epoch [1/1], Step [2/2], Loss: 0.5000" in captured.out
        assert "Epoch [1/1] done in 1.0s, Test accuracy: 97.00 %" in captured.out
        assert ("Epoch 1/1" in captured.err) == show_bar


@pytest.mark.slow
def test_fit_verifier_saves_sidecars_the_recognizer_takes(tiny_mnist, tmp_path, capsys):
    """``--fit-verifier`` trains nothing else and saves ``model.verifier.pt`` and
    ``model.pairs.pt``, which then come before the shipped ones."""
    checkpoint = tmp_path / "model.ckpt"
    assert main(["--fit-verifier", "--data-dir", str(tiny_mnist), "--no-download",
                 "--checkpoint", str(checkpoint), "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    assert "Fitted the segment verifier" in out and "Fitted the pair reader" in out
    assert all(part.path(checkpoint).is_file() for part in (registry.VERIFIER, registry.PAIRS))
    assert not checkpoint.exists()
    shutil.copyfile(registry.MODEL.shipped, checkpoint)
    reader = Recognizer.load(checkpoint, device="cpu")
    fitted = torch.load(registry.PAIRS.path(checkpoint), weights_only=True)["head.3.bias"]
    assert torch.equal(reader.pair_reader.head[3].bias, fitted)
    shipped = Recognizer.load(registry.MODEL.shipped, device="cpu")
    assert not torch.equal(shipped.pair_reader.head[3].bias, fitted)


def test_fit_detector_saves_a_sidecar_the_recognizer_takes(tiny_mnist, tmp_path, capsys):
    """``--fit-detector`` trains nothing else: with no checkpoint there, it calibrates with the
    shipped model and saves ``model.detector.pt``, which then comes before the shipped one."""
    checkpoint = tmp_path / "model.ckpt"
    assert main(["--fit-detector", "--data-dir", str(tiny_mnist), "--no-download",
                 "--checkpoint", str(checkpoint), "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    sidecar = registry.DETECTOR.path(checkpoint)
    assert "Fitted the not-a-digit detector" in out and str(sidecar) in out
    assert registry.DETECTOR.path(checkpoint).is_file() and not checkpoint.exists()
    shutil.copyfile(registry.MODEL.shipped, checkpoint)
    reader = Recognizer.load(checkpoint, device="cpu")
    fitted = torch.load(registry.DETECTOR.path(checkpoint), weights_only=True)["thresholds"]
    assert reader.thresholds() == fitted.tolist()
    shipped = registry.load(registry.DETECTOR, registry.MODEL.shipped, torch.device("cpu"))
    assert not torch.equal(fitted, shipped.thresholds)
