"""Benchmark: default ``mnist-train`` with three seeds against the reference training loop.

Runs all of them as child processes of this one run, on the same machine, on the real MNIST, and
prints each one's wall time (interpreter start, imports and the report included for every
run), test accuracy and peak memory, the time ratio of each ``mnist-train`` run to the
reference, and the mean and worst accuracy over the seeds. First it times where the reference's
time goes: one epoch of its DataLoader alone vs tensor slicing. The 1-minute load average is
printed before and after: on a 2-core machine anything else running skews the times, so take
figures from a quiet run.

    python bench/bench_train.py --data-dir ../shared/MNIST_data
"""

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from machine import cpu, describe

HERE = Path(__file__).resolve().parent
ACCURACY = re.compile(r"Test accuracy on the \d+ test images: ([\d.]+) %")
REPORT = re.compile(r"Report in .*\(([\d.]+)s\)")
TRAINING = re.compile(r"Training on .*")
TARGET_WORST, TARGET_MEAN, TARGET_RATIO = 99.10, 99.20, 0.45
"""Every seed at least 99.10 %, their mean at least 99.20 %, each at most 0.45x the reference's
wall time."""


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


def machine() -> str:
    """The machine, and the bfloat16 features the training precision depends on."""
    import torch

    from mnist_cnn.fitting.convnet import native_bf16

    flags = cpu()[1]
    features = ", ".join(flag for flag in ("avx512_bf16", "amx_bf16") if flag in flags) or "none"
    precision = "bfloat16 autocast" if native_bf16(torch.device("cpu")) else "float32"
    return f"{describe()} (bf16 features: {features}; mnist-train trains in {precision})"


def load_average() -> str:
    try:
        return Path("/proc/loadavg").read_text().split()[0]
    except OSError:
        return "?"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default="../shared/MNIST_data")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--skip-profile", action="store_true",
                        help="do not time the reference's data loading on its own")
    args = parser.parse_args()
    print(f"machine: {machine()}")
    print(f"load average (1 min) before: {load_average()}", flush=True)
    if not args.skip_profile:
        loader, slicing = data_loading_share(args.data_dir)
        print(f"one epoch of batches only: per-sample DataLoader+ToTensor {loader:.1f}s, "
              f"tensor slicing {slicing:.2f}s", flush=True)
    reference = run_child([sys.executable, str(HERE / "reference_train.py"),
                           "--data-dir", args.data_dir])
    print(f"{'reference loop':>22}: {reference['seconds']:6.1f}s wall, "
          f"{reference['accuracy']:.2f} % test accuracy, peak RSS {reference['peak_mb']:.0f} MB",
          flush=True)
    runs = []
    with tempfile.TemporaryDirectory() as folder:
        for seed in args.seeds:
            result = run_child([sys.executable, "-m", "mnist_cnn.cli.train",
                                "--data-dir", args.data_dir, "--no-download", "--seed", str(seed),
                                "--checkpoint", str(Path(folder) / f"seed{seed}.ckpt")])
            runs.append(result)
            report = REPORT.search(result["output"])
            print(f"{f'mnist-train --seed {seed}':>22}: {result['seconds']:6.1f}s wall, "
                  f"{result['accuracy']:.2f} % test accuracy, peak RSS {result['peak_mb']:.0f} MB, "
                  f"{result['seconds'] / reference['seconds']:.2f}x the reference "
                  f"(report {report.group(1) if report else '?'}s)", flush=True)
    print(f"load average (1 min) after: {load_average()}")
    print(f"mnist-train: {TRAINING.search(runs[0]['output']).group(0)}")
    accuracies = [run["accuracy"] for run in runs]
    ratios = [run["seconds"] / reference["seconds"] for run in runs]
    mean, worst = statistics.mean(accuracies), min(accuracies)
    print(f"accuracy over seeds {', '.join(map(str, args.seeds))}: mean {mean:.2f} %, "
          f"worst {worst:.2f} % (targets: mean >= {TARGET_MEAN} %, worst >= {TARGET_WORST} %)")
    print(f"time ratio mnist-train / reference: "
          f"{', '.join(f'{r:.2f}x' for r in ratios)}, "
          f"worst {max(ratios):.2f}x (target <= {TARGET_RATIO}x); peak RSS "
          f"{max(run['peak_mb'] for run in runs):.0f} MB")


if __name__ == "__main__":
    main()
