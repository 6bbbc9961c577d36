import pytest
import torch

from mnist_cnn.device import parse_device_name, select_device
from mnist_cnn.errors import DeviceError


def test_auto_picks_cuda_only_when_present():
    expected = "cuda" if torch.cuda.is_available() else None
    chosen = select_device("auto")
    if expected:
        assert chosen.type == "cuda"
    else:
        assert chosen.type in ("cpu", "mps")


def test_cpu_is_always_there():
    assert select_device("cpu") == torch.device("cpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_missing_cuda_is_a_clear_error():
    with pytest.raises(DeviceError, match="CUDA is not available"):
        select_device("cuda:0")


@pytest.mark.parametrize("name", ["gpu", "cuda:x", "tpu", ""])
def test_unknown_names_are_rejected(name):
    with pytest.raises(ValueError, match="unknown device"):
        parse_device_name(name)
