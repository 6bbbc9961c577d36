"""Benchmark: every real dev set (``../shared/devset``, read in place), side by side for each
checkpoint: the default reading against the network alone (``--one-digit --no-reject``).

- single digits (photos and canvases) and low-resolution scans: accuracy, and the share of real
  digits read as several digits or rejected (``not a digit`` or blank); the scans also as
  binarized 16x16 scans come, the field as it is and the ink stretched to fill it, and as
  8x8 reductions (``devset.scan_forms``);
- real numbers: string accuracy by source (cheque amounts, register row numbers);
- real non-digits: the share called "not a digit", by family.

    python bench/bench_devset.py [--checkpoint model.ckpt --checkpoint other.ckpt]
"""

import argparse
import time
from collections import Counter
from pathlib import Path

import torch

from mnist_cnn.networks import registry
from mnist_cnn.reading.pipeline import Options
from mnist_cnn.reading.recognizer import Recognizer
from mnist_cnn.reading.results import Recognition

import devset
from machine import describe


def read(recognizer: Recognizer, pictures: list) -> tuple[list[Recognition], float]:
    started = time.perf_counter()
    results = list(recognizer.read_many(pictures))
    return results, len(pictures) / (time.perf_counter() - started)


def singles(name: str, recognizer: Recognizer, pictures: list, labels: list[str],
            names: list[str] | None = None) -> None:
    results, rate = read(recognizer, pictures)
    names = names or [path.name for path in pictures]
    right = sum(r.number == label for r, label in zip(results, labels, strict=True))
    several = sum(len(r.digits) > 1 for r in results)
    dropped = sum(not r.digits for r in results)
    wrong = [f"{name}->{r.number or ('x' if r.not_digit else '-')}"
             for r, label, name in zip(results, labels, names, strict=True) if r.number != label]
    share = 100 / len(labels)
    print(f"  {name}: {share * right:.2f} % ({right}/{len(labels)}), several digits "
          f"{share * several:.1f} %, rejected or blank {share * dropped:.1f} %, {rate:.0f}/s; "
          f"wrong: {' '.join(wrong)}")


def numbers(name: str, recognizer: Recognizer, paths: list[Path], labels: list[str],
            sources: list[str]) -> None:
    results, _ = read(recognizer, paths)
    hits, totals = Counter(), Counter()
    for result, label, source in zip(results, labels, sources, strict=True):
        totals[source] += 1
        hits[source] += result.number == label
    by_source = ", ".join(f"{source} {hits[source]}/{totals[source]}" for source in sorted(totals))
    print(f"  {name}: {100 * sum(hits.values()) / len(paths):.1f} % ({by_source})")


def nondigits(name: str, recognizer: Recognizer, paths: list[Path], kinds: list[str]) -> None:
    results, _ = read(recognizer, paths)
    hits, totals = Counter(), Counter()
    for result, kind in zip(results, kinds, strict=True):
        totals[kind] += 1
        hits[kind] += result.not_digit
    by_kind = ", ".join(f"{kind} {100 * hits[kind] / totals[kind]:.0f} %"
                        for kind in sorted(totals))
    print(f"  {name}: {100 * sum(hits.values()) / len(paths):.1f} % rejected ({by_kind})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, action="append",
                        help="a checkpoint to read with (repeat for several; default: the "
                             "shipped model)")
    args = parser.parse_args()
    args.checkpoint = args.checkpoint or [registry.MODEL.shipped]
    print(f"machine: {describe()}")
    device = torch.device("cpu")
    sets = {"images": devset.single_digits(), "scans": devset.scans(),
            **{f"scans {form}": devset.scan_forms(form) for form in devset.SCAN_FORMS},
            "numbers": devset.numbers(), "nondigits": devset.nondigits()}
    for checkpoint in args.checkpoint:
        default = Recognizer.from_checkpoint(checkpoint, device)
        alone = Recognizer.from_checkpoint(checkpoint, device, reject=False,
                                           options=Options(one_digit=True))
        print(f"{checkpoint}:")
        for kind in ("images", "scans", *(f"scans {form}" for form in devset.SCAN_FORMS)):
            if sets[kind] is not None:
                singles(f"{kind}, default", default, *sets[kind])
                singles(f"{kind}, network alone", alone, *sets[kind])
        if sets["numbers"] is not None:
            numbers("numbers, default", default, *sets["numbers"])
        if sets["nondigits"] is not None:
            nondigits("non-digits, default", default, *sets["nondigits"])


if __name__ == "__main__":
    main()
