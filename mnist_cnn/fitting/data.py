"""MNIST as four in-memory tensors, read once through torchvision.

The reference fed the model through a per-sample PIL -> ToTensor DataLoader, which is where most of
its time went (see bench/bench_train.py). Here the 70,000 images are read once as uint8 tensors,
moved to the training device and sliced into batches there.
"""

import os
import struct
from dataclasses import dataclass
from pathlib import Path

import torch

from mnist_cnn.errors import DataError

IMAGE_MAGIC = 2051
LABEL_MAGIC = 2049
SIDE = 28
SPLIT_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


@dataclass(frozen=True)
class Split:
    """``images``: uint8 ``(N, 28, 28)``, white on black; ``labels``: int64 ``(N,)``."""

    images: torch.Tensor
    labels: torch.Tensor

    def __len__(self) -> int:
        return len(self.labels)

    def to(self, device: torch.device) -> "Split":
        return Split(self.images.to(device), self.labels.to(device))


@dataclass(frozen=True)
class Mnist:
    train: Split
    test: Split

    def to(self, device: torch.device) -> "Mnist":
        return Mnist(self.train.to(device), self.test.to(device))


def raw_folder(data_dir: Path) -> Path:
    """Where torchvision keeps the uncompressed files: ``<data_dir>/MNIST/raw``."""
    return Path(data_dir) / "MNIST" / "raw"


def missing_files(data_dir: Path) -> list[Path]:
    folder = raw_folder(data_dir)
    names = [name for pair in SPLIT_FILES.values() for name in pair]
    return [folder / name for name in names if not (folder / name).is_file()]


def _read_header(path: Path, magic: int, dims: int) -> tuple[int, ...]:
    """Check the IDX magic number and size; return the dimensions."""
    header_size = 4 + 4 * dims
    try:
        with open(path, "rb") as file:
            header = file.read(header_size)
        size = os.path.getsize(path)
    except OSError as error:
        raise DataError(f"{path}: cannot read ({error.strerror})") from error
    if len(header) < header_size:
        raise DataError(f"{path}: truncated header ({size} bytes)")
    found_magic, *shape = struct.unpack(f">{1 + dims}I", header)
    if found_magic != magic:
        raise DataError(
            f"{path}: wrong magic number {found_magic} (expected {magic}); not an MNIST IDX file"
        )
    expected = header_size + shape[0] * (SIDE * SIDE if dims == 3 else 1)
    if dims == 3 and tuple(shape[1:]) != (SIDE, SIDE):
        raise DataError(f"{path}: images are {shape[1]}x{shape[2]}, expected {SIDE}x{SIDE}")
    if size != expected:
        raise DataError(
            f"{path}: {size} bytes, expected {expected} for {shape[0]} items (truncated or padded)"
        )
    return tuple(shape)


def validate_raw_files(data_dir: Path) -> None:
    """Reject malformed files with a message naming them, before torchvision parses them."""
    folder = raw_folder(data_dir)
    for image_name, label_name in SPLIT_FILES.values():
        count = _read_header(folder / image_name, IMAGE_MAGIC, 3)[0]
        label_count = _read_header(folder / label_name, LABEL_MAGIC, 1)[0]
        if count != label_count:
            raise DataError(
                f"{folder / label_name}: {label_count} labels for {count} images in {image_name}"
            )


def _download(data_dir: Path) -> None:
    from torchvision.datasets import MNIST

    try:
        MNIST(str(data_dir), train=True, download=True)
    except Exception as error:  # torchvision raises RuntimeError, URLError or OSError offline
        lines = [line.strip() for line in str(error).splitlines() if line.strip(" ()")]
        reason = f"download failed ({lines[-1] if lines else type(error).__name__})"
        raise DataError(_missing_message(data_dir, reason)) from error


def _missing_message(data_dir: Path, reason: str) -> str:
    names = ", ".join(path.name for path in missing_files(data_dir))
    return (
        f"MNIST not found in {raw_folder(data_dir)}: {reason}. Missing: {names}. "
        "Put the four uncompressed IDX files there, or run with network access to download them"
    )


def load_mnist(data_dir: Path, download: bool = True) -> Mnist:
    """Read the train and test splits; download them with torchvision first when missing."""
    data_dir = Path(data_dir)
    if missing_files(data_dir):
        if not download:
            raise DataError(_missing_message(data_dir, "--no-download was given"))
        _download(data_dir)
    validate_raw_files(data_dir)

    from torchvision.datasets import MNIST

    splits = {}
    for name in SPLIT_FILES:
        dataset = MNIST(str(data_dir), train=name == "train", download=False)
        labels = dataset.targets.long()
        if len(labels) and labels.max() > 9:
            label_file = raw_folder(data_dir) / SPLIT_FILES[name][1]
            raise DataError(f"{label_file}: labels outside 0-9 (found {int(labels.max())})")
        splits[name] = Split(dataset.data, labels)
    return Mnist(**splits)
