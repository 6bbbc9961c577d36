"""The model and the learned parts beside it that ship inside the package, so reading works
before any training.

``weights/`` holds what ``mnist-train`` writes for its default run: ``model.ckpt`` (the
ConvNet, a plain state_dict) with its sidecars ``model.detector.pt`` (``--fit-detector``),
``model.verifier.pt`` and ``model.pairs.pt`` (``--fit-verifier``), and ``provenance.json``: how
each file was made (command, seed, versions, machine, figures) and its SHA-256, which is
checked before a shipped file is used. ``scripts/make_weights.py`` regenerates them.
"""

import hashlib
import json
from pathlib import Path

from mnist_cnn.errors import CheckpointError

WEIGHTS = Path(__file__).resolve().parent / "weights"
MODEL = WEIGHTS / "model.ckpt"
DETECTOR = WEIGHTS / "model.detector.pt"
VERIFIER = WEIGHTS / "model.verifier.pt"
PAIRS = WEIGHTS / "model.pairs.pt"
PROVENANCE = WEIGHTS / "provenance.json"
DEFAULT_CHECKPOINT = Path("model.ckpt")
"""Where ``mnist-train`` writes by default, and where the readers look first."""


def sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def provenance() -> dict:
    """How the shipped files were made (``CheckpointError`` when it cannot be read)."""
    try:
        return json.loads(PROVENANCE.read_text())
    except (OSError, ValueError) as error:
        raise CheckpointError(f"{PROVENANCE}: the shipped weights' provenance cannot be read "
                              f"({error}); reinstall mnist-cnn") from error


def verified(path: Path) -> Path:
    """``path``, a shipped file, once its bytes match the SHA-256 its provenance records;
    ``CheckpointError`` otherwise (a changed or damaged installation)."""
    recorded = provenance().get("files", {}).get(path.name, {}).get("sha256")
    try:
        actual = sha256(path)
    except OSError as error:
        raise CheckpointError(f"{path}: the shipped file cannot be read "
                              f"({error.strerror or error}); reinstall mnist-cnn") from error
    if actual != recorded:
        raise CheckpointError(f"{path}: the shipped file does not match its provenance "
                              "(changed or damaged); reinstall mnist-cnn or pass --checkpoint")
    return path


def resolve_checkpoint(checkpoint: Path | str | None) -> tuple[Path, str | None]:
    """The checkpoint to read with: the one given (it must exist: ``load_model`` says so);
    else ``./model.ckpt`` when there is one; else the shipped model, verified, and a one-line
    note saying so."""
    if checkpoint is not None:
        return Path(checkpoint), None
    if DEFAULT_CHECKPOINT.exists():
        return DEFAULT_CHECKPOINT, None
    accuracy = provenance().get("files", {}).get(MODEL.name, {}).get("test_accuracy")
    figure = f", {accuracy:.2f} % on MNIST's test set" if accuracy is not None else ""
    return verified(MODEL), (f"no ./{DEFAULT_CHECKPOINT} here: reading with the model that "
                             f"ships with mnist-cnn{figure} (mnist-train makes your own)")
