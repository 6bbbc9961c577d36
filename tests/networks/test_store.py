import os
import pickle
import stat

import numpy as np
import pytest
import torch
from torch import nn

from mnist_cnn.errors import CheckpointError, MissingCheckpointError
from mnist_cnn.fitting.run import facts_path, save_checkpoint
from mnist_cnn.networks import registry
from mnist_cnn.networks import store as store_module
from mnist_cnn.networks.convnet import ConvNet
from mnist_cnn.networks.store import ensure_writable_dir


def load_model(path, device):
    return registry.load(registry.MODEL, path, device)


class ReferenceConvNet(nn.Module):
    """Written the way the reference blog post spells it, to prove checkpoints cross over."""

    def __init__(self):
        super().__init__()
        self.layer1 = nn.Sequential(nn.Conv2d(1, 6, 5, 1, 2), nn.BatchNorm2d(6), nn.ReLU(),
                                    nn.MaxPool2d(2, 2))
        self.layer2 = nn.Sequential(nn.Conv2d(6, 16, 5, 1, 2), nn.BatchNorm2d(16), nn.ReLU(),
                                    nn.MaxPool2d(2, 2))
        self.fc = nn.Linear(7 * 7 * 16, 10)


def test_round_trip_with_sidecar(tmp_path):
    path = tmp_path / "model.ckpt"
    model = ConvNet()
    save_checkpoint(model, path, {"test_accuracy": 99.0})
    loaded = load_model(path, torch.device("cpu"))
    for name, tensor in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[name], tensor)
    assert '"test_accuracy": 99.0' in facts_path(path).read_text()
    assert not loaded.training


def test_reference_checkpoints_load_here_and_ours_load_there(tmp_path):
    theirs = tmp_path / "theirs.ckpt"
    torch.save(ReferenceConvNet().state_dict(), theirs)
    load_model(theirs, torch.device("cpu"))
    ours = tmp_path / "ours.ckpt"
    save_checkpoint(ConvNet(), ours, {})
    ReferenceConvNet().load_state_dict(torch.load(ours, weights_only=True))


class RunsCode:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_a_checkpoint_that_would_run_code_is_refused_and_runs_nothing(tmp_path):
    marker = tmp_path / "payload-ran"
    path = tmp_path / "evil.ckpt"
    torch.save({"fc.weight": RunsCode(marker)}, path)
    with pytest.raises(CheckpointError, match="refused"):
        load_model(path, torch.device("cpu"))
    assert not marker.exists()


def test_a_raw_pickle_payload_is_refused_too(tmp_path):
    marker = tmp_path / "payload-ran"
    path = tmp_path / "evil.ckpt"
    path.write_bytes(pickle.dumps(RunsCode(marker)))
    with pytest.raises(CheckpointError):
        load_model(path, torch.device("cpu"))
    assert not marker.exists()


def _good_bytes(tmp_path):
    path = tmp_path / "good.ckpt"
    torch.save(ConvNet().state_dict(), path)
    return path.read_bytes()


@pytest.mark.parametrize("kind, match", [
    ("empty", "empty file"),
    ("truncated", "truncated or corrupt"),
    ("random", "corrupt|refused"),
    ("extra key", "unexpected extra.weight"),
    ("missing key", "missing fc.bias"),
    ("wrong shape", "fc.weight has shape"),
    ("nan", "NaN or infinite"),
    ("not a dict", "not a state_dict"),
])
def test_broken_checkpoints_get_a_clear_error(tmp_path, kind, match):
    path = tmp_path / "model.ckpt"
    state = ConvNet().state_dict()
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "truncated":
        path.write_bytes(_good_bytes(tmp_path)[:500])
    elif kind == "random":
        path.write_bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes())
    else:
        if kind == "extra key":
            state["extra.weight"] = torch.zeros(1)
        elif kind == "missing key":
            del state["fc.bias"]
        elif kind == "wrong shape":
            state["fc.weight"] = torch.zeros(10, 100)
        elif kind == "nan":
            state["fc.weight"][0, 0] = float("nan")
        elif kind == "not a dict":
            state = [torch.zeros(1)]
        torch.save(state, path)
    with pytest.raises(CheckpointError, match=match) as error:
        load_model(path, torch.device("cpu"))
    assert str(path) in str(error.value) and "\n" not in str(error.value)


@pytest.mark.parametrize("start", [b"h\xca", b"j\x00\x00\x00\x10", b"t", b"c", b"(", b""],
                         ids=["memo-get", "long-memo-get", "empty-stack", "global", "mark", "any"])
def test_bytes_that_are_no_pickle_get_a_clear_error(tmp_path, start):
    """Any bytes at all: the weights-only unpickler fails in many ways on them (a missing memo
    entry, an empty stack, bad text), and each is the same one-line error."""
    rng = np.random.default_rng(len(start))
    path = tmp_path / "model.ckpt"
    for _ in range(60):
        path.write_bytes(start + rng.integers(0, 256, 512, dtype=np.uint8).tobytes())
        with pytest.raises(CheckpointError, match=r"corrupt|refused") as error:
            load_model(path, torch.device("cpu"))
        assert str(path) in str(error.value) and "\n" not in str(error.value)


def test_missing_checkpoint_hints_at_training(tmp_path):
    with pytest.raises(MissingCheckpointError, match="mnist-train") as error:
        load_model(tmp_path / "none.ckpt", torch.device("cpu"))
    assert error.value.exit_code == 2


def test_a_failed_save_leaves_the_old_checkpoint_byte_identical(tmp_path, monkeypatch):
    path = tmp_path / "model.ckpt"
    save_checkpoint(ConvNet(), path, {})
    before = path.read_bytes()

    def crash(state, file):
        file.write(b"half a checkpoint")
        raise OSError("disk full")

    monkeypatch.setattr(store_module.torch, "save", crash)
    with pytest.raises(CheckpointError, match=r"could not save.*disk full.*unchanged"):
        save_checkpoint(ConvNet(), path, {})
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.ckpt", "model.json"]


def test_non_finite_weights_are_never_saved(tmp_path):
    model = ConvNet()
    with torch.no_grad():
        model.fc.weight[0, 0] = float("inf")
    with pytest.raises(CheckpointError, match="non-finite"):
        save_checkpoint(model, tmp_path / "model.ckpt", {})
    assert not (tmp_path / "model.ckpt").exists()


def test_missing_folder_is_created_and_unwritable_is_refused(tmp_path, monkeypatch):
    ensure_writable_dir(tmp_path / "new" / "deeper" / "model.ckpt")
    assert (tmp_path / "new" / "deeper").is_dir()

    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(store_module.tempfile, "TemporaryFile", denied)
    with pytest.raises(CheckpointError, match="cannot write the checkpoint there"):
        ensure_writable_dir(tmp_path / "model.ckpt")


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)],
                         ids=["022", "002", "077"])
def test_saved_files_get_the_mode_the_umask_gives_new_files(tmp_path, umask, mode):
    """Not the temporary file's 0600: a checkpoint on a shared server must stay readable."""
    existing = tmp_path / "existing.ckpt"
    save_checkpoint(ConvNet(), existing, {})
    existing.chmod(0o600)
    previous = os.umask(umask)
    try:
        for path in (tmp_path / "fresh.ckpt", existing):
            save_checkpoint(ConvNet(), path, {})
    finally:
        os.umask(previous)
    for path in (tmp_path / "fresh.ckpt", existing):
        assert stat.S_IMODE(path.stat().st_mode) == mode
        assert stat.S_IMODE(facts_path(path).stat().st_mode) == mode
