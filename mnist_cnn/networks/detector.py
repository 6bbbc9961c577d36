"""The not-a-digit detector: a digit score, in log-odds, for each 28x28 input.

The ConvNet's softmax always names a digit, often confidently; trained with outliers it read
digits less well, so it stays the reference's and this small network judges whether an input
is a digit at all (``mnist_cnn.fitting.detector`` fits it).
"""

import torch
from torch import nn

from mnist_cnn.networks.blocks import conv_block


class DigitDetector(nn.Module):
    """Input ``(N, 1, 28, 28)`` like the ConvNet's; output ``(N,)`` log-odds that each is a
    digit at all. ``threshold``: below it an input is not a digit. Three blocks (16, 32, 64
    channels) and a 64-unit layer: about 0.1 ms a mark on one CPU thread, as reading runs it
    (``blocks.for_inference``)."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(*conv_block(1, 16, 5), *conv_block(16, 32, 5),
                                      *conv_block(32, 64, 3))
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(64 * 3 * 3, 64), nn.ReLU(),
                                  nn.Linear(64, 1))
        self.register_buffer("threshold", torch.zeros(()))

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(inputs)).squeeze(1)
