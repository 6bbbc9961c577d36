import json

import numpy as np
import pytest
import torch
from PIL import Image

from mnist_cnn.cli.train import main
from mnist_cnn.fitting.convnet import Evaluation
from mnist_cnn.fitting.data import Split
from mnist_cnn.fitting.report import confusion_matrix, per_class, worst_mistakes, write_report


def _evaluation():
    labels = torch.tensor([0, 1, 2, 3, 3, 5])
    probabilities = torch.full((6, 10), 0.01)
    predicted = torch.tensor([0, 1, 7, 3, 8, 5])
    probabilities[torch.arange(6), predicted] = torch.tensor([0.9, 0.9, 0.6, 0.9, 0.95, 0.9])
    return Evaluation(probabilities, predicted, labels)


def test_confusion_counts_and_per_class_scores():
    confusion = confusion_matrix(_evaluation())
    assert confusion.sum() == 6 and np.trace(confusion) == 4
    assert confusion[2, 7] == 1 and confusion[3, 8] == 1
    scores = per_class(confusion)
    assert scores["3"] == {"precision": 1.0, "recall": 0.5, "support": 2}
    assert scores["8"]["precision"] == 0.0


def test_mistakes_most_confidently_wrong_first():
    assert worst_mistakes(_evaluation()).tolist() == [4, 2]


def test_report_files_from_an_evaluation(tmp_path):
    evaluation = _evaluation()
    split = Split(torch.zeros(6, 28, 28, dtype=torch.uint8), evaluation.labels)
    write_report(tmp_path, split, evaluation, {"device": "cpu"})
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["test_accuracy"] == pytest.approx(100 * 4 / 6)
    assert metrics["device"] == "cpu"
    for name in ("confusion.png", "mistakes.png"):
        with Image.open(tmp_path / name) as image:
            assert image.format == "PNG" and image.width >= 200 and image.height >= 100
    assert not (tmp_path / "curves.png").exists()


def test_training_writes_the_full_report(tiny_mnist, tmp_path, capsys):
    checkpoint = tmp_path / "model.ckpt"
    assert main(["--data-dir", str(tiny_mnist), "--no-download", "--checkpoint", str(checkpoint),
                 "--epochs", "2", "--batch-size", "64"]) == 0
    folder = tmp_path / "model-report"
    assert f"Report in {folder}/" in capsys.readouterr().out
    for name in ("curves.png", "confusion.png", "mistakes.png"):
        with Image.open(folder / name) as image:
            assert image.format == "PNG" and 200 <= image.width <= 2000
    metrics = json.loads((folder / "metrics.json").read_text())
    confusion = np.array(metrics["confusion_matrix"])
    assert confusion.sum() == metrics["test_images"] == 100
    assert 100 * np.trace(confusion) / confusion.sum() == pytest.approx(metrics["test_accuracy"])
    assert [epoch["epoch"] for epoch in metrics["epochs"]] == [1, 2]
    assert {"loss", "accuracy", "lr", "seconds"} <= {
        key.split("_")[-1] for key in metrics["epochs"][0]}
    assert metrics["environment"]["torch"] == torch.__version__
    assert metrics["arguments"]["epochs"] == 2


def test_eval_only_writes_confusion_and_mistakes(tiny_mnist, checkpoint, tmp_path):
    folder = tmp_path / "elsewhere"
    assert main(["--eval-only", "--checkpoint", str(checkpoint), "--data-dir", str(tiny_mnist),
                 "--no-download", "--report-dir", str(folder)]) == 0
    assert sorted(p.name for p in folder.iterdir()) == ["confusion.png", "metrics.json",
                                                       "mistakes.png"]


def test_no_report_writes_none(tiny_mnist, tmp_path):
    checkpoint = tmp_path / "model.ckpt"
    assert main(["--data-dir", str(tiny_mnist), "--no-download", "--checkpoint", str(checkpoint),
                 "--epochs", "1", "--no-report"]) == 0
    assert not (tmp_path / "model-report").exists()


def test_unwritable_report_folder_is_a_clear_error_after_saving(tiny_mnist, tmp_path, capsys):
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where the report folder should go")
    checkpoint = tmp_path / "model.ckpt"
    code = main(["--data-dir", str(tiny_mnist), "--no-download", "--checkpoint", str(checkpoint),
                 "--epochs", "1", "--report-dir", str(blocker / "report")])
    assert code == 1
    assert "cannot write the report" in capsys.readouterr().err
    assert checkpoint.exists()
