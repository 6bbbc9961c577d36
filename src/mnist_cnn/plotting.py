"""Pictures: the grid of recognized images, and the training report's figures.

matplotlib is imported only inside these functions, so commands that draw nothing start fast.
"""

import math
import os
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from mnist_cnn.recognition import Recognition

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


def _title(result: Recognition) -> tuple[str, str]:
    if result.error:
        return "unreadable", "red"
    if result.blank:
        return "no digit", "gray"
    text = f"predict: {result.digit} ({100 * result.confidence:.0f}%)"
    return (text + "?", "orange") if result.uncertain else (text, "blue")


def prediction_grid(results: Sequence[Recognition], path: Path | None = None, show: bool = False,
                    with_inputs: bool = False) -> None:
    """Draw each image titled with its prediction (and its 28x28 network input below it).

    Saves to ``path`` when given; opens a window when ``show``.
    """
    plt = _pyplot(interactive=show)
    columns = min(GRID_COLUMNS, len(results)) or 1
    rows_per_result = 2 if with_inputs else 1
    rows = math.ceil(len(results) / columns) * rows_per_result
    figure, axes = plt.subplots(rows, columns, figsize=(2.2 * columns, 2.4 * rows), squeeze=False)
    for axis in axes.flat:
        axis.axis("off")
    for index, result in enumerate(results):
        row, column = divmod(index, columns)
        axis = axes[row * rows_per_result, column]
        if result.preview is not None:
            axis.imshow(result.preview, cmap="gray", vmin=0, vmax=1)
        title, colour = _title(result)
        axis.set_title(f"{Path(result.path).name}\n{title}", color=colour, fontsize=8)
        if with_inputs and result.network_input is not None:
            below = axes[row * rows_per_result + 1, column]
            below.imshow(result.network_input, cmap="gray", vmin=0, vmax=1)
            below.set_title("network input", fontsize=7)
    figure.tight_layout()
    if path is not None:
        figure.savefig(path, dpi=100)
    if show:
        plt.show()
    plt.close(figure)


def image_grid(images: np.ndarray, titles: Sequence[str], path: Path, columns: int = 8) -> None:
    """Small images (white on black) in a grid, each with a title; saved to ``path``."""
    plt = _pyplot(interactive=False)
    count = max(len(images), 1)
    columns = min(columns, count)
    rows = math.ceil(count / columns)
    figure, axes = plt.subplots(rows, columns, figsize=(1.3 * columns, 1.5 * rows), squeeze=False)
    for axis in axes.flat:
        axis.axis("off")
    for axis, image, title in zip(axes.flat, images, titles, strict=False):
        axis.imshow(image, cmap="gray", vmin=0, vmax=255 if image.dtype == np.uint8 else 1)
        axis.set_title(title, fontsize=8)
    if not len(images):
        axes[0, 0].text(0.5, 0.5, "no mistakes", ha="center", va="center")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
