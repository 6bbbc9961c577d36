"""Benchmark for a CUDA machine: is the training loop data-bound, and how fast does it reach 99 %?

Runs ``mnist-train`` on the given device and reads its sidecar JSON: steps per second in each
epoch (training steps over the epoch's wall time, evaluation included) and the wall time until
the test accuracy first reaches 99 %. A data-bound loop would show steps/s far below what the
device does on resident tensors; the batches here are sliced on the device itself.

    python bench/bench_gpu.py --data-dir ../shared/MNIST_data --device cuda
"""

import argparse
import json
import math
import subprocess
import sys
import tempfile
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default="../shared/MNIST_data")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--epochs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        checkpoint = Path(folder) / "model.ckpt"
        subprocess.run([sys.executable, "-m", "mnist_cnn.train", "--data-dir", args.data_dir,
                        "--no-download", "--no-report", "--device", args.device,
                        "--epochs", str(args.epochs), "--checkpoint", str(checkpoint)],
                       check=True, stdout=subprocess.DEVNULL)
        run = json.loads(checkpoint.with_suffix(".json").read_text())
    steps = math.ceil(60_000 / run["config"]["batch_size"])
    elapsed, reached = 0.0, None
    print(f"device: {run['environment']['device']}, torch {run['environment']['torch']}")
    for epoch in run["epochs"]:
        elapsed += epoch["seconds"]
        if reached is None and epoch["test_accuracy"] >= 99.0:
            reached = elapsed
        print(f"epoch {epoch['epoch']}: {steps / epoch['seconds']:.0f} steps/s, "
              f"test accuracy {epoch['test_accuracy']:.2f} %")
    print("time to 99 %: " + (f"{reached:.1f}s of training" if reached else "not reached"))


if __name__ == "__main__":
    main()
