"""The model and detector that ship in the package: found when no checkpoint is given, checked
against their provenance, and good enough to read num-draft."""

import json
import shutil
from pathlib import Path

import pytest
import torch

from mnist_cnn import shipped
from mnist_cnn.checkpoint import read_state_dict
from mnist_cnn.errors import CheckpointError, MissingCheckpointError
from mnist_cnn.model import ConvNet
from mnist_cnn.recognition import Recognizer
from mnist_cnn.recognize import main

from conftest import REPO

DRAFTS = sorted((REPO / "num-draft").glob("num*.png"))


@pytest.fixture
def elsewhere(tmp_path: Path, monkeypatch) -> Path:
    """A working folder with no ``model.ckpt`` in it."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def tampered(tmp_path: Path, monkeypatch) -> Path:
    """The shipped folder copied, with one weight of the model changed."""
    weights = tmp_path / "weights"
    shutil.copytree(shipped.WEIGHTS, weights)
    state = read_state_dict(weights / "model.ckpt")
    state["fc.bias"][0] += 1.0
    torch.save(state, weights / "model.ckpt")
    for name in ("WEIGHTS", "MODEL", "DETECTOR", "VERIFIER", "PAIRS", "PROVENANCE"):
        monkeypatch.setattr(shipped, name, weights / getattr(shipped, name).name)
    return weights


def test_the_shipped_files_are_the_reference_state_dict_and_sidecars_with_provenance():
    state = read_state_dict(shipped.MODEL)
    assert {name: tuple(t.shape) for name, t in state.items()} == {
        name: tuple(t.shape) for name, t in ConvNet().state_dict().items()}
    assert shipped.MODEL.stat().st_size < 100_000
    provenance = json.loads(shipped.PROVENANCE.read_text())
    for path in (shipped.MODEL, shipped.DETECTOR, shipped.VERIFIER, shipped.PAIRS):
        facts = provenance["files"][path.name]
        assert facts["sha256"] == shipped.sha256(path)
        assert facts["command"].startswith("mnist-train")
    assert provenance["files"]["model.ckpt"]["test_accuracy"] >= 99.0
    assert {"torch", "python"} <= provenance["versions"].keys() and provenance["machine"]


def test_the_shipped_model_reads_num_draft_when_no_checkpoint_is_given(elsewhere, capsys):
    assert main([*map(str, DRAFTS), "--no-grid"]) == 0
    captured = capsys.readouterr()
    read = [line.split(": ")[1].split(" ")[0] for line in captured.out.splitlines()]
    assert read == [str(digit) for digit in range(10)]
    (note,) = captured.err.splitlines()
    assert note.startswith("mnist-recognize: note: no ./model.ckpt here") and "ships" in note


def test_a_model_ckpt_in_the_working_folder_comes_before_the_shipped_one(elsewhere, checkpoint):
    assert checkpoint == elsewhere / "model.ckpt"
    reader = Recognizer.load(device="cpu")
    assert reader.notes == []
    untrained = read_state_dict(checkpoint)["fc.bias"]
    assert torch.equal(reader.model.fc.bias.detach(), untrained)


def test_an_explicit_missing_checkpoint_stays_an_error(elsewhere):
    with pytest.raises(MissingCheckpointError, match="mnist-train"):
        Recognizer.load(elsewhere / "model.ckpt", device="cpu")


def test_a_tampered_shipped_model_is_refused_in_one_line(elsewhere, tampered, capsys):
    with pytest.raises(CheckpointError, match="does not match its provenance"):
        Recognizer.load(device="cpu")
    assert main([str(DRAFTS[0]), "--no-grid"]) == 1
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith(f"mnist-recognize: error: {tampered / 'model.ckpt'}: ")


@pytest.mark.parametrize("name", ["model.detector.pt", "model.verifier.pt", "model.pairs.pt"])
def test_a_tampered_shipped_sidecar_is_refused(tampered, checkpoint, name):
    (tampered / name).write_bytes(b"\0" + (tampered / name).read_bytes())
    with pytest.raises(CheckpointError, match=rf"{name}: the shipped file does not"):
        Recognizer.from_checkpoint(checkpoint, torch.device("cpu"))
