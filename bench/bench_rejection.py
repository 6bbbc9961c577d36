"""Benchmark: saying "not a digit" to letters, signs and doodles, and not to real digits.

1. Renders marks that are not digits (render_nondigits.py: stroked letters, glyphs of other
   alphabets in a font, doodles) and MNIST test digits (render.py), both as users hand images
   over, with fixed seeds; reads the real digits of ``../shared/devset`` in every form
   (photos and canvases, scans, and the scans binarized, stretched and reduced to 8x8:
   ``devset.single_digit_files``) and its real non-digits, in place (skipped with a note if
   absent).
2. Reads every picture with ``mnist-recognize``'s recognizer, rejection on. A picture's
   score is how far it clears rejection: its marks' best digit score less the threshold of
   the form it was read as (``networks.detector.FORMS``), and, where it was judged as a
   whole, at most the judgement's log-odds (it is "not a digit" below 0, bar the leniency for
   tall marks in a number).
3. Reports the share of non-digits rejected, rendered and real, each family apart, and of
   digits rejected, rendered and real, each form apart (pictures in which ``mnist-recognize``
   reads no digit, as it decides), with the forms the pictures were read as; the ROC AUC of
   the picture score for every pair, and the same for the softmax confidence as the score
   (what a plain classifier has); and draws the trade-off curves of the picture score (as a
   common offset moves every threshold) into ``docs/rejection.png``.

    python bench/bench_rejection.py --data-dir ../shared/MNIST_data [--checkpoint model.ckpt]
"""

import argparse
import tempfile
from collections import Counter
from pathlib import Path

import numpy as np
import torch
import torchvision

from mnist_cnn.networks import registry
from mnist_cnn.networks.detector import FORMS
from mnist_cnn.reading.recognizer import Recognizer
from mnist_cnn.reading.scoring import reads_as_digits

from devset import nondigits, single_digit_files
from machine import describe
from render import render_folder
from render_nondigits import render_nondigits_folder

DOCS = Path(__file__).resolve().parent.parent / "docs"


def readings(recognizer: Recognizer, paths: list[Path]) -> list:
    return list(recognizer.read_paths(paths))


def picture_scores(recognizer: Recognizer, results: list) -> tuple[np.ndarray, np.ndarray]:
    """Per picture: how far it clears rejection (the best digit score of its marks less its
    form's threshold, at most the whole-picture judgement's log-odds; +inf for two digits
    read whole as a pair, which the detector does not judge; -inf for a picture with no
    mark), and the highest softmax confidence of its marks."""
    thresholds = dict(zip(FORMS, recognizer.thresholds(), strict=True))
    weights = recognizer.detector.whole.numpy()
    scores, confidences = [], []
    for result in results:
        marks = [(np.inf if d.score is None else d.score, d.confidence) for d in result.digits]
        marks += [(m.score, 0.0) for m in result.rejected]
        margin = max((s for s, _ in marks), default=-np.inf)
        if result.form is not None:
            margin -= thresholds[result.form]
        if result.whole is not None:
            margin = min(margin, reads_as_digits(result.whole, weights))
        scores.append(margin)
        confidences.append(max((d.confidence for d in result.digits), default=-np.inf))
    return np.array(scores), np.array(confidences)


def roc_auc(positive: np.ndarray, negative: np.ndarray) -> float:
    """The chance that a random positive scores above a random negative (ties count half)."""
    values = np.concatenate([positive, negative])
    ranks = np.empty(len(values))
    order = np.argsort(values, kind="stable")
    ranks[order] = np.arange(1, len(values) + 1)
    for value in np.unique(values):
        tied = values == value
        ranks[tied] = ranks[tied].mean()
    return float((ranks[:len(positive)].sum() - len(positive) * (len(positive) + 1) / 2)
                 / (len(positive) * len(negative)))


