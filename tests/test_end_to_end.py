"""Real MNIST: a short training run reaches real accuracy and reads the shipped num-draft digits."""

import json
import re
import subprocess

import pytest

from conftest import REPO, cli

pytestmark = pytest.mark.slow


@pytest.fixture
def trained(trained_run):
    """The session's one-epoch run (``conftest.trained_run``): its checkpoint and output."""
    return trained_run


def test_one_epoch_on_real_mnist_is_accurate(trained):
    checkpoint, output = trained
    accuracy = float(re.search(r"Test accuracy on the 10000 test images: ([\d.]+) %", output)[1])
    assert accuracy >= 97.5
    assert json.loads(checkpoint.with_suffix(".json").read_text())["test_accuracy"] == \
        pytest.approx(accuracy, abs=0.01)


def test_eval_only_agrees_with_training(trained, real_mnist):
    checkpoint, output = trained
    done = subprocess.run(
        cli("mnist_cnn.cli.train", "--eval-only", "--checkpoint", str(checkpoint), "--data-dir",
            str(real_mnist), "--no-download"), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    final = re.search(r"Test accuracy on the 10000 test images: [\d.]+ %", output)[0]
    assert final in done.stdout


def test_num_draft_digits_are_all_read_correctly(trained):
    checkpoint, _ = trained
    drafts = sorted((REPO / "num-draft").glob("num*.png"))
    assert len(drafts) == 10
    done = subprocess.run(
        cli("mnist_cnn.cli.recognize", *map(str, drafts), "--checkpoint", str(checkpoint),
            "--json"),
        capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    records = json.loads(done.stdout)
    read = {record["path"].rsplit("/", 1)[-1]: record["digit"] for record in records}
    assert read == {f"num{digit}.png": digit for digit in range(10)}
