"""Pictures: a grid of recognized images, and the training report's figures.

matplotlib is imported only inside these functions, so commands that draw nothing start fast.
"""

import math
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from mnist_cnn.errors import MnistCnnError
from mnist_cnn.reading.results import CELL_SIZE, Recognition, draw_result

if TYPE_CHECKING:  # reading draws grids without importing anything of fitting
    from mnist_cnn.fitting.convnet import History

GRID_COLUMNS = 5


def display_available() -> bool:
    """Whether ``plt.show()`` can open a window here (headless Linux and CI cannot)."""
    if sys.platform.startswith("linux"):
        return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    return True


def _pyplot(interactive: bool):
    import matplotlib

    if not interactive:
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def prediction_grid(results: Sequence[Recognition], path: Path | None = None, show: bool = False,
                    with_inputs: bool = False) -> None:
    """Draw each image with a box around every digit found, titled with what was read (and the
    digits' 28x28 network inputs below it).

    Saves to ``path`` when given; opens a window when ``show``.
    """
    plt = _pyplot(interactive=show)
    columns = min(GRID_COLUMNS, len(results)) or 1
    rows_per_result = 2 if with_inputs else 1
    rows = math.ceil(len(results) / columns) * rows_per_result
    width, height = CELL_SIZE
    figure, axes = plt.subplots(rows, columns, figsize=(width * columns, height * rows),
                                squeeze=False)
    for axis in axes.flat:
        axis.axis("off")
    for index, result in enumerate(results):
        row, column = divmod(index, columns)
        below = axes[row * rows_per_result + 1, column] if with_inputs else None
        draw_result(axes[row * rows_per_result, column], result, below)
    figure.tight_layout()
    try:
        if path is not None:
            _save_grid(figure, path)
        if show:
            plt.show()
    finally:
        plt.close(figure)


def _save_grid(figure, path: Path) -> None:
    try:
        figure.savefig(path, dpi=100)
    except (OSError, ValueError) as error:  # an unwritable folder, or an unknown image format
        raise MnistCnnError(f"{path}: cannot save the grid ({error})") from error


def _figure(width: float, height: float):
    """A figure without pyplot: no GUI backend, no global state, cheaper to import."""
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height))


def image_grid(images: np.ndarray, titles: Sequence[str], path: Path, columns: int = 8) -> None:
    """Small images (white on black) tiled into one picture, each with a title; saved to ``path``.

    One mosaic with text labels draws in a fraction of the time of one axes per image.
    """
    count = len(images)
    columns = max(1, min(columns, count))
    rows = max(1, math.ceil(count / columns))
    height, width = images.shape[1:] if count else (28, 28)
    gap_top, gap_side = 12, 4
    cell_height, cell_width = height + gap_top, width + gap_side
    mosaic = np.full((rows * cell_height, columns * cell_width), np.nan, dtype=np.float32)
    scale = 255.0 if images.dtype == np.uint8 else 1.0
    figure = _figure(1.3 * max(columns, 4), 1.5 * rows)
    axis = figure.add_axes((0, 0, 1, 1))
    axis.axis("off")
    for index, (image, title) in enumerate(zip(images, titles, strict=True)):
        row, column = divmod(index, columns)
        top, left = row * cell_height + gap_top, column * cell_width + gap_side // 2
        mosaic[top:top + height, left:left + width] = image / scale
        axis.text(left + width / 2, top - 2, title, ha="center", va="bottom", fontsize=8)
    axis.imshow(mosaic, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    if not count:
        axis.text(width / 2, cell_height / 2, "no mistakes", ha="center", va="center")
    figure.savefig(path, dpi=80, facecolor="white")


def _smooth(values: Sequence[float], weight: float = 0.9) -> list[float]:
    smoothed, level = [], values[0] if len(values) else 0.0
    for value in values:
        level = weight * level + (1 - weight) * value
        smoothed.append(level)
    return smoothed


def curves_figure(history: "History", path: Path) -> None:
    """Loss per step (raw and smoothed) and per epoch, learning rate, and test accuracy."""
    figure = _figure(10, 3.8)
    loss_axis, accuracy_axis = figure.subplots(1, 2)
    steps = np.arange(1, len(history.step_losses) + 1)
    steps_per_epoch = len(steps) / max(len(history.epochs), 1)
    loss_axis.plot(steps, history.step_losses, color="tab:blue", alpha=0.25, lw=0.8,
                   label="loss per step")
    loss_axis.plot(steps, _smooth(history.step_losses), color="tab:blue", label="smoothed")
    loss_axis.plot([s.epoch * steps_per_epoch for s in history.epochs],
                   [s.train_loss for s in history.epochs], "o-", color="tab:red",
                   label="mean per epoch")
    loss_axis.set(xlabel="step", ylabel="training loss", yscale="log", title="Training loss")
    lr_axis = loss_axis.twinx()
    lr_axis.plot(steps, history.step_lrs, color="tab:green", ls="--", lw=1)
    lr_axis.set_ylabel("learning rate", color="tab:green")
    loss_axis.legend(loc="upper right", fontsize=8)
    epochs = [s.epoch for s in history.epochs]
    accuracy_axis.plot(epochs, [s.test_accuracy for s in history.epochs], "o-")
    for stats in history.epochs:
        accuracy_axis.annotate(f"{stats.test_accuracy:.2f}", (stats.epoch, stats.test_accuracy),
                               textcoords="offset points", xytext=(0, 6), ha="center", fontsize=8)
    accuracy_axis.set(xlabel="epoch", ylabel="test accuracy (%)", xticks=epochs,
                      xlim=(0.6, len(epochs) + 0.4), title="Test accuracy after each epoch")
    accuracy_axis.margins(y=0.15)
    figure.subplots_adjust(left=0.07, right=0.97, bottom=0.13, top=0.92, wspace=0.45)
    figure.savefig(path, dpi=80)


def confusion_figure(confusion: np.ndarray, path: Path) -> None:
    """The confusion matrix with counts in the cells and a colour scale (log, so errors show)."""
    from matplotlib.colors import LogNorm

    figure = _figure(6, 5)
    axis = figure.subplots()
    shown = axis.imshow(confusion + 1, cmap="Blues", norm=LogNorm())
    figure.colorbar(shown, ax=axis, label="images + 1 (log scale)")
    threshold = np.sqrt(confusion.max() + 1)
    for (row, column), count in np.ndenumerate(confusion):
        if count:
            axis.text(column, row, str(count), ha="center", va="center", fontsize=7,
                      color="white" if count + 1 > threshold else "black")
    classes = range(len(confusion))
    axis.set(xticks=classes, yticks=classes, xlabel="predicted digit", ylabel="true digit",
             title=f"Confusion matrix ({confusion.sum()} test images)")
    figure.subplots_adjust(left=0.1, right=0.98, bottom=0.1, top=0.93)
    figure.savefig(path, dpi=80)
