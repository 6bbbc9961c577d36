"""What the benchmarks ran on: every benchmark prints it first, because README states each figure
with its machine."""

import os
import platform
from pathlib import Path

import torch


def cpu() -> tuple[str, set[str]]:
    """The CPU's model name and its feature flags, from ``/proc/cpuinfo`` where there is one."""
    model, flags = platform.processor() or "?", set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "model name":
                model = value.strip()
            elif key.strip() == "flags":
                flags = set(value.split())
    except OSError:
        pass
    return model, flags


def describe() -> str:
    """Architecture, cores, CPU model, Python and torch versions, on one line."""
    return (f"{platform.machine()}, {os.cpu_count()} cores, {cpu()[0]}; python "
            f"{platform.python_version()}, torch {torch.__version__}")
