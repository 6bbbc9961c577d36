"""The not-a-digit detector: a digit score, in log-odds, for each 28x28 input.

The ConvNet's softmax always names a digit, often confidently; trained with outliers it read
digits less well, so it stays the reference's and this small network judges whether an input
is a digit at all (``mnist_cnn.fitting.detector`` fits it).
"""

import torch
from torch import nn

from mnist_cnn.networks.blocks import conv_block

FORMS = ("drawn", "filled", "small", "small binary")
"""The forms of picture the detector has a threshold of its own for, as a picture shows them
(``reading.pipeline.form_of``): a drawing or photo; ink that fills its field (a digit cropped
close or stretched to it); a picture of few pixels (a scan read at its native 16x16, an 8x8
reduction); the same in black and white. A form of fewer pixels says less, so its digits
score lower, and one threshold for all was pinned by the blockiest scans."""
DRAWN, FILLED, SMALL, SMALL_BINARY = range(len(FORMS))
WHOLE_WEIGHTS = 5
"""The weights that judge a searched picture as a whole, from four of its features
(``reading.scoring.WHOLE_FEATURES``) and a bias; all zero: every picture whose marks pass
reads as digits."""


class DigitDetector(nn.Module):
    """Input ``(N, 1, 28, 28)`` like the ConvNet's; output ``(N,)`` log-odds that each is a
    digit at all. ``thresholds``: below its form's (``FORMS``) an input is not a digit;
    ``whole``: how a picture searched for digits is judged as a whole. Three
    blocks (16, 32, 64 channels) and a 64-unit layer: about 0.1 ms a mark on one CPU thread,
    as reading runs it (``blocks.for_inference``)."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(*conv_block(1, 16, 5), *conv_block(16, 32, 5),
                                      *conv_block(32, 64, 3))
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(64 * 3 * 3, 64), nn.ReLU(),
                                  nn.Linear(64, 1))
        self.register_buffer("thresholds", torch.zeros(len(FORMS)))
        self.register_buffer("whole", torch.zeros(WHOLE_WEIGHTS))

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(inputs)).squeeze(1)
