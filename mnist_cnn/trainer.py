"""Train the ConvNet on MNIST, evaluate it, write ``model.ckpt`` and a report: ``mnist_cnn.train()``
from Python, ``mnist-train`` from the shell, one code path. ``mnist-train --fit-detector`` fits
the not-a-digit detector instead, ``--fit-verifier`` the segment verifier (once: the package
ships both).

(The command lives here, not in ``train.py``: ``mnist_cnn.train`` is the training function, and
a submodule of that name would take its place once imported; ``train.py`` only serves
``python -m mnist_cnn.train``.)
"""

import argparse
import gc
import math
import platform
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from mnist_cnn import shipped
from mnist_cnn.checkpoint import ensure_writable_dir, load_model, save_checkpoint, sidecar_path
from mnist_cnn.cli import (
    add_common_arguments,
    number_type,
    positive_float,
    positive_int,
    run_command,
)
from mnist_cnn.data import Mnist, load_mnist
from mnist_cnn.device import select_device
from mnist_cnn.errors import UsageError
from mnist_cnn.model import ConvNet
from mnist_cnn.pairs import fit_pair_reader, pair_reader_path, save_pair_reader
from mnist_cnn.rejection import detector_path, fit_detector, save_detector
from mnist_cnn.report import report_dir_for, write_report
from mnist_cnn.training import (
    PRECISIONS,
    EpochStats,
    Evaluation,
    History,
    StepEvent,
    TrainConfig,
    evaluate,
    resolve_precision,
)
from mnist_cnn.training import train as train_network
from mnist_cnn.verifier import fit_verifier, save_verifier, verifier_path

DEFAULTS = TrainConfig()
PRECISION_NAMES = {"bf16": "bfloat16 autocast", "fp32": "float32"}
MIN_HARD_SHARE = 0.01
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


class ProgressPrinter:
    """Reference-style lines on stdout, plus a tqdm bar when stderr is a terminal."""

    def __init__(self, epochs: int, show_bar: bool) -> None:
        self.epochs = epochs
        self.show_bar = show_bar
        self.bar = None

    def _print(self, line: str) -> None:
        if self.bar is not None:
            self.bar.write(line, file=sys.stdout)
        else:
            print(line, flush=True)

    def step(self, event: StepEvent) -> None:
        if self.show_bar and self.bar is None:
            from tqdm import tqdm

            self.bar = tqdm(total=event.steps_per_epoch, desc=f"Epoch {event.epoch}/{self.epochs}",
                            leave=False, unit="step", file=sys.stderr)
        if self.bar is not None:
            self.bar.update()
        if event.loss is not None:
            self._print(f"Epoch [{event.epoch}/{self.epochs}], "
                        f"Step [{event.step}/{event.steps_per_epoch}], Loss: {event.loss:.4f}")

    def epoch(self, stats: EpochStats) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
        print(f"Epoch [{stats.epoch}/{self.epochs}] done in {stats.seconds:.1f}s, "
              f"Test accuracy: {stats.test_accuracy:.2f} %", flush=True)


def environment(device: torch.device) -> dict:
    import torchvision

    from mnist_cnn import __version__

    return {
        "mnist_cnn": __version__,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "device": str(device),
        "platform": platform.platform(),
    }


def _quiet(*args: Any, **kwargs: Any) -> None:
    """``print`` for ``train(verbose=False)``: nothing."""


def _write_report(folder: Path, data: Mnist, evaluation: Evaluation, facts: dict,
                  history: History | None = None, log: Callable[..., None] = print) -> Path:
    started = time.perf_counter()
    folder = write_report(folder, data.test, evaluation, facts, history)
    log(f"Report in {folder}/ ({time.perf_counter() - started:.1f}s)")
    return folder


def evaluate_checkpoint(args: argparse.Namespace, device: torch.device) -> int:
    model = load_model(args.checkpoint, device)
    data = load_mnist(args.data_dir, download=not args.no_download).to(device)
    evaluation = evaluate(model, data.test)
    print(f"Test accuracy on the {len(data.test)} test images: {evaluation.accuracy:.2f} %")
    facts = {"checkpoint": str(args.checkpoint), "arguments": arguments(vars(args)),
             "environment": environment(device)}
    if not args.no_report:
        _write_report(args.report_dir or report_dir_for(args.checkpoint), data, evaluation, facts)
    return 0


def arguments(values: dict[str, Any]) -> dict[str, Any]:
    """Settings as JSON can hold them, for the sidecar and the report."""
    return {name: value if isinstance(value, bool | int | float | None) else str(value)
            for name, value in values.items()}


def _check_config(config: TrainConfig) -> None:
    """The ranges ``mnist-train``'s flags enforce, for callers from Python (``UsageError``)."""
    whole = {"epochs": config.epochs, "batch_size": config.batch_size,
             "log_interval": config.log_interval}
    for name, value in whole.items():
        if not (isinstance(value, int) and value >= 1):
            raise UsageError(f"{name} must be a whole number of at least 1, got {value}")
    if not (math.isfinite(config.lr) and config.lr > 0):
        raise UsageError(f"lr must be greater than 0, got {config.lr}")
    if not MIN_HARD_SHARE <= config.hard_share <= 1:
        raise UsageError(f"hard_share must be between {MIN_HARD_SHARE} and 1, "
                         f"got {config.hard_share}")
    if config.precision not in PRECISIONS:
        raise UsageError(f"precision must be one of {', '.join(PRECISIONS)}, "
                         f"got {config.precision!r}")


@dataclass(frozen=True)
class TrainingRun:
    """What ``train`` did: the test accuracy (in %, on MNIST's 10,000 test images) and the
    files it wrote (``report_dir``: ``None`` without a report)."""

    accuracy: float
    checkpoint: Path
    sidecar: Path
    report_dir: Path | None
    history: History = field(repr=False)
    """Per-step loss and learning rate, per-epoch statistics, the last evaluation."""


