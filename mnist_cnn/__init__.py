"""mnist-cnn: train the reference MNIST ConvNet fast and read the digits in people's pictures.

From Python (see README, "From Python")::

    import mnist_cnn

    reader = mnist_cnn.Recognizer.load("model.ckpt")
    print(reader.read("digit.png"))      # digit.png: 7 (99.1%)
    run = mnist_cnn.train(epochs=1)      # run.accuracy, run.checkpoint, ...
"""

from mnist_cnn.recognition import Recognizer
from mnist_cnn.results import DigitReading, Recognition, RejectedMark
from mnist_cnn.trainer import TrainingRun, train

__version__ = "0.1.0"
__all__ = ["DigitReading", "Recognition", "Recognizer", "RejectedMark", "TrainingRun",
           "__version__", "train"]