def curve(scores: np.ndarray, others: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For every offset of the thresholds: the share of ``scores`` (digits) and of ``others``
    rejected."""
    thresholds = np.unique(np.concatenate([scores, others]))
    thresholds = thresholds[np.isfinite(thresholds)]
    digits = (scores[None, :] < thresholds[:, None]).mean(1)
    rejected = (others[None, :] < thresholds[:, None]).mean(1)
    return digits, rejected


def draw(curves: dict[str, tuple[np.ndarray, np.ndarray]], path: Path) -> None:
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6.5, 4.2))
    axis = figure.subplots()
    for label, (digits, rejected) in curves.items():
        axis.plot(100 * digits, 100 * rejected, label=label)
    axis.axvline(1, color="gray", ls=":", lw=1)
    axis.axhline(80, color="gray", ls=":", lw=1)
    axis.set(xscale="symlog", xlim=(0, 100), ylim=(0, 100),
             xlabel="digits rejected (%)", ylabel="non-digits rejected (%)",
             title="Not a digit: the trade-off as the threshold moves")
    axis.legend(fontsize=7, loc="lower right")
    figure.tight_layout()
    figure.savefig(path, dpi=90)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, default=registry.MODEL.shipped,
                        help="default: the shipped model; its detector: the sidecar beside it, "
                             "else the shipped one")
    parser.add_argument("--data-dir", default="../shared/MNIST_data")
    parser.add_argument("--digits", type=int, default=3000)
    parser.add_argument("--nondigits", type=int, default=1500)
    parser.add_argument("--plot", type=Path, default=DOCS / "rejection.png")
    args = parser.parse_args()
    print(f"machine: {describe()}")
    recognizer = Recognizer.from_checkpoint(args.checkpoint, torch.device("cpu"))
    print("thresholds: " + ", ".join(f"{form} {value:.2f}" for form, value in
                                     zip(FORMS, recognizer.thresholds(), strict=True)))
    test = torchvision.datasets.MNIST(args.data_dir, train=False)
    with tempfile.TemporaryDirectory() as scratch:
        others = render_nondigits_folder(Path(scratch) / "others", args.nondigits, seed=0)
        digits = render_folder(test.data.numpy()[:args.digits], test.targets.numpy()[:args.digits],
                               Path(scratch) / "digits", seed=0)
        positives = {"rendered MNIST test digits": [Path(p) for p, _ in digits]}
        negatives = {"rendered non-digits": ([Path(entry["path"]) for entry in others],
                                             [entry["family"] for entry in others])}
        forms = single_digit_files(Path(scratch) / "dev")
        for form, (paths, _) in forms.items():
            positives[f"real dev digits, {form}"] = paths
        real_others = nondigits()
        if real_others is not None:
            negatives["real dev non-digits"] = (real_others[0], real_others[1])
        every = {**positives, **{name: paths for name, (paths, _) in negatives.items()}}
        results = {name: readings(recognizer, paths) for name, paths in every.items()}
    scored = {name: picture_scores(recognizer, read) for name, read in results.items()}
    rejected = {name: np.array([not r.digits for r in read]) for name, read in results.items()}
    read_as = {name: Counter(r.form for r in read) for name, read in results.items()}
    for name, (_, families) in negatives.items():
        by_family = ", ".join(
            f"{family} {100 * rejected[name][np.array(families) == family].mean():.0f} %"
            for family in sorted(set(families)))
        print(f"{name}: {100 * rejected[name].mean():.1f} % of {len(families)} rejected "
              f"({by_family}); read as {dict(read_as[name])}")
    curves = {}
    real = [name for name in positives if name.startswith("real")]
    pooled = ("real dev digits, every form",
              np.concatenate([scored[name][0] for name in real]) if real else None)
    for name in positives:
        print(f"{name}: {100 * rejected[name].mean():.2f} % of {len(rejected[name])} rejected; "
              f"read as {dict(read_as[name])}")
    for name, scores in [("rendered MNIST test digits", scored[next(iter(positives))][0]),
                         pooled]:
        if scores is None:
            continue
        for other in negatives:
            other_scores, _ = scored[other]
            print(f"  {name} against {other}: ROC AUC {roc_auc(scores, other_scores):.3f}")
            curves[f"{name} vs {other}"] = curve(scores, other_scores)
    for name in real:
        print(f"  {name} against real dev non-digits: ROC AUC "
              f"{roc_auc(scored[name][0], scored['real dev non-digits'][0]):.3f} (softmax "
              f"confidence as the score: "
              f"{roc_auc(scored[name][1], scored['real dev non-digits'][1]):.3f})")
    draw(curves, args.plot)
    print(f"trade-off curves of the picture score in {args.plot}")


if __name__ == "__main__":
    main()
