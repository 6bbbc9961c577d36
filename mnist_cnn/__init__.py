"""mnist-cnn: train the reference MNIST ConvNet fast and recognize people's own digit images."""

__version__ = "0.1.0"