def train(*, epochs: int = DEFAULTS.epochs, hard_share: float = DEFAULTS.hard_share,
          batch_size: int = DEFAULTS.batch_size, lr: float = DEFAULTS.lr,
          seed: int = DEFAULTS.seed, precision: str = DEFAULTS.precision,
          augment: bool = DEFAULTS.augment, log_interval: int = DEFAULTS.log_interval,
          data_dir: Path | str = "MNIST_data", download: bool = True,
          checkpoint: Path | str = "model.ckpt", device: str | torch.device = "auto",
          report: bool = True, report_dir: Path | str | None = None,
          verbose: bool = True) -> TrainingRun:
    """Train as ``mnist-train`` does, with its defaults (the keywords are its flags;
    ``download=False``: ``--no-download``, ``report=False``: ``--no-report``), and write the
    same files: the checkpoint, its sidecar ``.json`` and the report.

    Prints ``mnist-train``'s progress lines on stdout unless ``verbose`` is false. Raises the
    project's errors (``mnist_cnn.errors``): ``UsageError`` for a setting out of range or a
    device that is not here, ``DataError`` for MNIST files that are missing or broken,
    ``TrainingDiverged`` when the loss became NaN (nothing is saved), ``MnistCnnError`` for a
    folder that cannot be written.
    """
    settings = arguments(locals())  # the keyword arguments, before any is changed below
    started = time.perf_counter()
    log = print if verbose else _quiet
    config = TrainConfig(epochs=epochs, batch_size=batch_size, lr=lr, hard_share=hard_share,
                         seed=seed, log_interval=log_interval, augment=augment,
                         precision=precision)
    _check_config(config)
    device = select_device(device)
    checkpoint = Path(checkpoint)
    ensure_writable_dir(checkpoint)
    data = load_mnist(Path(data_dir), download=download).to(device)
    used = resolve_precision(config.precision, device)
    later = (f", then the hardest {config.hard_share:.0%}" if config.hard_share < 1
             and config.epochs > 1 else "")
    log(f"Training on {device} ({PRECISION_NAMES[used]}) with {len(data.train)} images"
        f"{later}: {config.epochs} epochs, batch {config.batch_size}, peak lr {config.lr}",
        flush=True)
    torch.manual_seed(config.seed)
    model = ConvNet().to(device)
    printer = ProgressPrinter(config.epochs, show_bar=sys.stderr.isatty()) if verbose else None
    history = train_network(model, data, config, on_step=printer.step if printer else None,
                            on_epoch=printer.epoch if printer else None)
    accuracy = history.epochs[-1].test_accuracy
    log(f"Test accuracy on the {len(data.test)} test images: {accuracy:.2f} %")
    facts = {
        "test_accuracy": accuracy,
        "train_seconds": sum(stats.seconds for stats in history.epochs),
        "precision": history.precision,
        "wall_seconds": time.perf_counter() - started,
        "config": asdict(config),
        "arguments": settings,
        "epochs": [asdict(stats) for stats in history.epochs],
        "environment": environment(device),
    }
    save_checkpoint(model, checkpoint, facts)
    log(f"Saved model to {checkpoint} (run details in {sidecar_path(checkpoint)})")
    folder = None
    if report:
        folder = _write_report(Path(report_dir) if report_dir else report_dir_for(checkpoint),
                               data, history.final_evaluation, facts, history, log)
    return TrainingRun(accuracy, checkpoint, sidecar_path(checkpoint), folder, history)


def fit_detector_beside(args: argparse.Namespace, device: torch.device) -> None:
    """``--fit-detector``: fit the not-a-digit detector on MNIST's training digits, calibrated
    with the ConvNet at ``--checkpoint`` (the shipped one when there is none there), and save
    it beside ``--checkpoint``, where the recognizer looks before taking the shipped one."""
    ensure_writable_dir(args.checkpoint)
    reader = load_model(args.checkpoint if args.checkpoint.exists() else shipped.MODEL, device)
    data = load_mnist(args.data_dir, download=not args.no_download)
    started = time.perf_counter()
    detector = fit_detector(data.train.images, data.train.labels, device, reader,
                            seed=args.seed)
    save_detector(detector, args.checkpoint)
    print(f"Fitted the not-a-digit detector in {time.perf_counter() - started:.1f}s "
          f"(threshold {float(detector.threshold):.2f}), saved to "
          f"{detector_path(args.checkpoint)}")


def fit_verifier_beside(args: argparse.Namespace, device: torch.device) -> None:
    """``--fit-verifier``: fit the segment verifier on lines composed from MNIST's training
    digits and the pair reader on pairs of them, and save both beside ``--checkpoint``, where
    the recognizer looks before taking the shipped ones."""
    ensure_writable_dir(args.checkpoint)
    data = load_mnist(args.data_dir, download=not args.no_download)
    started = time.perf_counter()
    verifier = fit_verifier(data.train.images, device, seed=args.seed)
    save_verifier(verifier, args.checkpoint)
    print(f"Fitted the segment verifier in {time.perf_counter() - started:.1f}s, saved to "
          f"{verifier_path(args.checkpoint)}", flush=True)
    started = time.perf_counter()
    reader = fit_pair_reader(data.train.images, data.train.labels, device, seed=args.seed)
    save_pair_reader(reader, args.checkpoint)
    print(f"Fitted the pair reader in {time.perf_counter() - started:.1f}s, saved to "
          f"{pair_reader_path(args.checkpoint)}")


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
          download=not args.no_download, checkpoint=args.checkpoint, device=args.device,
          report=not args.no_report, report_dir=args.report_dir)
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
