"""The segment verifier: is a candidate of a line exactly one whole digit?

The ConvNet reads a piece of a digit, or two digits run together, as some digit, often
confidently. The verifier sees what the ConvNet does not: the candidate in its surroundings
and its geometry in the line (``mnist_cnn.reading.inputs.context`` and ``geometry``), and
says how likely it is each of ``CLASSES``: one whole digit, a piece of one, two digits, three
or more, a stroke joining two digits, or no digit (an underline, a rule, a page's edge, a
speck). ``mnist_cnn.fitting.verifier`` fits it.
"""

import torch
from torch import nn

from mnist_cnn.networks.blocks import conv_block

CLASSES = ("one", "piece", "two", "more", "joining", "none")
ONE, PIECE, TWO, MORE, JOINED, NONE = range(len(CLASSES))
CONTEXT = 32
"""The context's side in pixels."""
GEOMETRY = 8
"""Numbers describing a candidate's place in its line."""


class SegmentVerifier(nn.Module):
    """Input: contexts ``(N, 2, 32, 32)`` and geometry ``(N, 8)``; output ``(N, 6)`` logits of
    ``CLASSES``."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(*conv_block(2, 16, 5), *conv_block(16, 32, 3),
                                      *conv_block(32, 64, 3))
        self.head = nn.Sequential(nn.Linear(64 * 4 * 4 + GEOMETRY, 96), nn.ReLU(),
                                  nn.Linear(96, len(CLASSES)))

    def forward(self, contexts: torch.Tensor, shapes: torch.Tensor) -> torch.Tensor:
        return self.head(torch.cat([self.features(contexts).flatten(1), shapes], 1))
