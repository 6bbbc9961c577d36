"""The training report: how the model learned and where it fails, as pictures and JSON.

``curves.png``, ``confusion.png``, ``mistakes.png`` and ``metrics.json`` in one folder.
"""

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from mnist_cnn.errors import MnistCnnError
from mnist_cnn.fitting.convnet import Evaluation, History
from mnist_cnn.fitting.data import Split

MAX_MISTAKES = 64


def report_dir_for(checkpoint: Path) -> Path:
    """``model.ckpt`` -> ``model-report/`` beside it."""
    return Path(checkpoint).with_name(Path(checkpoint).stem + "-report")


def confusion_matrix(evaluation: Evaluation, classes: int = 10) -> np.ndarray:
    """Rows: true digit; columns: predicted digit; cells: image counts."""
    index = evaluation.labels * classes + evaluation.predictions
    return torch.bincount(index, minlength=classes * classes).reshape(classes, classes).numpy()


def per_class(confusion: np.ndarray) -> dict[str, dict[str, float]]:
    correct = np.diag(confusion).astype(float)
    predicted, actual = confusion.sum(0), confusion.sum(1)
    return {
        str(digit): {
            "precision": float(correct[digit] / predicted[digit]) if predicted[digit] else 0.0,
            "recall": float(correct[digit] / actual[digit]) if actual[digit] else 0.0,
            "support": int(actual[digit]),
        }
        for digit in range(len(confusion))
    }


def worst_mistakes(evaluation: Evaluation, limit: int = MAX_MISTAKES) -> np.ndarray:
    """Indices of misclassified images, the most confidently wrong first."""
    wrong = torch.nonzero(evaluation.predictions != evaluation.labels).flatten()
    confidence = evaluation.probabilities[wrong, evaluation.predictions[wrong]]
    return wrong[confidence.argsort(descending=True)][:limit].numpy()


def write_report(folder: Path, test: Split, evaluation: Evaluation, facts: Mapping[str, Any],
                 history: History | None = None) -> Path:
    """Write the pictures and ``metrics.json`` (``facts`` plus test metrics).

    ``history`` adds the training curves. Raises ``MnistCnnError`` if the folder is unwritable.
    """
    from mnist_cnn.plotting import confusion_figure, curves_figure, image_grid

    folder = Path(folder)
    confusion = confusion_matrix(evaluation)
    metrics = {
        **facts,
        "test_accuracy": evaluation.accuracy,
        "test_images": len(evaluation.labels),
        "confusion_matrix": confusion.tolist(),
        "per_class": per_class(confusion),
    }
    mistakes = worst_mistakes(evaluation)
    titles = [
        f"{int(evaluation.labels[i])}→{int(evaluation.predictions[i])} "
        f"({100 * float(evaluation.probabilities[i, evaluation.predictions[i]]):.0f}%)"
        for i in mistakes
    ]
    try:
        folder.mkdir(parents=True, exist_ok=True)
        if history is not None:
            curves_figure(history, folder / "curves.png")
        confusion_figure(confusion, folder / "confusion.png")
        image_grid(test.images.cpu()[mistakes].numpy(), titles, folder / "mistakes.png")
        (folder / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
    except OSError as error:
        raise MnistCnnError(f"{folder}: cannot write the report ({error.strerror or error})"
                            ) from error
    return folder
