"""Pick the compute device, failing early with a clear message instead of deep inside torch."""

import re

import torch

from mnist_cnn.errors import DeviceError

DEVICE_PATTERN = re.compile(r"^(auto|cpu|mps|cuda(:\d+)?)$")


def parse_device_name(name: str) -> str:
    """Validate the spelling of a ``--device`` value (argparse ``type=``)."""
    if not DEVICE_PATTERN.match(name):
        raise ValueError(f"unknown device {name!r}: use auto, cpu, cuda, cuda:N or mps")
    return name


def select_device(name: str | torch.device = "auto") -> torch.device:
    """Resolve ``auto`` to CUDA, then MPS, then CPU; check that an explicit device exists.

    Raises ``DeviceError`` for a device that is not here or a name that is none.
    """
    name = str(name)
    try:
        parse_device_name(name)
    except ValueError as error:
        raise DeviceError(str(error)) from None
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise DeviceError(f"--device {name}: CUDA is not available on this machine (use cpu)")
        index = int(name.partition(":")[2] or 0)
        if index >= torch.cuda.device_count():
            raise DeviceError(
                f"--device {name}: there are only {torch.cuda.device_count()} CUDA device(s)"
            )
    if name == "mps" and not torch.backends.mps.is_available():
        raise DeviceError("--device mps: Apple MPS is not available on this machine (use cpu)")
    return torch.device(name)
