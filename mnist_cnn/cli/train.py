"""``mnist-train``: train the ConvNet (``mnist_cnn.train``); ``--fit-detector`` fits the
not-a-digit detector instead, ``--fit-verifier`` the segment verifier and the pair reader (once:
the package ships all three), ``--eval-only`` evaluates a checkpoint.
"""

import argparse
import gc
import sys
import time
from pathlib import Path

import torch

from mnist_cnn.cli.common import (
    add_common_arguments,
    number_type,
    positive_float,
    positive_int,
    run_command,
)
from mnist_cnn.device import select_device
from mnist_cnn.fitting.convnet import PRECISIONS, evaluate
from mnist_cnn.fitting.data import load_mnist
from mnist_cnn.fitting.detector import fit_detector
from mnist_cnn.fitting.pairs import fit_pair_reader
from mnist_cnn.fitting.report import report_dir_for
from mnist_cnn.fitting.run import (
    DEFAULTS,
    MIN_HARD_SHARE,
    _write_report,
    arguments,
    environment,
    train,
)
from mnist_cnn.fitting.verifier import fit_verifier
from mnist_cnn.networks import registry
from mnist_cnn.networks.detector import FORMS
from mnist_cnn.networks.store import ensure_writable_dir

share = number_type(float, low=MIN_HARD_SHARE, high=1)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mnist-train",
        description="Train the reference ConvNet on MNIST and save its weights to a checkpoint.",
    )
    parser.add_argument("--epochs", type=positive_int, default=DEFAULTS.epochs,
                        help="passes over the training images: the first over all 60,000, the "
                             f"others over the --hard-share hardest (default {DEFAULTS.epochs})")
    parser.add_argument("--hard-share", type=share, default=DEFAULTS.hard_share,
                        help="share of the images each epoch after the first trains on: those "
                             "with the highest loss when last seen; 1 trains on all every epoch "
                             f"(default {DEFAULTS.hard_share})")
    parser.add_argument("--batch-size", type=positive_int, default=DEFAULTS.batch_size,
                        help=f"images per step (default {DEFAULTS.batch_size})")
    parser.add_argument("--lr", type=positive_float, default=DEFAULTS.lr,
                        help="peak learning rate of Adam: reached linearly over the first "
                             f"{DEFAULTS.warmup:.0%}% of the steps, then lowered linearly to 0 "
                             f"(default {DEFAULTS.lr})")
    parser.add_argument("--seed", type=int, default=DEFAULTS.seed,
                        help=f"random seed: on the CPU, same seed, same weights "
                             f"(default {DEFAULTS.seed})")
    parser.add_argument("--log-interval", type=positive_int, default=DEFAULTS.log_interval,
                        help=f"steps between loss lines (default {DEFAULTS.log_interval})")
    parser.add_argument("--precision", choices=PRECISIONS, default=DEFAULTS.precision,
                        help="bf16: bfloat16 autocast; fp32: float32 throughout; auto: bf16 where "
                             "the hardware has it (AVX512-BF16/AMX CPUs, Ampere+ GPUs), else fp32 "
                             f"(default {DEFAULTS.precision})")
    parser.add_argument("--no-augment", dest="augment", action="store_false",
                        help="train on the MNIST images as they are, without the default random "
                             "slant, size, pen width and low-resolution copies (see README)")
    parser.add_argument("--data-dir", type=Path, default=Path("MNIST_data"),
                        help="folder holding MNIST/raw/ (default ./MNIST_data)")
    parser.add_argument("--no-download", action="store_true",
                        help="fail instead of downloading MNIST when it is missing")
    parser.add_argument("--unipen", type=Path, metavar="FOLDER",
                        help="a UNIPEN folder (data/ and include/, as the Zenodo record "
                             "unpacks): its fit writers' real digits, labels checked, join "
                             "MNIST's training images (see README)")
    parser.add_argument("--checkpoint", type=Path, default=Path("model.ckpt"),
                        help="where to write the weights (default ./model.ckpt)")
    parser.add_argument("--eval-only", action="store_true",
                        help="evaluate the existing --checkpoint on the test set; train nothing")
    parser.add_argument("--fit-detector", action="store_true",
                        help="fit the not-a-digit detector and save it beside --checkpoint "
                             "(model.detector.pt, used instead of the shipped one); train "
                             "nothing else")
    parser.add_argument("--fit-verifier", action="store_true",
                        help="fit the segment verifier and the pair reader, which judge how a "
                             "number divides into digits, and save them beside --checkpoint "
                             "(model.verifier.pt, model.pairs.pt, used instead of the shipped "
                             "ones); train nothing else")
    parser.add_argument("--report-dir", type=Path,
                        help="where to write curves, confusion matrix, mistakes and metrics "
                             "(default: next to the checkpoint, e.g. model-report/)")
    parser.add_argument("--no-report", action="store_true", help="write no report")
    add_common_arguments(parser)
    return parser


