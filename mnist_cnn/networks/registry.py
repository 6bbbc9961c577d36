"""The learned parts reading loads, in one table: each part's network, the sidecar beside
``model.ckpt`` that holds a refit of it, and the file that ships in the package.

``weights/`` holds what ``mnist-train`` writes for its default run: ``model.ckpt`` (the
ConvNet, a plain state_dict) with its sidecars ``model.detector.pt`` (``--fit-detector``),
``model.verifier.pt`` and ``model.pairs.pt`` (``--fit-verifier``), and ``provenance.json``: how
each file was made (command, seed, versions, machine, figures) and its SHA-256, checked before a
shipped file is used. ``scripts/make_weights.py`` regenerates them. ``load`` takes a part's
sidecar beside the checkpoint when there is one, else its shipped file; ``save`` writes the
sidecar. The provenance is read once and each shipped file hashed once per process.
"""

import functools
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from mnist_cnn.errors import CheckpointError
from mnist_cnn.networks.convnet import ConvNet
from mnist_cnn.networks.detector import DigitDetector
from mnist_cnn.networks.pairs import PairReader
from mnist_cnn.networks.store import check_compatible, read_state_dict, save_state_dict
from mnist_cnn.networks.verifier import SegmentVerifier

WEIGHTS = Path(__file__).resolve().parent.parent / "weights"
PROVENANCE = "provenance.json"
DEFAULT_CHECKPOINT = Path("model.ckpt")
"""Where ``mnist-train`` writes by default, and where the readers look first."""


@dataclass(frozen=True)
class Part:
    """One learned part: its ``network`` class, what a user calls it (``title``, in errors),
    the file that ships in the package, and the suffix of its sidecar beside a checkpoint
    (``None``: the ConvNet, which is the checkpoint itself)."""

    name: str
    title: str
    network: type[nn.Module]
    file: str
    suffix: str | None

    def path(self, checkpoint: Path | str) -> Path:
        """This part's file for ``checkpoint``: the checkpoint itself, or its sidecar beside
        it (``model.ckpt`` -> ``model.detector.pt``)."""
        checkpoint = Path(checkpoint)
        return checkpoint if self.suffix is None else checkpoint.with_suffix(self.suffix)

    @property
    def shipped(self) -> Path:
        """The file of this part that ships in the package."""
        return WEIGHTS / self.file


MODEL = Part("model", "ConvNet", ConvNet, "model.ckpt", None)
DETECTOR = Part("detector", "not-a-digit detector", DigitDetector, "model.detector.pt",
                ".detector.pt")
VERIFIER = Part("verifier", "segment verifier", SegmentVerifier, "model.verifier.pt",
                ".verifier.pt")
PAIRS = Part("pairs", "pair reader", PairReader, "model.pairs.pt", ".pairs.pt")
PARTS = (MODEL, DETECTOR, VERIFIER, PAIRS)


@functools.cache
def provenance() -> dict:
    """How the shipped files were made (``CheckpointError`` when it cannot be read)."""
    path = WEIGHTS / PROVENANCE
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise CheckpointError(f"{path}: the shipped weights' provenance cannot be read "
                              f"({error}); reinstall mnist-cnn") from error


def sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@functools.cache
def _hash(path: Path, size: int, modified: int) -> str:
    """``sha256(path)``, once per file as it is (its size and modification time)."""
    return sha256(path)


def verified(path: Path) -> Path:
    """``path``, a shipped file, once its bytes match the SHA-256 its provenance records;
    ``CheckpointError`` otherwise (a changed or damaged installation)."""
    recorded = provenance().get("files", {}).get(path.name, {}).get("sha256")
    try:
        status = path.stat()
        actual = _hash(path, status.st_size, status.st_mtime_ns)
    except OSError as error:
        raise CheckpointError(f"{path}: the shipped file cannot be read "
                              f"({error.strerror or error}); reinstall mnist-cnn") from error
    if actual != recorded:
        raise CheckpointError(f"{path}: the shipped file does not match its provenance "
                              "(changed or damaged); reinstall mnist-cnn or pass --checkpoint")
    return path


def resolve_checkpoint(checkpoint: Path | str | None) -> tuple[Path, str | None]:
    """The checkpoint to read with: the one given (it must exist: ``load`` says so); else
    ``./model.ckpt`` when there is one; else the shipped model, verified, and a one-line note
    saying so."""
    if checkpoint is not None:
        return Path(checkpoint), None
    if DEFAULT_CHECKPOINT.exists():
        return DEFAULT_CHECKPOINT, None
    accuracy = provenance().get("files", {}).get(MODEL.file, {}).get("test_accuracy")
    figure = f", {accuracy:.2f} % on MNIST's test set" if accuracy is not None else ""
    return verified(MODEL.shipped), (f"no ./{DEFAULT_CHECKPOINT} here: reading with the model "
                                     f"that ships with mnist-cnn{figure} (mnist-train makes "
                                     "your own)")


def load(part: Part, checkpoint: Path | str, device: torch.device) -> nn.Module:
    """``part``'s network in eval mode on ``device``. The ConvNet is ``checkpoint`` itself;
    any other part is its sidecar beside ``checkpoint`` when there is one, else its shipped
    file once it matches its provenance (the detector, verifier and pair reader do not depend
    on the ConvNet, so they serve any checkpoint). Raises ``CheckpointError`` naming the file
    for one that is missing (``MissingCheckpointError``), unsafe, broken or of other shapes."""
    path = part.path(checkpoint)
    if part.suffix is not None and not path.exists():
        path = verified(part.shipped)
    state = read_state_dict(path)
    network = part.network()
    check_compatible(state, path, network, part.title)
    network.load_state_dict(state)
    return network.to(device).eval()


def save(part: Part, network: nn.Module, checkpoint: Path | str) -> Path:
    """Write ``network`` as ``part``'s file beside ``checkpoint`` atomically, and return its
    path (raises ``CheckpointError``; a good file is never replaced by a broken one)."""
    path = part.path(checkpoint)
    save_state_dict(network.state_dict(), path)
    return path
