"""The reference ConvNet: two convolution blocks and one linear layer.

Keeping the module names (``layer1``, ``layer2``, ``fc``) and shapes exactly as in the reference
script keeps ``model.ckpt`` interchangeable with it in both directions.
"""

import torch
from torch import nn

from mnist_cnn.networks.blocks import conv_block

NUM_CLASSES = 10


class ConvNet(nn.Module):
    """Input: ``(N, 1, 28, 28)`` floats in [0, 1], white digit on black. Output: class logits."""

    def __init__(self, num_classes: int = NUM_CLASSES) -> None:
        super().__init__()
        self.layer1 = nn.Sequential(*conv_block(1, 6, 5))
        self.layer2 = nn.Sequential(*conv_block(6, 16, 5))
        self.fc = nn.Linear(7 * 7 * 16, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.layer2(self.layer1(x))
        return self.fc(out.flatten(1))
