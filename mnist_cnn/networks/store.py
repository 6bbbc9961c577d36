"""State-dict files, saved without ever losing a good one and loaded without running untrusted
code: ``model.ckpt`` and its sidecars (``registry`` says which file holds what).

A file is written through a temporary file in the same folder, fsynced and renamed over the
old one, with the user's umask; it is loaded with ``torch.load(..., weights_only=True)`` and
checked (keys, shapes, finite values) before any network takes it.
"""

import os
import pickle
import struct
import tempfile
import warnings
import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import BinaryIO

import torch

from mnist_cnn.errors import CheckpointError, MissingCheckpointError


def ensure_writable_dir(path: Path) -> None:
    """Create the checkpoint's folder and prove we can write there, before any training."""
    folder = Path(path).absolute().parent
    if Path(path).is_dir():
        raise CheckpointError(f"{path}: is a directory, not a checkpoint file name")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as error:
        raise CheckpointError(
            f"{folder}: cannot write the checkpoint there ({error.strerror or error})"
        ) from error


def _new_file_mode() -> int:
    """The mode ``open()`` gives a new file under the current umask (``0o644`` for ``022``)."""
    umask = os.umask(0o077)
    os.umask(umask)
    return 0o666 & ~umask


def atomic_write(path: Path, write: Callable[[BinaryIO], object]) -> None:
    """Write through a temporary file in the same folder, fsync it, then rename over ``path``.

    ``mkstemp`` creates the temporary file as 0600 and the rename keeps that, so it is given the
    umask's ordinary mode first: a checkpoint on a shared server stays readable by the group.
    """
    path = Path(path)
    handle, temporary = tempfile.mkstemp(dir=path.absolute().parent, prefix=f".{path.name}.")
    try:
        os.chmod(temporary, _new_file_mode())
        with os.fdopen(handle, "wb") as file:
            write(file)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def save_state_dict(state: Mapping[str, torch.Tensor], path: Path) -> None:
    """Atomically write a plain state_dict; refuse weights that are not finite (raises
    ``CheckpointError``; the previous file is then unchanged)."""
    state = {name: tensor.detach().cpu() for name, tensor in state.items()}
    bad = [name for name, tensor in state.items() if tensor.is_floating_point()
           and not torch.isfinite(tensor).all()]
    if bad:
        raise CheckpointError(f"{path}: not saved, non-finite weights in {', '.join(bad)}")
    try:
        atomic_write(path, lambda file: torch.save(state, file))
    except OSError as error:
        raise CheckpointError(
            f"{path}: could not save ({error.strerror or error}); the previous file is unchanged"
        ) from error


def read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    """A plain state_dict of tensors, loaded with ``weights_only`` (raises ``CheckpointError``
    naming the file and the problem)."""
    path = Path(path)
    if not path.exists():
        raise MissingCheckpointError(
            f"{path}: no checkpoint here; train one first with `mnist-train` "
            "or pass --checkpoint PATH"
        )
    if path.is_dir():
        raise CheckpointError(f"{path}: is a directory, not a checkpoint")
    if path.stat().st_size == 0:
        raise CheckpointError(f"{path}: empty file, not a checkpoint")
    try:
        with warnings.catch_warnings():  # torch warns about odd pickles before refusing them
            warnings.simplefilter("ignore")
            state = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        raise CheckpointError(
            f"{path}: refused, it holds objects other than tensors (unsafe or not a state_dict)"
        ) from error
    except (RuntimeError, EOFError, zipfile.BadZipFile, ValueError) as error:
        raise CheckpointError(f"{path}: truncated or corrupt checkpoint ({error})") from error
    except (KeyError, IndexError, TypeError, AttributeError, OverflowError, struct.error) as error:
        # What the weights-only unpickler raises on bytes that are no pickle at all.
        raise CheckpointError(
            f"{path}: corrupt checkpoint, not a pickle ({type(error).__name__})"
        ) from error
    except OSError as error:
        raise CheckpointError(f"{path}: cannot read ({error.strerror or error})") from error
    if not isinstance(state, Mapping) or not all(
        isinstance(value, torch.Tensor) for value in state.values()
    ):
        raise CheckpointError(f"{path}: not a state_dict of tensors")
    return dict(state)


def check_compatible(state: Mapping[str, torch.Tensor], path: Path, network: torch.nn.Module,
                     name: str) -> None:
    """Exactly ``network``'s keys and shapes (``name`` says what it is), and finite weights."""
    expected = network.state_dict()
    missing = sorted(expected.keys() - state.keys())
    unexpected = sorted(state.keys() - expected.keys())
    if missing or unexpected:
        details = "; ".join(
            part for part in (
                f"missing {', '.join(missing)}" if missing else "",
                f"unexpected {', '.join(unexpected)}" if unexpected else "",
            ) if part
        )
        raise CheckpointError(f"{path}: not a {name} checkpoint ({details})")
    for key, tensor in expected.items():
        if state[key].shape != tensor.shape:
            raise CheckpointError(
                f"{path}: {key} has shape {tuple(state[key].shape)}, "
                f"the {name} needs {tuple(tensor.shape)}"
            )
    floats = [key for key, tensor in state.items() if tensor.is_floating_point()]
    if floats and not torch.isfinite(torch.cat([state[key].flatten() for key in floats])).all():
        bad = next(key for key in floats if not torch.isfinite(state[key]).all())
        raise CheckpointError(f"{path}: {bad} holds NaN or infinite values")
