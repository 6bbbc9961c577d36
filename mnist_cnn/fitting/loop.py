"""The fitting loop of the small networks beside the ConvNet, and the augmentation every
network's training batches get.

Nothing here knows which network it fits: ``fit_network`` takes a batch's loss, ``augment`` a
batch of 28x28 digits.
"""

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F


def _low_resolution(batch: torch.Tensor, binarize: torch.Tensor) -> torch.Tensor:
    """The digits as a 14x14 scan shows them, grey or binarized (``binarize``: per image),
    brought back to 28x28: blocky strokes, lost detail."""
    low = F.interpolate(batch, size=(14, 14), mode="area")
    low = torch.where(binarize, (low > 0.35).float(), low)
    return F.interpolate(low, size=batch.shape[2:], mode="bilinear", align_corners=False)


def fit_network(network: torch.nn.Module, count: int,
                batch_loss: Callable[[torch.Tensor], torch.Tensor], epochs: int,
                generator: torch.Generator, batch_size: int = 256) -> torch.nn.Module:
    """Fit one of the small networks beside the ConvNet (the not-a-digit detector, the segment
    verifier, the pair reader): Adam and a one-cycle schedule over ``epochs`` passes of
    ``count`` examples in batches shuffled by ``generator``; ``batch_loss(indices)`` is a
    batch's loss. Returns ``network`` in eval mode."""
    optimizer = torch.optim.Adam(network.parameters(), lr=2e-3)
    steps = epochs * max(1, math.ceil(count / batch_size))
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, 3e-3, total_steps=steps)
    network.train()
    for _ in range(epochs):
        for batch in torch.randperm(count, generator=generator).split(batch_size):
            loss = batch_loss(batch)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
    return network.eval()


def augment(batch: torch.Tensor) -> torch.Tensor:
    """Random small affine warps, then for some images a thicker or thinner pen or a
    low-resolution scan's blockiness; a quarter of the batch stays as it is. On the device,
    per image.

    Real handwriting differs from MNIST mostly in slant, size, position and pen width, and
    scans in resolution.
    """
    count, device = batch.shape[0], batch.device

    def uniform(low: float, high: float) -> torch.Tensor:
        return torch.rand(count, device=device) * (high - low) + low

    angle = uniform(-0.2, 0.2)
    shear = uniform(-0.25, 0.25)
    scale = uniform(0.85, 1.15)
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack([
        torch.stack([cos, -sin + shear * cos, uniform(-0.12, 0.12)], dim=1),
        torch.stack([sin, cos + shear * sin, uniform(-0.12, 0.12)], dim=1),
    ], dim=1)
    grid = F.affine_grid(theta, list(batch.shape), align_corners=False)
    warped = F.grid_sample(batch, grid, align_corners=False, padding_mode="zeros")
    binarize = torch.rand(count, device=device) < 0.5
    choice = torch.randint(0, 8, (count,), device=device)
    # Each image's own change, computed for the images that get it only.
    thicker, thinner, blocky, plain = choice == 0, choice == 1, choice == 2, choice >= 6
    warped[thicker] = F.max_pool2d(warped[thicker], 3, stride=1, padding=1)
    warped[thinner] = -F.max_pool2d(-warped[thinner], 3, stride=1, padding=1)
    warped[blocky] = _low_resolution(warped[blocky], binarize[blocky, None, None, None])
    warped[plain] = batch[plain]
    return warped
