"""The small networks' fitting loop and the augmentation every network's batches get."""

import pytest
import torch

from mnist_cnn.fitting.loop import _low_resolution, augment, fit_network


def test_augment_keeps_shape_and_range_and_changes_images():
    torch.manual_seed(0)
    batch = torch.zeros(16, 1, 28, 28)
    batch[:, :, 6:22, 12:16] = 1.0
    out = augment(batch)
    assert out.shape == batch.shape
    assert out.min() >= 0 and out.max() <= 1 + 1e-6
    assert not torch.allclose(out, batch)


def test_low_resolution_copies_are_blurred_and_binarized_ones_full_strength():
    batch = torch.zeros(2, 1, 28, 28)
    batch[:, :, 4:24, 13:15] = 1.0  # a 2 px stroke: at 14x14 it is half of two pixels
    binarize = torch.tensor([True, False]).view(2, 1, 1, 1)
    out = _low_resolution(batch, binarize)
    assert out.shape == batch.shape and not torch.allclose(out, batch)
    assert out[0].max() == pytest.approx(1.0), "binarized: the stroke at full strength"
    assert 0.3 < out[1].max() < 0.7, "grey: the stroke averaged over a coarse pixel"
    assert (out[:, :, 4:24, 10:18].sum((1, 2, 3)) > out[:, :, 4:24, 13:15].sum((1, 2, 3))).all()


def test_the_fitting_loop_lowers_the_loss_and_returns_the_network_in_eval_mode():
    torch.manual_seed(0)
    inputs = torch.randn(256, 4)
    targets = (inputs[:, 0] > 0).float()
    network = torch.nn.Sequential(torch.nn.Linear(4, 1))

    def loss(batch):
        return torch.nn.functional.binary_cross_entropy_with_logits(
            network(inputs[batch]).squeeze(1), targets[batch])

    with torch.no_grad():
        before = float(loss(torch.arange(256)))
    fitted = fit_network(network, 256, loss, 60, torch.Generator().manual_seed(0), 32)
    assert fitted is network and not network.training
    with torch.no_grad():
        assert float(loss(torch.arange(256))) < 0.75 * before
