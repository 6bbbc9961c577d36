"""Benchmark: saying "not a digit" to letters, signs and doodles, and not to real digits.

1. Renders marks that are not digits (render_nondigits.py: stroked letters, glyphs of other
   alphabets in a font, doodles) and MNIST test digits (render.py), both as users hand images
   over, with fixed seeds; reads the real digits of ``../shared/devset`` in every form
   (photos and canvases, scans, and the scans binarized, stretched and reduced to 8x8:
   ``devset.single_digit_files``) and its real non-digits, in place (skipped with a note if
   absent).
2. Reads every picture with ``mnist-recognize``'s recognizer, rejection on; a picture's score
   is the highest digit score of its marks (it is "not a digit" when all marks are below the
   threshold).
3. Reports, at the default threshold, the share of non-digits rejected, rendered and real,
   each family apart, and of digits rejected, rendered and real (pictures in which
   ``mnist-recognize`` reads no digit: as it decides, with its leniency for tall marks in a
   number), and the ROC AUC of the picture score for every pair; the same for the softmax
   confidence as the score (what a plain classifier has); and draws the trade-off curves of
   the picture score into ``docs/rejection.png``.

    python bench/bench_rejection.py --data-dir ../shared/MNIST_data [--checkpoint model.ckpt]
"""

import argparse
import tempfile
from pathlib import Path

import numpy as np
import torch
import torchvision

from mnist_cnn.networks import registry
from mnist_cnn.reading.recognizer import Recognizer

from devset import nondigits, single_digit_files
from machine import describe
from render import render_folder
from render_nondigits import render_nondigits_folder

DOCS = Path(__file__).resolve().parent.parent / "docs"


def picture_scores(recognizer: Recognizer, paths: list[Path]) -> tuple[np.ndarray, np.ndarray]:
    """Per picture: the highest digit score and the highest softmax confidence of its marks
    (-inf for a picture with no mark; +inf for two digits read whole as a pair, which the
    detector does not judge)."""
    scores, confidences = [], []
    for result in recognizer.read_paths(paths):
        marks = [(np.inf if d.score is None else d.score, d.confidence) for d in result.digits]
        scores.append(max((s for s, _ in marks), default=-np.inf))
        confidences.append(max((c for _, c in marks), default=-np.inf))
    return np.array(scores), np.array(confidences)


def none_read(recognizer: Recognizer, paths: list[Path]) -> np.ndarray:
    """Per picture: whether ``mnist-recognize`` reads no digit in it (not a digit, or blank)."""
    return np.array([not result.digits for result in recognizer.read_paths(paths)])


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
    """For every threshold: the share of ``scores`` (digits) and of ``others`` rejected."""
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
    threshold = recognizer.reject_threshold
    test = torchvision.datasets.MNIST(args.data_dir, train=False)
    with tempfile.TemporaryDirectory() as scratch:
        others = render_nondigits_folder(Path(scratch) / "others", args.nondigits, seed=0)
        digits = render_folder(test.data.numpy()[:args.digits], test.targets.numpy()[:args.digits],
                               Path(scratch) / "digits", seed=0)
        positives = {"rendered MNIST test digits": [Path(p) for p, _ in digits]}
        negatives = {"rendered non-digits": ([Path(entry["path"]) for entry in others],
                                             [entry["family"] for entry in others])}
        forms = single_digit_files(Path(scratch) / "dev")
        if forms:
            positives["real dev digits, every form"] = [path for paths, _ in forms.values()
                                                        for path in paths]
        real_others = nondigits()
        if real_others is not None:
            negatives["real dev non-digits"] = (real_others[0], real_others[1])
        every = {**positives, **{name: paths for name, (paths, _) in negatives.items()}}
        recognizer.reject_threshold = -np.inf
        scored = {name: picture_scores(recognizer, paths) for name, paths in every.items()}
        recognizer.reject_threshold = threshold
        rejected = {name: none_read(recognizer, paths) for name, paths in every.items()}
        lost = {form: 100 * none_read(recognizer, paths).mean()
                for form, (paths, _) in forms.items()}
    print(f"default threshold {threshold:.2f}:")
    for name, (_, families) in negatives.items():
        by_family = ", ".join(
            f"{family} {100 * rejected[name][np.array(families) == family].mean():.0f} %"
            for family in sorted(set(families)))
        print(f"  {name}: {100 * rejected[name].mean():.1f} % of {len(families)} rejected "
              f"({by_family})")
    for form, share in lost.items():
        print(f"  real dev digits, {form}: {share:.2f} % of {len(forms[form][0])} rejected")
    curves = {}
    for name in positives:
        print(f"  {name}: {100 * rejected[name].mean():.2f} % of {len(rejected[name])} "
              "rejected")
        scores, confidence = scored[name]
        for other in negatives:
            other_scores, other_confidence = scored[other]
            print(f"    against {other}: ROC AUC {roc_auc(scores, other_scores):.3f} "
                  f"(softmax confidence as the score: "
                  f"{roc_auc(confidence, other_confidence):.3f})")
            curves[f"{name} vs {other}"] = curve(scores, other_scores)
    draw(curves, args.plot)
    print(f"trade-off curves of the digit score in {args.plot}")


if __name__ == "__main__":
    main()
