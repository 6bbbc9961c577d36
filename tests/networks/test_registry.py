"""The registry of learned parts: the files that ship in the package, found when no checkpoint
is given and checked against their provenance; each part's sidecar beside a checkpoint, saved,
loaded before the shipped file, and refused in one line when broken."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from mnist_cnn.cli.recognize import main
from mnist_cnn.errors import CheckpointError, MissingCheckpointError
from mnist_cnn.networks import registry
from mnist_cnn.networks.convnet import ConvNet
from mnist_cnn.networks.store import read_state_dict
from mnist_cnn.reading.recognizer import Recognizer

from conftest import REPO

DRAFTS = sorted((REPO / "num-draft").glob("num*.png"))
CPU = torch.device("cpu")
SIDECARS = [registry.DETECTOR, registry.VERIFIER, registry.PAIRS]


@pytest.fixture
def elsewhere(tmp_path: Path, monkeypatch) -> Path:
    """A working folder with no ``model.ckpt`` in it."""
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.fixture
def tampered(tmp_path: Path, monkeypatch) -> Path:
    """The shipped folder copied, with one weight of the model changed."""
    weights = tmp_path / "weights"
    shutil.copytree(registry.WEIGHTS, weights)
    state = read_state_dict(weights / "model.ckpt")
    state["fc.bias"][0] += 1.0
    torch.save(state, weights / "model.ckpt")
    monkeypatch.setattr(registry, "WEIGHTS", weights)
    registry.provenance.cache_clear()
    yield weights
    registry.provenance.cache_clear()


def _changed(network: torch.nn.Module) -> torch.nn.Module:
    """``network`` with every weight moved, so it differs from the shipped one everywhere."""
    with torch.no_grad():
        for value in network.state_dict().values():
            if value.is_floating_point():
                value.add_(0.25)
    return network


def test_the_shipped_files_are_the_reference_state_dict_and_sidecars_with_provenance():
    state = read_state_dict(registry.MODEL.shipped)
    assert {name: tuple(t.shape) for name, t in state.items()} == {
        name: tuple(t.shape) for name, t in ConvNet().state_dict().items()}
    assert registry.MODEL.shipped.stat().st_size < 100_000
    provenance = json.loads((registry.WEIGHTS / registry.PROVENANCE).read_text())
    assert {part.file for part in registry.PARTS} == provenance["files"].keys()
    for part in registry.PARTS:
        facts = provenance["files"][part.file]
        assert facts["sha256"] == registry.sha256(part.shipped)
        assert facts["command"].startswith("mnist-train")
    assert provenance["files"]["model.ckpt"]["test_accuracy"] >= 99.0
    assert {"torch", "python"} <= provenance["versions"].keys() and provenance["machine"]


def test_the_provenance_is_read_and_each_shipped_file_hashed_once(monkeypatch):
    registry.provenance.cache_clear()
    hashed = []
    monkeypatch.setattr(registry, "sha256", lambda path: hashed.append(path.name)
                        or registry.hashlib.sha256(path.read_bytes()).hexdigest())
    registry._hash.cache_clear()
    for _ in range(3):
        for part in registry.PARTS:
            registry.verified(part.shipped)
    assert sorted(hashed) == sorted(part.file for part in registry.PARTS)
    assert registry.provenance.cache_info().misses == 1


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


@pytest.mark.parametrize("part", SIDECARS, ids=lambda part: part.name)
def test_a_tampered_shipped_sidecar_is_refused(tampered, checkpoint, part):
    (tampered / part.file).write_bytes(b"\0" + (tampered / part.file).read_bytes())
    with pytest.raises(CheckpointError, match=rf"{part.file}: the shipped file does not"):
        registry.load(part, checkpoint, CPU)


@pytest.mark.parametrize("part", SIDECARS, ids=lambda part: part.name)
def test_a_sidecar_round_trips_and_comes_before_the_shipped_file(tmp_path, part):
    checkpoint = tmp_path / "model.ckpt"
    shipped = registry.load(part, checkpoint, CPU)  # no sidecar yet
    assert same_state(shipped, registry.load(part, registry.MODEL.shipped, CPU))
    refit = _changed(part.network())
    path = registry.save(part, refit, checkpoint)
    assert path == tmp_path / part.file
    loaded = registry.load(part, checkpoint, CPU)
    assert same_state(loaded, refit) and not same_state(loaded, shipped)
    assert not loaded.training


def same_state(first: torch.nn.Module, second: torch.nn.Module) -> bool:
    return all(torch.equal(a, b) for a, b in zip(first.state_dict().values(),
                                                  second.state_dict().values(), strict=True))


@pytest.mark.parametrize("change", ["garbage", "shapes", "nan", "not tensors", "directory"])
@pytest.mark.parametrize("part", SIDECARS, ids=lambda part: part.name)
def test_a_broken_sidecar_is_a_one_line_error_naming_it(tmp_path, part, change):
    checkpoint = tmp_path / "model.ckpt"
    path = part.path(checkpoint)
    state = part.network().state_dict()
    last = [key for key, value in state.items() if value.is_floating_point()][-1]
    if change == "garbage":
        path.write_bytes(np.random.default_rng(0).bytes(256))
    elif change == "shapes":
        state[last] = torch.zeros(3, 3)
        torch.save(state, path)
    elif change == "nan":
        state[last] = torch.full_like(state[last], float("nan"))
        torch.save(state, path)
    elif change == "not tensors":
        torch.save({key: 1.0 for key in state}, path)
    else:
        path.mkdir()
    with pytest.raises(CheckpointError) as raised:
        registry.load(part, checkpoint, CPU)
    message = str(raised.value)
    assert message.startswith(str(path)) and "\n" not in message
    if change == "shapes":
        assert f"{last} has shape (3, 3), the {part.title} needs" in message
    if change == "nan":
        assert f"{last} holds NaN" in message


@pytest.mark.parametrize("part", SIDECARS, ids=lambda part: part.name)
def test_a_broken_save_keeps_the_good_sidecar(tmp_path, part):
    checkpoint = tmp_path / "model.ckpt"
    good = _changed(part.network())
    registry.save(part, good, checkpoint)
    before = part.path(checkpoint).read_bytes()
    broken = part.network()
    with torch.no_grad():
        next(iter(broken.parameters())).fill_(float("inf"))
    with pytest.raises(CheckpointError, match="non-finite"):
        registry.save(part, broken, checkpoint)
    assert part.path(checkpoint).read_bytes() == before
