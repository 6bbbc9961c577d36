"""Benchmark: reading digits the way users hand them over, against the reference's transform.

1. Renders the 10,000 MNIST test digits as user-style image files (bench/render.py, fixed seed).
2. Accuracy on them with the same checkpoint(s): (a) the reference transform (resize to 28x28,
   invert, /255; ``--preprocess plain``) and (b) ours (``--preprocess mnist``).
3. Throughput on those files, in this process (interpreter start excluded): our batched,
   multi-process recognizer (numbers searched for, digit score on) vs a per-image
   reference-style loop.
4. Memory and output of ``mnist-recognize FOLDER --json`` on all of them (peak RSS, valid JSON).
5. Start-up: ``mnist-recognize num-draft/*.png --no-grid`` vs ``python -c "import torch"``.

    python bench/bench_recognize.py --checkpoint model.ckpt --data-dir ../shared/MNIST_data
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torchvision
from PIL import Image, ImageOps

from mnist_cnn.checkpoint import load_model
from mnist_cnn.recognition import Options, Recognizer

from machine import describe
from render import render_folder

REPO = Path(__file__).resolve().parent.parent


def accuracy(paths: list[Path], labels: list[int], checkpoint: Path, mode: str) -> float:
    """Share of pictures read as exactly their one digit (a second digit found is wrong)."""
    recognizer = Recognizer.from_checkpoint(checkpoint, torch.device("cpu"),
                                            options=Options(preprocess=mode))
    results = recognizer.read_paths(paths)
    hits = sum(result.number == str(label)
               for result, label in zip(results, labels, strict=True))
    return 100.0 * hits / len(labels)


def ours_per_second(paths: list[Path], checkpoint: Path) -> float:
    started = time.perf_counter()
    recognizer = Recognizer.from_checkpoint(checkpoint, torch.device("cpu"))
    done = sum(1 for _ in recognizer.read_paths(paths))
    return done / (time.perf_counter() - started)


@torch.no_grad()
def reference_loop_per_second(paths: list[Path], checkpoint: Path) -> float:
    """One file at a time: open, grayscale, (resize), invert, /255, predict."""
    started = time.perf_counter()
    model = load_model(checkpoint, torch.device("cpu"))
    for path in paths:
        gray = ImageOps.grayscale(Image.open(path))
        if gray.size != (28, 28):
            gray = gray.resize((28, 28))
        pixels = (255 - np.asarray(gray, dtype=np.float32)) / 255.0
        model(torch.from_numpy(pixels.reshape(1, 1, 28, 28))).argmax(1)
    return len(paths) / (time.perf_counter() - started)


def cli_on_folder(folder: Path, checkpoint: Path, count: int) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of ``mnist-recognize FOLDER --json``; checks the JSON."""
    started = time.perf_counter()
    command = [sys.executable, "-m", "mnist_cnn.recognize", str(folder), "--checkpoint",
               str(checkpoint), "--json"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    records = json.loads(output)
    if os.waitstatus_to_exitcode(status) != 0 or len(records) != count:
        sys.exit(f"mnist-recognize on {folder} failed or gave {len(records)} records")
    return seconds, usage.ru_maxrss / 1024


def median_seconds(command: list[str], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, action="append", required=True,
                        help="a checkpoint to compare (repeat for several, e.g. an --augment one)")
    parser.add_argument("--data-dir", default="../shared/MNIST_data")
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--out", type=Path, help="keep the rendered files here")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    print(f"machine: {describe()}")

    test = torchvision.datasets.MNIST(args.data_dir, train=False)
    with tempfile.TemporaryDirectory() as scratch:
        folder = args.out or Path(scratch) / "rendered"
        started = time.perf_counter()
        manifest = render_folder(test.data.numpy()[:args.count], test.targets.numpy()[:args.count],
                                 folder, seed=0)
        print(f"rendered {len(manifest)} files in {time.perf_counter() - started:.0f}s")
        paths = [Path(path) for path, _ in manifest]
        labels = [label for _, label in manifest]

        for checkpoint in args.checkpoint:
            plain = accuracy(paths, labels, checkpoint, "plain")
            ours = accuracy(paths, labels, checkpoint, "mnist")
            print(f"{checkpoint}: accuracy (a) reference transform {plain:.2f} %, "
                  f"(b) ours {ours:.2f} % ({ours - plain:+.2f} points)")

        checkpoint = args.checkpoint[0]
        reference = reference_loop_per_second(paths, checkpoint)
        ours = ours_per_second(paths, checkpoint)
        print(f"throughput: ours {ours:.0f} images/s, per-image reference-style loop "
              f"{reference:.0f} images/s (plain transform, no normalization)")
        seconds, peak = cli_on_folder(folder, checkpoint, len(paths))
        print(f"mnist-recognize FOLDER --json on {len(paths)} files: {seconds:.1f}s wall "
              f"including start-up, peak RSS {peak:.0f} MB, valid JSON")

    drafts = sorted(str(path) for path in (REPO / "num-draft").glob("*.png"))
    import_torch = median_seconds([sys.executable, "-c", "import torch"], args.repeats)
    recognize_ten = median_seconds(
        [sys.executable, "-m", "mnist_cnn.recognize", *drafts, "--no-grid", "--checkpoint",
         str(checkpoint)], args.repeats)
    print(f"start-up (median of {args.repeats}): python -c 'import torch' {import_torch:.2f}s, "
          f"mnist-recognize num-draft/*.png --no-grid {recognize_ten:.2f}s "
          f"({recognize_ten / import_torch:.2f}x)")


if __name__ == "__main__":
    main()
