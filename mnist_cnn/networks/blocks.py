"""The block every network here is built of, and the faster copy of a network that reading runs.

A block is a convolution, BatchNorm, ReLU and 2x2 max-pooling: the reference ConvNet's two
blocks, the detector's, the verifier's and the pair reader's three.
"""

import copy

import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

MEMORY_FORMAT = torch.channels_last
"""Reading runs the networks in channels-last layout: oneDNN's convolutions and max-pooling are
faster so on the CPU (15-25 % a batch), and the results are the same to float rounding."""


def conv_block(inputs: int, outputs: int, kernel: int) -> list[nn.Module]:
    """Convolution (``kernel`` square, padded to keep the size), BatchNorm, ReLU, 2x2 max-pool:
    a list, so that a network lays its blocks out in one ``nn.Sequential`` or one each."""
    return [nn.Conv2d(inputs, outputs, kernel, padding=kernel // 2), nn.BatchNorm2d(outputs),
            nn.ReLU(), nn.MaxPool2d(2)]


def for_inference(network: nn.Module) -> nn.Module:
    """A copy of ``network`` (in eval mode) that computes the same function faster: each
    convolution-BatchNorm-ReLU-max-pool run becomes the convolution with the BatchNorm folded
    into its weights, then the pooling, then the ReLU (max-pooling and ReLU commute, and the
    ReLU then sees a quarter of the values), in channels-last layout. Reading runs this;
    checkpoints keep the original's state_dict."""
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
    return network.to(memory_format=MEMORY_FORMAT)
