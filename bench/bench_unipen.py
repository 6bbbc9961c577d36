"""Benchmark: real handwriting from writers the learned parts never saw (UNIPEN's validate side).

The measuring stick every design is compared on (the dev sets are read once, when a change is
done). UNIPEN (CC BY 4.0) is read in its own format, its labels checked and its writers split
(``mnist_cnn.fitting.handwriting``); this reads only the writers of the validate side.

1. Each held-out digit (at most ``--per-writer`` of a writer), drawn with a pen of its own
   (``handwriting.PENS``) and normalized as reading does, is handed over every way (the 28x28
   picture itself, and each of ``handed.KINDS``: scans, 8x8, pens, blur, JPEG, tiny and larger
   canvases, photos of paper).
2. For each checkpoint (``--checkpoint``, repeatable; ``--baseline REF`` adds the shipped parts
   of a git revision beside them): the ConvNet's accuracy reading each picture as one digit,
   rejection off; and the default reading's (``mnist-recognize``'s) digits read right, lost
   (no digit read) and split (more than one digit read), each way apart and overall.
3. Held-out capitals, lower-case letters and symbols (less the digits' look-alikes, reported
   apart), each handed over one way in turn: the share the default reading rejects (reads no
   digit in).
4. Numbers of 2 to 6 digits, each number written with one held-out writer's own digits, put on
   paper as ``render_numbers.render_number`` puts MNIST digits: the share read exactly.

    python bench/bench_unipen.py [--unipen FOLDER] [--checkpoint model.ckpt] [--baseline HEAD]

Without ``--unipen`` the archive in ``../shared/unipen`` is unpacked to a temporary folder.
"""

import argparse
import subprocess
import tarfile
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from mnist_cnn.fitting.handed import KINDS, handed_over_pictures
from mnist_cnn.fitting.handwriting import SIDES, Handwriting, drawn, load_handwriting
from mnist_cnn.networks import registry
from mnist_cnn.reading.pipeline import READ, Options, prepare_paths
from mnist_cnn.reading.recognizer import BATCH_SIZE, Recognizer

from machine import describe
from render_numbers import render_number

ROOT = Path(__file__).resolve().parent.parent
ARCHIVE = ROOT.parent / "shared" / "unipen" / "train_r01_v07-1a-1d.tar.xz"
WAYS = ("28x28", *KINDS)
ONE_DIGIT = Options(one_digit=True)
NON_DIGITS = {"capitals": "1b", "lower case": "1c", "symbols": "1d"}
PARTS = ("model.ckpt", "model.detector.pt", "model.verifier.pt", "model.pairs.pt")


def unpacked(archive: Path, into: Path) -> Path:
    """The UNIPEN folder inside ``archive``, unpacked into ``into``."""
    with tarfile.open(archive) as tar:
        tar.extractall(into, filter="data")
    return next(path.parent.parent for path in into.glob("*/data/1a"))


def baseline_checkpoint(revision: str, into: Path) -> Path:
    """The shipped model and sidecars of a git ``revision``, as a checkpoint with its
    sidecars beside it (so the reading uses exactly them)."""
    into.mkdir(parents=True, exist_ok=True)
    for name in PARTS:
        data = subprocess.run(["git", "show", f"{revision}:mnist_cnn/weights/{name}"],
                              cwd=ROOT, capture_output=True, check=True).stdout
        (into / name).write_bytes(data)
    return into / "model.ckpt"


def held_out(handwriting: Handwriting, categories: list[str], most: int,
             rng: np.random.Generator, look_alikes: bool = False) -> np.ndarray:
    """The validate side's characters of ``categories``, at most ``most`` of each writer and
    category (so a few prolific writers do not make the figure), in a fixed order."""
    chosen = handwriting.select(categories, "validate", look_alikes=True)
    chosen = chosen[handwriting.look_alike[chosen] == look_alikes]
    groups = defaultdict(list)
    for index in chosen:
        character = handwriting.characters[index]
        groups[(character.writer, character.category)].append(index)
    return np.sort(np.concatenate([rng.permutation(own)[:most] for own in groups.values()])
                   if groups else np.zeros(0, int))


def write(pictures: list[np.ndarray | None], folder: Path) -> list[Path]:
    """Each picture (uint8 grayscale) as a PNG file; a blank one as white paper."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for index, picture in enumerate(pictures):
        path = folder / f"{index:05d}.png"
        Image.fromarray(np.full((28, 28), 255, np.uint8) if picture is None else picture
                        ).save(path)
        paths.append(path)
    return paths


def handed(images: torch.Tensor, way: str, rng: np.random.Generator) -> list:
    """The 28x28 drawings as pictures handed over ``way``."""
    if way == "28x28":
        return [np.round(255 * (1 - image)).astype(np.uint8) for image in images.numpy()]
    return handed_over_pictures(images, rng, (way,))


def read_all(recognizers: dict[str, Recognizer], paths: list[Path], options: Options) -> dict:
    """Each recognizer's results for the files, prepared once (``options``)."""
    prepared = [(str(path), ready) for path, ready in zip(
        paths, prepare_paths(paths, options), strict=True)]
    results = {}
    for name, recognizer in recognizers.items():
        results[name] = [result for start in range(0, len(prepared), BATCH_SIZE)
                         for result in recognizer.read_prepared(
                             prepared[start:start + BATCH_SIZE])]
    return results


