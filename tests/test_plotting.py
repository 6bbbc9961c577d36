import numpy as np
from PIL import Image

from mnist_cnn.plotting import image_grid, prediction_grid
from mnist_cnn.reading.results import DigitReading, Recognition, RejectedMark


def _results(count):
    rng = np.random.default_rng(0)
    results = []
    for index in range(count):
        confidence = 0.3 + 0.07 * (index % 10)
        digits = [DigitReading(digit=(index + k) % 10, confidence=confidence,
                               top_k=[((index + k) % 10, confidence)],
                               uncertain=confidence < 0.5, box=(2 + 9 * k, 4, 8, 30),
                               network_input=rng.random((28, 28)).astype(np.float32))
                  for k in range(1 + index % 3)]
        result = Recognition(f"img{index}.png", digits=digits,
                             lines=["".join(str(d.digit) for d in digits)])
        result.preview = rng.random((40, 30)).astype(np.float32)
        results.append(result)
    results.append(Recognition("broken.png", error="broken.png: truncated"))
    results.append(Recognition("blank.png", blank=True))
    results.append(Recognition("house.png", rejected=[RejectedMark((1, 1, 20, 20), 9, -8.0)],
                               preview=np.ones((30, 30), dtype=np.float32)))
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
