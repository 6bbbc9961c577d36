"""Benchmark for a CUDA machine: is the training loop data-bound, and how fast does it reach 99 %?

Runs ``mnist-train`` (its defaults, unless told otherwise) on the given device and reads its
sidecar JSON: steps per second in each epoch (training steps over the epoch's wall time,
evaluation included), the training time until the test accuracy first reaches 99 %, the final
test accuracy and the precision used (bf16 autocast on GPUs that have it natively). A data-bound
loop would show steps/s far below what the device does on resident tensors; the batches here are
sliced on the device itself.

    python bench/bench_gpu.py --data-dir ../shared/MNIST_data --device cuda
"""

import argparse
import json
import math
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default="../shared/MNIST_data")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("extra", nargs="*", help="more mnist-train arguments, after --")
    args = parser.parse_args()
    for seed in args.seeds:
        with tempfile.TemporaryDirectory() as folder:
            checkpoint = Path(folder) / "model.ckpt"
            started = time.perf_counter()
            subprocess.run([sys.executable, "-m", "mnist_cnn.cli.train", "--data-dir",
                            args.data_dir,
                            "--no-download", "--no-report", "--device", args.device,
                            "--seed", str(seed), "--checkpoint", str(checkpoint), *args.extra],
                           check=True, stdout=subprocess.DEVNULL)
            wall = time.perf_counter() - started
            run = json.loads(checkpoint.with_suffix(".json").read_text())
        elapsed, reached = 0.0, None
        print(f"seed {seed}: device {run['environment']['device']}, {run['precision']}, "
              f"torch {run['environment']['torch']}")
        for epoch in run["epochs"]:
            elapsed += epoch["seconds"]
            if reached is None and epoch["test_accuracy"] >= 99.0:
                reached = elapsed
            steps = epoch.get("steps") or math.ceil(60_000 / run["config"]["batch_size"])
            print(f"  epoch {epoch['epoch']}: {steps} steps, {steps / epoch['seconds']:.0f} "
                  f"steps/s (evaluation included), test accuracy {epoch['test_accuracy']:.2f} %")
        print("  time to 99 %: " + (f"{reached:.1f}s of training" if reached else "not reached")
              + f"; final test accuracy {run['test_accuracy']:.2f} % after {elapsed:.1f}s of "
              f"training, {wall:.1f}s wall (start-up included)")


if __name__ == "__main__":
    main()
