"""The pair reader: two touching or overlapping digits read whole.

Where two digits touch or overlap, no cut parts them cleanly, and each side of any cut reads as
something else. The pair reader reads the run of ink whole (``mnist_cnn.reading.inputs.
pair_input``) as one of the 100 pairs "00" to "99", as one digit alone (``ONE_DIGIT``), as
three or more (``MORE``), or as no digits at all (``NOT_DIGITS``: a doodle is not two digits).
``mnist_cnn.fitting.pairs`` fits it.
"""

import torch
from torch import nn

from mnist_cnn.networks.blocks import conv_block

HEIGHT, WIDTH = 28, 56
"""The pair reader's input field."""
ONE_DIGIT, MORE, NOT_DIGITS = 100, 101, 102
"""The classes of a run that is one digit alone, three digits or more, and marks that are no
digits (letters, signs, doodles, alone or two side by side)."""


class PairReader(nn.Module):
    """Input ``(N, 1, 28, 56)``; output ``(N, 103)`` logits of the pairs "00" to "99",
    ``ONE_DIGIT``, ``MORE`` and ``NOT_DIGITS``."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(*conv_block(1, 24, 3), *conv_block(24, 48, 3),
                                      *conv_block(48, 64, 3))
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(64 * 3 * 7, 160), nn.ReLU(),
                                  nn.Linear(160, NOT_DIGITS + 1))

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(inputs))
