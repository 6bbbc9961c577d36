import os
import stat

import numpy as np
import pytest
import torch

from mnist_cnn.errors import DataError
from mnist_cnn.fitting import data as data_module
from mnist_cnn.fitting.data import SPLIT_FILES, load_mnist, raw_folder

from conftest import make_mnist_dir, write_idx_images, write_idx_labels


def test_loads_both_splits_as_uint8_tensors(tiny_mnist):
    mnist = load_mnist(tiny_mnist, download=False)
    assert mnist.train.images.shape == (300, 28, 28)
    assert mnist.train.images.dtype == torch.uint8
    assert mnist.test.labels.shape == (100,)
    assert int(mnist.test.labels.max()) <= 9


def test_read_only_data_dir_works(tiny_mnist):
    folder = raw_folder(tiny_mnist)
    for path in [*folder.iterdir(), folder]:
        path.chmod(stat.S_IRUSR | stat.S_IXUSR | (stat.S_IRUSR if path.is_file() else 0))
    try:
        assert len(load_mnist(tiny_mnist, download=False).train) == 300
    finally:
        for path in [folder, *folder.iterdir()]:
            path.chmod(0o755)


def test_missing_files_without_download_name_them(tmp_path):
    with pytest.raises(DataError) as error:
        load_mnist(tmp_path, download=False)
    message = str(error.value)
    assert str(raw_folder(tmp_path)) in message
    assert "train-images-idx3-ubyte" in message and "t10k-labels-idx1-ubyte" in message


def test_failed_download_says_what_is_missing_and_where(tmp_path, monkeypatch):
    import torchvision.datasets

    def offline(*args, **kwargs):
        raise RuntimeError("Error downloading train-images-idx3-ubyte.gz:\nTried https://x/, got:"
                           "\n<urlopen error [Errno -2] Name or service not known>\n)")

    monkeypatch.setattr(torchvision.datasets, "MNIST", offline)
    with pytest.raises(DataError, match=r"download failed \(<urlopen error .*Missing: train-"):
        load_mnist(tmp_path, download=True)
    with pytest.raises(DataError) as error:
        load_mnist(tmp_path, download=True)
    assert "\n" not in str(error.value)


def _corrupt(root, split_file, content: bytes):
    (raw_folder(root) / split_file).write_bytes(content)


@pytest.mark.parametrize("problem, match", [
    ("magic", "wrong magic number"),
    ("dims", "images are 32x32"),
    ("truncated", "truncated or padded"),
    ("labels", "labels outside 0-9"),
    ("count", "labels for"),
    ("header", "truncated header"),
])
def test_malformed_files_are_named_before_training(tmp_path, problem, match):
    root = make_mnist_dir(tmp_path)
    folder = raw_folder(root)
    images_file, labels_file = (folder / name for name in SPLIT_FILES["train"])
    images = np.zeros((300, 28, 28), dtype=np.uint8)
    if problem == "magic":
        write_idx_images(images_file, images, magic=1234)
    elif problem == "dims":
        write_idx_images(images_file, np.zeros((300, 32, 32), dtype=np.uint8))
    elif problem == "truncated":
        images_file.write_bytes(images_file.read_bytes()[:-100])
    elif problem == "labels":
        write_idx_labels(labels_file, np.full(300, 12))
    elif problem == "count":
        write_idx_labels(labels_file, np.zeros(299))
    elif problem == "header":
        images_file.write_bytes(b"\x00\x00\x08")
    with pytest.raises(DataError, match=match) as error:
        load_mnist(root, download=False)
    assert str(folder) in str(error.value)


def test_unreadable_file_is_a_data_error(tiny_mnist, monkeypatch):
    real_open = open

    def deny(path, *args, **kwargs):
        if str(path).endswith("t10k-images-idx3-ubyte"):
            raise PermissionError(13, "Permission denied")
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(data_module, "open", deny, raising=False)
    with pytest.raises(DataError, match="t10k-images-idx3-ubyte: cannot read"):
        load_mnist(tiny_mnist, download=False)
    assert os.path.exists(raw_folder(tiny_mnist))
