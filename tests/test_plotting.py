import numpy as np
from PIL import Image

from mnist_cnn.plotting import image_grid, prediction_grid
from mnist_cnn.recognition import Recognition


def _results(count):
    rng = np.random.default_rng(0)
    results = []
    for index in range(count):
        confidence = 0.3 + 0.07 * (index % 10)
        result = Recognition(f"img{index}.png", digit=index % 10, confidence=confidence,
                             top_k=[(index % 10, confidence)])
        result.uncertain = result.confidence < 0.5
        result.preview = rng.random((40, 30)).astype(np.float32)
        result.network_input = rng.random((28, 28)).astype(np.float32)
        results.append(result)
    results.append(Recognition("broken.png", error="broken.png: truncated"))
    results.append(Recognition("blank.png", blank=True))
    return results


def test_prediction_grid_is_saved_headless(tmp_path):
    path = tmp_path / "grid.png"
    prediction_grid(_results(12), path=path, with_inputs=True)
    with Image.open(path) as image:
        assert image.format == "PNG"
        assert image.width >= 500 and image.height >= 500


def test_image_grid_with_and_without_images(tmp_path):
    images = np.zeros((3, 28, 28), dtype=np.uint8)
    image_grid(images, ["a", "b", "c"], tmp_path / "some.png")
    image_grid(images[:0], [], tmp_path / "none.png")
    for name in ("some.png", "none.png"):
        with Image.open(tmp_path / name) as image:
            assert image.format == "PNG" and image.width > 50
