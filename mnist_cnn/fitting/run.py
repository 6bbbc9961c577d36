"""``mnist_cnn.train()``: train the ConvNet on MNIST, evaluate it, write ``model.ckpt``, the
run's facts beside it (``model.json``) and a report; ``mnist-train`` (``mnist_cnn.cli.train``)
is the same code path from the shell.
"""

import json
import math
import platform
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch

from mnist_cnn.device import select_device
from mnist_cnn.errors import CheckpointError, UsageError
from mnist_cnn.fitting.convnet import (
    PRECISIONS,
    EpochStats,
    Evaluation,
    History,
    StepEvent,
    TrainConfig,
    fit_convnet,
    resolve_precision,
)
from mnist_cnn.fitting.data import Mnist, Split, load_mnist
from mnist_cnn.fitting.handwriting import real_digits
from mnist_cnn.fitting.report import report_dir_for, write_report
from mnist_cnn.networks import registry
from mnist_cnn.networks.convnet import ConvNet
from mnist_cnn.networks.store import atomic_write, ensure_writable_dir
from mnist_cnn.reading.pipeline import Options
from mnist_cnn.reading.recognizer import Recognizer

DEFAULTS = TrainConfig()
PRECISION_NAMES = {"bf16": "bfloat16 autocast", "fp32": "float32"}
MIN_HARD_SHARE = 0.01


def facts_path(checkpoint: Path) -> Path:
    """``model.ckpt`` -> ``model.json``: the facts of the run that wrote it."""
    return Path(checkpoint).with_suffix(".json")


def save_checkpoint(model: torch.nn.Module, path: Path, facts: Mapping[str, Any]) -> None:
    """Atomically write the weights (``registry.save``), then the run's facts; refuse
    weights that are not finite (``CheckpointError``; the previous files are unchanged)."""
    registry.save(registry.MODEL, model, path)
    text = json.dumps(facts, indent=2, sort_keys=True) + "\n"
    try:
        atomic_write(facts_path(path), lambda file: file.write(text.encode()))
    except OSError as error:
        raise CheckpointError(
            f"{path}: could not save ({error.strerror or error}); the previous file is unchanged"
        ) from error


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


def arguments(values: dict[str, Any]) -> dict[str, Any]:
    """Settings as JSON can hold them, for the sidecar and the report."""
    return {name: value if isinstance(value, bool | int | float | None) else str(value)
            for name, value in values.items()}


def with_real_digits(data: Mnist, unipen: Path, seed: int, log: Callable[..., None]) -> Mnist:
    """MNIST with the real digits of UNIPEN's fit side added to its training images, read by
    the shipped ConvNet's recognizer where a picture's polarity is in doubt."""
    started = time.perf_counter()
    cpu = torch.device("cpu")
    reader = Recognizer(registry.load(registry.MODEL, registry.MODEL.shipped, cpu), cpu,
                        options=Options(one_digit=True))
    real = real_digits(unipen, reader, seed)
    log(f"Added {len(real)} real digits from UNIPEN's fit writers in {unipen} "
        f"({time.perf_counter() - started:.0f}s)", flush=True)
    train = Split(torch.cat([data.train.images, real.images]),
                  torch.cat([data.train.labels, real.labels]))
    return Mnist(train, data.test)


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
          unipen: Path | str | None = None, checkpoint: Path | str = "model.ckpt",
          device: str | torch.device = "auto",
          report: bool = True, report_dir: Path | str | None = None,
          verbose: bool = True) -> TrainingRun:
    """Train as ``mnist-train`` does, with its defaults (the keywords are its flags;
    ``download=False``: ``--no-download``, ``report=False``: ``--no-report``), and write the
    same files: the checkpoint, its sidecar ``.json`` and the report. ``unipen``: a UNIPEN
    folder (``--unipen``) whose fit side's real digits join MNIST's training images
    (``handwriting.real_digits``); the test set stays MNIST's.

    Prints ``mnist-train``'s progress lines on stdout unless ``verbose`` is false. Raises the
    project's errors (``mnist_cnn.errors``): ``UsageError`` for a setting out of range or a
    device that is not here, ``DataError`` for MNIST files that are missing or broken,
    ``TrainingDiverged`` when the loss became NaN (nothing is saved), ``MnistCnnError`` for a
    folder that cannot be written. ``DataError`` covers a missing or broken UNIPEN folder too.
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
    data = load_mnist(Path(data_dir), download=download)
    if unipen is not None:
        data = with_real_digits(data, Path(unipen), config.seed, log)
    data = data.to(device)
    used = resolve_precision(config.precision, device)
    later = (f", then the hardest {config.hard_share:.0%}" if config.hard_share < 1
             and config.epochs > 1 else "")
    log(f"Training on {device} ({PRECISION_NAMES[used]}) with {len(data.train)} images"
        f"{later}: {config.epochs} epochs, batch {config.batch_size}, peak lr {config.lr}",
        flush=True)
    torch.manual_seed(config.seed)
    model = ConvNet().to(device)
    printer = ProgressPrinter(config.epochs, show_bar=sys.stderr.isatty()) if verbose else None
    history = fit_convnet(model, data, config, on_step=printer.step if printer else None,
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
    log(f"Saved model to {checkpoint} (run details in {facts_path(checkpoint)})")
    folder = None
    if report:
        folder = _write_report(Path(report_dir) if report_dir else report_dir_for(checkpoint),
                               data, history.final_evaluation, facts, history, log)
    return TrainingRun(accuracy, checkpoint, facts_path(checkpoint), folder, history)


