"""``mnist-train``: train the ConvNet on MNIST, evaluate it, write ``model.ckpt`` and a report."""

import argparse
import gc
import platform
import sys
import time
from dataclasses import asdict
from pathlib import Path

import torch

from mnist_cnn import __version__
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
from mnist_cnn.model import ConvNet
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
    train,
)

DEFAULTS = TrainConfig()
PRECISION_NAMES = {"bf16": "bfloat16 autocast", "fp32": "float32"}
share = number_type(float, low=0.01, high=1)


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

    return {
        "mnist_cnn": __version__,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torchvision": torchvision.__version__,
        "device": str(device),
        "platform": platform.platform(),
    }


def write_report_for(args: argparse.Namespace, data: Mnist, evaluation: Evaluation,
                     facts: dict, history: History | None = None) -> None:
    if args.no_report:
        return
    started = time.perf_counter()
    folder = write_report(args.report_dir or report_dir_for(args.checkpoint), data.test,
                          evaluation, facts, history)
    print(f"Report in {folder}/ ({time.perf_counter() - started:.1f}s)")


def evaluate_checkpoint(args: argparse.Namespace, device: torch.device) -> int:
    model = load_model(args.checkpoint, device)
    data = load_mnist(args.data_dir, download=not args.no_download).to(device)
    evaluation = evaluate(model, data.test)
    print(f"Test accuracy on the {len(data.test)} test images: {evaluation.accuracy:.2f} %")
    facts = {"checkpoint": str(args.checkpoint), "arguments": arguments(args),
             "environment": environment(device)}
    write_report_for(args, data, evaluation, facts)
    return 0


def arguments(args: argparse.Namespace) -> dict:
    return {name: str(value) if isinstance(value, Path) else value
            for name, value in vars(args).items()}


def run(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    device = select_device(args.device)
    if args.eval_only:
        return evaluate_checkpoint(args, device)
    ensure_writable_dir(args.checkpoint)
    data = load_mnist(args.data_dir, download=not args.no_download).to(device)
    config = TrainConfig(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                         hard_share=args.hard_share, seed=args.seed,
                         log_interval=args.log_interval, augment=args.augment,
                         precision=args.precision)
    precision = resolve_precision(config.precision, device)
    later = (f", then the hardest {config.hard_share:.0%}" if config.hard_share < 1
             and config.epochs > 1 else "")
    print(f"Training on {device} ({PRECISION_NAMES[precision]}) with {len(data.train)} images"
          f"{later}: {config.epochs} epochs, batch {config.batch_size}, peak lr {config.lr}",
          flush=True)
    torch.manual_seed(config.seed)
    model = ConvNet().to(device)
    printer = ProgressPrinter(config.epochs, show_bar=sys.stderr.isatty())
    history = train(model, data, config, on_step=printer.step, on_epoch=printer.epoch)
    accuracy = history.epochs[-1].test_accuracy
    print(f"Test accuracy on the {len(data.test)} test images: {accuracy:.2f} %")
    facts = {
        "test_accuracy": accuracy,
        "train_seconds": sum(stats.seconds for stats in history.epochs),
        "precision": history.precision,
        "wall_seconds": time.perf_counter() - started,
        "config": asdict(config),
        "arguments": arguments(args),
        "epochs": [asdict(stats) for stats in history.epochs],
        "environment": environment(device),
    }
    save_checkpoint(model, args.checkpoint, facts)
    print(f"Saved model to {args.checkpoint} (run details in {sidecar_path(args.checkpoint)})")
    fitting = time.perf_counter()
    detector = fit_detector(data.train.images, data.train.labels, device, seed=config.seed)
    save_detector(detector, args.checkpoint)
    print(f"Fitted the not-a-digit detector in {time.perf_counter() - fitting:.1f}s, saved to "
          f"{detector_path(args.checkpoint)}")
    write_report_for(args, data, history.final_evaluation, facts, history)
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
