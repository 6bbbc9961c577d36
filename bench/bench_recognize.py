"""Benchmark: reading digits the way users hand them over, against the reference-style loop.

1. The real dev digits, form by form (photos and canvases, scans, scans binarized, binarized
   and stretched to fill the field, 8x8 reductions enlarged; ``devset.single_digit_files``,
   read in place or written to a temporary folder): images/s of the recognizer with its
   defaults against a reference-style loop on the same files (open, grayscale, resize to
   28x28, invert, predict one at a time), start-up excluded, in ``--repeats`` alternating
   rounds, and how many each reads right. ``--dev-only`` stops here.
2. Renders the 10,000 MNIST test digits as user-style image files (bench/render.py, fixed seed).
3. Accuracy on them with the same checkpoint(s): (a) the reference transform (resize to 28x28,
   invert, /255; ``--preprocess plain``) and (b) ours (``--preprocess mnist``).
4. Throughput on those files, in this process (interpreter start excluded): our batched,
   multi-process recognizer (numbers searched for, digit score on) vs the loop.
5. Memory and output of ``mnist-recognize FOLDER --json`` on all of them (peak RSS, valid JSON).
6. Start-up: ``mnist-recognize num-draft/*.png --no-grid`` vs ``python -c "import torch"``.

    python bench/bench_recognize.py --data-dir ../shared/MNIST_data [--checkpoint model.ckpt]
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

from mnist_cnn.networks import registry
from mnist_cnn.reading.pipeline import Options
from mnist_cnn.reading.recognizer import Recognizer

import devset
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


def read_rate(paths: list[Path], recognizer: Recognizer) -> tuple[float, list[str]]:
    """Images/s of the recognizer on ``paths`` (loaded beforehand), and what it read."""
    started = time.perf_counter()
    numbers = [result.number for result in recognizer.read_paths(paths)]
    return len(paths) / (time.perf_counter() - started), numbers


@torch.no_grad()
def loop_rate(paths: list[Path], model: torch.nn.Module) -> tuple[float, list[str]]:
    """One file at a time: open, grayscale, (resize), invert, /255, predict. Images/s (the
    model loaded beforehand), and the digits read."""
    started = time.perf_counter()
    digits = []
    for path in paths:
        gray = ImageOps.grayscale(Image.open(path))
        if gray.size != (28, 28):
            gray = gray.resize((28, 28))
        pixels = (255 - np.asarray(gray, dtype=np.float32)) / 255.0
        digits.append(str(int(model(torch.from_numpy(pixels.reshape(1, 1, 28, 28))).argmax(1))))
    return len(paths) / (time.perf_counter() - started), digits


def dev_forms(checkpoint: Path, repeats: int) -> None:
    """Throughput and accuracy on every form of real dev digit, ours against the loop, in
    alternating rounds (this VM's speed drifts by a third within minutes: each round's ratio
    compares the two under the same conditions), and the median over the rounds."""
    recognizer = Recognizer.from_checkpoint(checkpoint, torch.device("cpu"))
    model = registry.load(registry.MODEL, checkpoint, torch.device("cpu"))
    with tempfile.TemporaryDirectory() as scratch:
        forms = devset.single_digit_files(Path(scratch))
        for form, (paths, labels) in forms.items():
            rounds = [(loop_rate(paths, model), read_rate(paths, recognizer))
                      for _ in range(repeats)]
            (_, loop_read), (_, our_read) = rounds[0]
            loop_right = sum(a == b for a, b in zip(loop_read, labels, strict=True))
            our_right = sum(a == b for a, b in zip(our_read, labels, strict=True))
            ratios = [ours / loop for (loop, _), (ours, _) in rounds]
            print(f"dev {form} ({len(paths)} files): ours "
                  f"{statistics.median(rate for _, (rate, _) in rounds):.0f} images/s, "
                  f"{our_right} right; loop "
                  f"{statistics.median(rate for (rate, _), _ in rounds):.0f} images/s, "
                  f"{loop_right} right; {statistics.median(ratios):.2f}x the loop "
                  f"(rounds {min(ratios):.2f}-{max(ratios):.2f}x)", flush=True)


def cli_on_folder(folder: Path, checkpoint: Path, count: int) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of ``mnist-recognize FOLDER --json``; checks the JSON."""
    started = time.perf_counter()
    command = [sys.executable, "-m", "mnist_cnn.cli.recognize", str(folder), "--checkpoint",
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
    parser.add_argument("--checkpoint", type=Path, action="append",
                        help="a checkpoint to compare (repeat for several; default: the model "
                             "that ships with the package)")
    parser.add_argument("--data-dir", default="../shared/MNIST_data")
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--out", type=Path, help="keep the rendered files here")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--dev-only", action="store_true",
                        help="only the real dev digits' forms (part 6)")
    args = parser.parse_args()
    args.checkpoint = args.checkpoint or [registry.MODEL.shipped]
    print(f"machine: {describe()}")
    dev_forms(args.checkpoint[0], args.repeats)
    if args.dev_only:
        return

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
        model = registry.load(registry.MODEL, checkpoint, torch.device("cpu"))
        reference, _ = loop_rate(paths, model)
        rate, _ = read_rate(paths, Recognizer.from_checkpoint(checkpoint, torch.device("cpu")))
        print(f"throughput: ours {rate:.0f} images/s, per-image reference-style loop "
              f"{reference:.0f} images/s (plain transform, no normalization)")
        seconds, peak = cli_on_folder(folder, checkpoint, len(paths))
        print(f"mnist-recognize FOLDER --json on {len(paths)} files: {seconds:.1f}s wall "
              f"including start-up, peak RSS {peak:.0f} MB, valid JSON")

    drafts = sorted(str(path) for path in (REPO / "num-draft").glob("*.png"))
    import_torch = median_seconds([sys.executable, "-c", "import torch"], args.repeats)
    recognize_ten = median_seconds(
        [sys.executable, "-m", "mnist_cnn.cli.recognize", *drafts, "--no-grid", "--checkpoint",
         str(checkpoint)], args.repeats)
    print(f"start-up (median of {args.repeats}): python -c 'import torch' {import_torch:.2f}s, "
          f"mnist-recognize num-draft/*.png --no-grid {recognize_ten:.2f}s "
          f"({recognize_ten / import_torch:.2f}x)")


if __name__ == "__main__":
    main()