def held_out_numbers(handwriting: Handwriting, count: int, rng: np.random.Generator
                     ) -> tuple[list[np.ndarray], list[str]]:
    """``count`` pictures of numbers, each of one held-out writer's own digits."""
    indices = handwriting.select(["1a"], "validate")
    by_writer = defaultdict(list)
    for index in indices:
        by_writer[handwriting.characters[index].writer].append(index)
    writers = sorted(writer for writer, own in by_writer.items() if len(own) >= 6)
    pictures, numbers = [], []
    for _ in range(count):
        own = by_writer[writers[int(rng.integers(len(writers)))]]
        chosen = rng.choice(own, size=int(rng.integers(2, 7)), replace=False)
        digits = drawn(handwriting, chosen, rng)
        image, _, _ = render_number([np.round(255 * d).astype(np.uint8) for d in digits.numpy()],
                                    rng)
        pictures.append(np.asarray(image))
        numbers.append("".join(handwriting.characters[i].label for i in chosen))
    return pictures, numbers


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--unipen", type=Path, help="a UNIPEN folder (data/, include/); "
                        f"default: {ARCHIVE} unpacked")
    parser.add_argument("--checkpoint", type=Path, action="append",
                        help="repeatable; default: the shipped model")
    parser.add_argument("--baseline", metavar="REF",
                        help="also read with the shipped parts of this git revision")
    parser.add_argument("--numbers", type=int, default=300)
    parser.add_argument("--per-writer", type=int, default=100,
                        help="at most this many characters of each writer and category")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(f"machine: {describe()}")
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        checkpoints = {str(path): path for path in args.checkpoint or [registry.MODEL.shipped]}
        if args.baseline:
            checkpoints[f"shipped at {args.baseline}"] = baseline_checkpoint(
                args.baseline, scratch / "baseline")
        started = time.perf_counter()
        folder = args.unipen or unpacked(ARCHIVE, scratch / "unipen")
        handwriting = load_handwriting(folder)
        writers = {SIDES[s]: len({c.writer for c, side in zip(
            handwriting.characters, handwriting.side, strict=True) if side == s})
            for s in range(len(SIDES))}
        print(f"UNIPEN read, checked and split in {time.perf_counter() - started:.0f}s: "
              f"writers per side {writers}")
        device = torch.device("cpu")
        one_digit = {name: Recognizer.from_checkpoint(path, device, reject=False,
                                                      options=ONE_DIGIT)
                     for name, path in checkpoints.items()}
        default = {name: Recognizer.from_checkpoint(path, device)
                   for name, path in checkpoints.items()}
        rng = np.random.default_rng(args.seed)

        digits = held_out(handwriting, ["1a"], args.per_writer, rng)
        labels = [handwriting.characters[i].label for i in digits]
        images = drawn(handwriting, digits, rng)
        print(f"\nheld-out digits: {len(digits)}, handed over {len(WAYS)} ways")
        table = defaultdict(dict)
        for way in WAYS:
            paths = write(handed(images, way, rng), scratch / "digits" / way)
            convnet = read_all(one_digit, paths, ONE_DIGIT)
            reading = read_all(default, paths, READ)
            for name in checkpoints:
                table[name][way] = (
                    [r.number == label for r, label in zip(convnet[name], labels, strict=True)],
                    [r.number == label for r, label in zip(reading[name], labels, strict=True)],
                    [not r.digits for r in reading[name]],
                    [len(r.digits) > 1 for r in reading[name]])
        for name, ways in table.items():
            print(f"\n{name}")
            print(f"  {'way':<10} {'ConvNet':>8} {'read':>8} {'lost':>7} {'split':>7}")
            every = [np.concatenate([np.array(ways[way][k]) for way in WAYS]) for k in range(4)]
            for way, row in [*ways.items(), ("all", every)]:
                print(f"  {way:<10} " + " ".join(f"{100 * np.mean(values):7.2f}%"
                                                 for values in row))

        print("\nheld-out non-digits rejected (default reading)")
        for kind, category in NON_DIGITS.items():
            for look_alikes in (False, True):
                chosen = held_out(handwriting, [category], args.per_writer, rng, look_alikes)
                if not len(chosen):
                    continue
                pictures = handed_over_pictures(drawn(handwriting, chosen, rng), rng)
                paths = write(pictures, scratch / f"{category}-{look_alikes}")
                reading = read_all(default, paths, READ)
                label = f"{kind}{', look-alikes' if look_alikes else ''} ({len(chosen)})"
                print(f"  {label:<32} " + ", ".join(
                    f"{name}: {100 * np.mean([not r.digits for r in results]):.1f}%"
                    for name, results in reading.items()))

        pictures, numbers = held_out_numbers(handwriting, args.numbers, rng)
        paths = write(pictures, scratch / "numbers")
        reading = read_all(default, paths, READ)
        print(f"\nnumbers of one held-out writer's digits ({len(numbers)}), read exactly: "
              + ", ".join(f"{name}: {100 * np.mean([r.number == n for r, n in zip(results, numbers, strict=True)]):.1f}%"  # noqa: E501
                          for name, results in reading.items()))


if __name__ == "__main__":
    main()
