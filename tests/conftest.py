"""Shared fixtures: tiny generated MNIST-format data, an untrained checkpoint, the real MNIST."""

import struct
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from mnist_cnn.data import IMAGE_MAGIC, LABEL_MAGIC, SPLIT_FILES, raw_folder
from mnist_cnn.model import ConvNet

REPO = Path(__file__).resolve().parent.parent
REAL_MNIST = REPO.parent / "shared" / "MNIST_data"


def write_idx_images(path: Path, images: np.ndarray, magic: int = IMAGE_MAGIC) -> None:
    count, rows, cols = images.shape
    header = struct.pack(">4I", magic, count, rows, cols)
    path.write_bytes(header + images.astype(np.uint8).tobytes())


def write_idx_labels(path: Path, labels: np.ndarray, magic: int = LABEL_MAGIC) -> None:
    path.write_bytes(struct.pack(">2I", magic, len(labels)) + labels.astype(np.uint8).tobytes())


def synthetic_digits(count: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Bars whose position encodes the label: learnable in a few steps, nothing like MNIST."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, count)
    images = rng.integers(0, 30, (count, 28, 28)).astype(np.uint8)
    for image, label in zip(images, labels, strict=True):
        image[4 + 2 * label:6 + 2 * label, 4:24] = 255
    return images, labels


def make_mnist_dir(root: Path, train: int = 300, test: int = 100) -> Path:
    folder = raw_folder(root)
    folder.mkdir(parents=True, exist_ok=True)
    for split, count in (("train", train), ("test", test)):
        images, labels = synthetic_digits(count, seed=count)
        image_name, label_name = SPLIT_FILES[split]
        write_idx_images(folder / image_name, images)
        write_idx_labels(folder / label_name, labels)
    return root


@pytest.fixture
def tiny_mnist(tmp_path: Path) -> Path:
    """A ``--data-dir`` holding small generated IDX files in torchvision's layout."""
    return make_mnist_dir(tmp_path / "data")


@pytest.fixture
def checkpoint(tmp_path: Path) -> Path:
    """A valid (untrained) ConvNet state_dict on disk."""
    path = tmp_path / "model.ckpt"
    torch.manual_seed(0)
    torch.save(ConvNet().state_dict(), path)
    return path


@pytest.fixture(scope="session")
def real_mnist() -> Path:
    if not (raw_folder(REAL_MNIST) / SPLIT_FILES["train"][0]).is_file():
        pytest.skip(f"real MNIST not found at {REAL_MNIST} (needs the shared data folder)")
    return REAL_MNIST


def cli(*args: str) -> list[str]:
    """Command line running a module of the package with this interpreter."""
    return [sys.executable, "-m", *args]
