"""Shared fixtures: tiny generated MNIST-format data, an untrained checkpoint, the real MNIST,
weights trained on it, the real UNIPEN archive unpacked, and an ``mnist-draw`` server."""

import re
import select
import signal
import struct
import subprocess
import sys
import tarfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import torch
from pictures import draw_one

from mnist_cnn.fitting.data import IMAGE_MAGIC, LABEL_MAGIC, SPLIT_FILES, raw_folder
from mnist_cnn.networks.convnet import ConvNet

REPO = Path(__file__).resolve().parent.parent
REAL_MNIST = REPO.parent / "shared" / "MNIST_data"
UNIPEN_ARCHIVE = REPO.parent / "shared" / "unipen" / "train_r01_v07-1a-1d.tar.xz"


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


def same_weights(first: torch.nn.Module, second: torch.nn.Module) -> bool:
    """Whether two networks of one kind hold exactly the same weights (a fit is reproducible)."""
    return all(torch.equal(a, b) for a, b in zip(first.state_dict().values(),
                                                  second.state_dict().values(), strict=True))


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
def images(tmp_path: Path) -> Path:
    """A folder of three drawn pictures and a file that is no image."""
    folder = tmp_path / "imgs"
    folder.mkdir()
    for index in range(3):
        draw_one().save(folder / f"d{index}.png")
    (folder / "notes.txt").write_text("not an image")
    return folder


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


@pytest.fixture(scope="session")
def real_unipen(tmp_path_factory) -> Path:
    """The UNIPEN archive beside the repository, unpacked once per session."""
    if not UNIPEN_ARCHIVE.is_file():
        pytest.skip(f"UNIPEN archive not found at {UNIPEN_ARCHIVE} (needs the shared data folder)")
    into = tmp_path_factory.mktemp("unipen")
    with tarfile.open(UNIPEN_ARCHIVE) as tar:
        tar.extractall(into, filter="data")
    return next(path.parent.parent for path in into.glob("*/data/1a"))


def cli(*args: str) -> list[str]:
    """Command line running a module of the package with this interpreter."""
    return [sys.executable, "-m", *args]


@pytest.fixture(scope="session")
def trained_run(tmp_path_factory, real_mnist) -> tuple[Path, str]:
    """One epoch on the real MNIST (about 99 % on its test set) through ``mnist-train``,
    trained once per test session for every test that needs digits actually read right: the
    checkpoint, and what the command printed."""
    checkpoint = tmp_path_factory.mktemp("trained") / "model.ckpt"
    done = subprocess.run(
        cli("mnist_cnn.cli.train", "--data-dir", str(real_mnist), "--no-download", "--epochs",
            "1", "--checkpoint", str(checkpoint), "--device", "cpu", "--no-report"),
        capture_output=True, text=True, timeout=600,
    )
    assert done.returncode == 0, done.stderr
    return checkpoint, done.stdout


@pytest.fixture(scope="session")
def trained_checkpoint(trained_run) -> Path:
    """The checkpoint of ``trained_run``."""
    return trained_run[0]


SERVING = re.compile(r"serving (http://\S+/) ")
SERVER_START_S = 180


class DrawServer:
    """An ``mnist-draw`` process on 127.0.0.1 at a free port (``--port 0``): ``url`` is the
    page, ``log`` its stderr."""

    def __init__(self, checkpoint: Path, log: Path, *args: str) -> None:
        self.log = log
        self._log_file = log.open("w")
        self.process = subprocess.Popen(
            cli("mnist_cnn.cli.draw", "--checkpoint", str(checkpoint), "--port", "0",
                "--device", "cpu", *args),
            stdout=subprocess.PIPE, stderr=self._log_file, text=True)
        line = self._first_line()
        match = SERVING.search(line)
        assert match, f"no address printed: {line!r}; stderr: {log.read_text()}"
        self.url = match[1]
        self._wait_until_answering()

    def _first_line(self) -> str:
        ready, _, _ = select.select([self.process.stdout], [], [], SERVER_START_S)
        return self.process.stdout.readline() if ready else ""

    def _wait_until_answering(self) -> None:
        deadline = time.monotonic() + SERVER_START_S
        while time.monotonic() < deadline:
            assert self.process.poll() is None, self.log.read_text()
            try:
                with urllib.request.urlopen(self.url, timeout=5) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.2)
        raise AssertionError(f"{self.url} did not answer; stderr: {self.log.read_text()}")

    def stop(self, sig: int = signal.SIGINT, timeout: float = 30) -> int:
        """Stop it as Ctrl-C would; its exit code."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process.stdout.close()
        self._log_file.close()
        return self.process.returncode


@pytest.fixture(scope="session")
def draw_server(tmp_path_factory, trained_checkpoint) -> Iterator[DrawServer]:
    """One ``mnist-draw`` with the trained weights and a 2 MB upload limit, for the session."""
    server = DrawServer(trained_checkpoint, tmp_path_factory.mktemp("draw") / "stderr.txt",
                        "--max-upload-mb", "2")
    yield server
    server.stop()
