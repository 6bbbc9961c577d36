"""mnist-cnn: train the reference MNIST ConvNet fast and read the digits in people's pictures.

From Python (see README, "From Python")::

    import mnist_cnn

    reader = mnist_cnn.Recognizer.load("model.ckpt")
    print(reader.read("digit.png"))      # digit.png: 7 (99.1%)
    run = mnist_cnn.train(epochs=1)      # run.accuracy, run.checkpoint, ...

``train`` and ``TrainingRun`` are loaded on first use: reading imports nothing of fitting.
"""

from typing import Any

from mnist_cnn.reading.recognizer import Recognizer
from mnist_cnn.reading.results import DigitReading, Recognition, RejectedMark

__version__ = "0.1.0"
__all__ = ["DigitReading", "Recognition", "Recognizer", "RejectedMark", "TrainingRun",
           "__version__", "train"]
FITTING = ("train", "TrainingRun")


def __getattr__(name: str) -> Any:
    if name in FITTING:
        from mnist_cnn.fitting import run

        return getattr(run, name)
    raise AttributeError(f"module 'mnist_cnn' has no attribute {name!r}")
