"""Benchmark: default ``mnist-train`` against the reference training loop, side by side.

Runs both as child processes of this one run, on the same machine, on the real MNIST, and prints
their wall times (interpreter start and imports included for both), test accuracies, peak memory
and the time ratio; then ``mnist-train --no-report`` to show what the report costs. First it
times where the reference's time goes: one epoch of its DataLoader alone vs tensor slicing.

    python bench/bench_train.py --data-dir ../shared/MNIST_data
"""

import argparse
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ACCURACY = re.compile(r"Test accuracy on the \d+ test images: ([\d.]+) %")


def run_child(command: list[str]) -> dict:
    """Wall time, peak RSS and reported accuracy of one child process."""
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"{command} failed:\n{output}")
    match = ACCURACY.search(output)
    return {"seconds": seconds, "accuracy": float(match.group(1)),
            "peak_mb": usage.ru_maxrss / 1024, "output": output}


def data_loading_share(data_dir: str) -> tuple[float, float]:
    """Seconds for one epoch of the reference's per-sample DataLoader alone vs tensor slicing."""
    import torch
    import torchvision
    from torch.utils.data import DataLoader
    from torchvision import transforms

    dataset = torchvision.datasets.MNIST(data_dir, train=True, transform=transforms.ToTensor())
    started = time.perf_counter()
    for _images, _labels in DataLoader(dataset, batch_size=100, shuffle=True):
        pass
    loader_seconds = time.perf_counter() - started
    images = dataset.data
    started = time.perf_counter()
    order = torch.randperm(len(images))
    for start in range(0, len(images), 100):
        images[order[start:start + 100]].unsqueeze(1).float().div_(255)
    return loader_seconds, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default="../shared/MNIST_data")
    parser.add_argument("--skip-profile", action="store_true",
                        help="do not time the reference's data loading on its own")
    args = parser.parse_args()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, {platform.processor() or '?'}; "
          f"python {platform.python_version()}")
    if not args.skip_profile:
        loader, slicing = data_loading_share(args.data_dir)
        print(f"one epoch of batches only: per-sample DataLoader+ToTensor {loader:.1f}s, "
              f"tensor slicing {slicing:.2f}s")
    reference = run_child([sys.executable, str(HERE / "reference_train.py"),
                           "--data-dir", args.data_dir])
    with tempfile.TemporaryDirectory() as folder:
        command = [sys.executable, "-m", "mnist_cnn.train", "--data-dir", args.data_dir,
                   "--no-download", "--checkpoint", str(Path(folder) / "model.ckpt")]
        ours = run_child(command)
        bare = run_child([*command, "--no-report"])
    for name, result in (("reference loop", reference), ("mnist-train", ours),
                         ("--no-report", bare)):
        print(f"{name:>15}: {result['seconds']:6.1f}s wall, "
              f"{result['accuracy']:.2f} % test accuracy, "
              f"peak RSS {result['peak_mb']:.0f} MB")
    print(f"time ratio mnist-train / reference: {ours['seconds'] / reference['seconds']:.2f}x")
    report = re.search(r"Report in .*\(([\d.]+)s\)", ours["output"])
    print(f"report: {report.group(1)}s as timed inside mnist-train "
          f"({100 * float(report.group(1)) / ours['seconds']:.1f} % of its wall time); "
          f"wall time with vs without it: {ours['seconds']:.1f}s vs {bare['seconds']:.1f}s")


if __name__ == "__main__":
    main()