def evaluate_checkpoint(args: argparse.Namespace, device: torch.device) -> int:
    model = registry.load(registry.MODEL, args.checkpoint, device)
    data = load_mnist(args.data_dir, download=not args.no_download).to(device)
    evaluation = evaluate(model, data.test)
    print(f"Test accuracy on the {len(data.test)} test images: {evaluation.accuracy:.2f} %")
    facts = {"checkpoint": str(args.checkpoint), "arguments": arguments(vars(args)),
             "environment": environment(device)}
    if not args.no_report:
        _write_report(args.report_dir or report_dir_for(args.checkpoint), data, evaluation, facts)
    return 0


def fit_detector_beside(args: argparse.Namespace, device: torch.device) -> None:
    """``--fit-detector``: fit the not-a-digit detector on MNIST's training digits, calibrated
    for the recognizer of ``--checkpoint`` (its ConvNet, verifier and pair reader: those
    beside it, else the shipped ones), and save it beside ``--checkpoint``, where the
    recognizer looks before taking the shipped one."""
    ensure_writable_dir(args.checkpoint)
    beside = args.checkpoint if args.checkpoint.exists() else registry.MODEL.shipped
    reader = registry.load(registry.MODEL, beside, device)
    searchers = (registry.load(registry.VERIFIER, args.checkpoint, device),
                 registry.load(registry.PAIRS, args.checkpoint, device))
    data = load_mnist(args.data_dir, download=not args.no_download)
    started = time.perf_counter()
    detector = fit_detector(data.train.images, data.train.labels, device, reader,
                            seed=args.seed, searchers=searchers)
    path = registry.save(registry.DETECTOR, detector, args.checkpoint)
    thresholds = ", ".join(f"{form} {value:.2f}" for form, value in zip(
        FORMS, detector.thresholds.tolist(), strict=True))
    print(f"Fitted the not-a-digit detector in {time.perf_counter() - started:.1f}s "
          f"(thresholds {thresholds}), saved to {path}")


def fit_verifier_beside(args: argparse.Namespace, device: torch.device) -> None:
    """``--fit-verifier``: fit the segment verifier on lines composed from MNIST's training
    digits and the pair reader on pairs of them, and save both beside ``--checkpoint``, where
    the recognizer looks before taking the shipped ones."""
    ensure_writable_dir(args.checkpoint)
    data = load_mnist(args.data_dir, download=not args.no_download)
    started = time.perf_counter()
    verifier = fit_verifier(data.train.images, device, seed=args.seed)
    path = registry.save(registry.VERIFIER, verifier, args.checkpoint)
    print(f"Fitted the segment verifier in {time.perf_counter() - started:.1f}s, saved to "
          f"{path}", flush=True)
    started = time.perf_counter()
    reader = fit_pair_reader(data.train.images, data.train.labels, device, seed=args.seed)
    path = registry.save(registry.PAIRS, reader, args.checkpoint)
    print(f"Fitted the pair reader in {time.perf_counter() - started:.1f}s, saved to {path}")


def run(args: argparse.Namespace) -> int:
    if args.eval_only:
        return evaluate_checkpoint(args, select_device(args.device))
    if args.fit_detector or args.fit_verifier:
        device = select_device(args.device)
        if args.fit_detector:
            fit_detector_beside(args, device)
        if args.fit_verifier:
            fit_verifier_beside(args, device)
        return 0
    train(epochs=args.epochs, hard_share=args.hard_share, batch_size=args.batch_size,
          lr=args.lr, seed=args.seed, precision=args.precision, augment=args.augment,
          log_interval=args.log_interval, data_dir=args.data_dir,
          download=not args.no_download, unipen=args.unipen, checkpoint=args.checkpoint,
          device=args.device, report=not args.no_report, report_dir=args.report_dir)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    code = run_command("mnist-train", lambda: run(args), args.debug)
    if argv is None:
        # The process ends next: spare the interpreter's shutdown its garbage-collector walks
        # over everything torch and its imports created (0.6 s of each run on a 2-core CPU).
        gc.freeze()
    return code


if __name__ == "__main__":
    sys.exit(main())
