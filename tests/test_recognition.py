import numpy as np
import pytest
import torch
from PIL import Image

from mnist_cnn.checkpoint import load_model
from mnist_cnn.errors import UsageError
from mnist_cnn.recognition import expand_inputs, recognize

from test_preprocess import draw_one


@pytest.fixture
def images(tmp_path):
    folder = tmp_path / "imgs"
    folder.mkdir()
    for index in range(3):
        draw_one().save(folder / f"d{index}.png")
    (folder / "notes.txt").write_text("not an image")
    return folder


def test_expand_files_folders_and_globs(images):
    assert [p.name for p in expand_inputs([str(images)])] == ["d0.png", "d1.png", "d2.png"]
    assert [p.name for p in expand_inputs([str(images / "d*.png")])] == [
        "d0.png", "d1.png", "d2.png"]
    assert [p.name for p in expand_inputs([str(images / "d1.png"), str(images / "nope.png")])] \
        == ["d1.png", "nope.png"]


def test_nothing_matched_is_a_usage_error(images):
    with pytest.raises(UsageError, match="no image files matched"):
        expand_inputs([str(images / "*.jpeg")])


@pytest.mark.parametrize("workers", [1, 2])
def test_bad_files_do_not_stop_the_others(images, checkpoint, workers, monkeypatch):
    monkeypatch.setattr("mnist_cnn.recognition.PARALLEL_FROM", 2)
    (images / "broken.png").write_bytes(b"\x89PNG broken")
    Image.new("L", (40, 40), 255).save(images / "blank.png")
    paths = sorted(images.glob("*.png"))
    model = load_model(checkpoint, torch.device("cpu"))
    results = list(recognize(paths, model, torch.device("cpu"), top_k=3, workers=workers,
                             batch_size=2))
    assert [r.path for r in results] == [str(p) for p in paths]
    by_name = {r.path.rsplit("/", 1)[-1]: r for r in results}
    assert by_name["broken.png"].error and by_name["broken.png"].digit is None
    assert by_name["blank.png"].blank and by_name["blank.png"].digit is None
    for name in ("d0.png", "d1.png", "d2.png"):
        result = by_name[name]
        assert result.digit in range(10) and len(result.top_k) == 3
        assert result.top_k[0] == (result.digit, result.confidence)
        assert sum(p for _, p in result.top_k) <= 1 + 1e-6
        assert result.uncertain == (result.confidence < 0.5)


def test_images_are_kept_only_for_the_first_ones(images, checkpoint):
    model = load_model(checkpoint, torch.device("cpu"))
    results = list(recognize(sorted(images.glob("*.png")), model, torch.device("cpu"),
                             keep_images=2))
    assert [r.preview is not None for r in results] == [True, True, False]
    assert results[0].network_input.shape == (28, 28)
    assert isinstance(results[0].preview, np.ndarray)


def test_a_folder_that_cannot_be_listed_is_a_usage_error(images, monkeypatch):
    def denied(self):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(type(images), "iterdir", denied)
    with pytest.raises(UsageError, match="cannot list the folder"):
        expand_inputs([str(images)])
