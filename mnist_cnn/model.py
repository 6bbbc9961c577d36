"""The reference ConvNet: two conv-BN-ReLU-pool blocks and one linear layer.

Keeping the module names (``layer1``, ``layer2``, ``fc``) and shapes exactly as in the reference
script keeps ``model.ckpt`` interchangeable with it in both directions.
"""

import copy

import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

NUM_CLASSES = 10


def _conv_block(in_channels: int, out_channels: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size=5, stride=1, padding=2),
        nn.BatchNorm2d(out_channels),
        nn.ReLU(),
        nn.MaxPool2d(kernel_size=2, stride=2),
    )


class ConvNet(nn.Module):
    """Input: ``(N, 1, 28, 28)`` floats in [0, 1], white digit on black. Output: class logits."""

    def __init__(self, num_classes: int = NUM_CLASSES) -> None:
        super().__init__()
        self.layer1 = _conv_block(1, 6)
        self.layer2 = _conv_block(6, 16)
        self.fc = nn.Linear(7 * 7 * 16, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.layer2(self.layer1(x))
        return self.fc(out.flatten(1))


def for_inference(network: nn.Module) -> nn.Module:
    """A copy of ``network`` (in eval mode) that computes the same function faster: each
    convolution-BatchNorm-ReLU-max-pool run becomes the convolution with the BatchNorm folded
    into its weights, then the pooling, then the ReLU (max-pooling and ReLU commute, and the
    ReLU then sees a quarter of the values). Reading runs this; checkpoints keep the
    original's state_dict."""
    network = copy.deepcopy(network).eval()
    for sequence in [module for module in network.modules() if isinstance(module, nn.Sequential)]:
        layers = list(sequence)
        for start in range(len(layers) - 3):
            conv, norm, relu, pool = layers[start:start + 4]
            if (isinstance(conv, nn.Conv2d) and isinstance(norm, nn.BatchNorm2d)
                    and isinstance(relu, nn.ReLU) and isinstance(pool, nn.MaxPool2d)):
                layers[start:start + 4] = [fuse_conv_bn_eval(conv, norm), pool, relu,
                                           nn.Identity()]
        for index, layer in enumerate(layers):
            sequence[index] = layer
    return network
