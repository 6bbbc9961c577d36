import pytest
import torch

from mnist_cnn.data import load_mnist
from mnist_cnn.errors import TrainingDiverged
from mnist_cnn.model import ConvNet
from mnist_cnn.training import TrainConfig, augment, evaluate, train


def _train(data, **overrides):
    torch.manual_seed(123)
    model = ConvNet()
    config = TrainConfig(**{"epochs": 2, "batch_size": 32, "lr": 0.01, "log_interval": 3,
                            **overrides})
    steps, epochs = [], []
    history = train(model, data, config, on_step=steps.append, on_epoch=epochs.append)
    return model, history, steps, epochs


def test_learns_the_generated_digits_and_reports_progress(tiny_mnist):
    data = load_mnist(tiny_mnist, download=False)
    model, history, steps, epochs = _train(data, epochs=3)
    assert [s.epoch for s in epochs] == [1, 2, 3]
    assert len(history.step_losses) == len(history.step_lrs) == 3 * 10
    assert [s.step for s in steps if s.loss is not None] == [3, 6, 9, 10] * 3
    assert history.epochs[-1].test_accuracy > 80
    assert evaluate(model, data.test).accuracy == pytest.approx(history.epochs[-1].test_accuracy)


def test_one_cycle_schedule_peaks_at_lr_and_ends_low(tiny_mnist):
    data = load_mnist(tiny_mnist, download=False)
    _, history, _, _ = _train(data, lr=0.05)
    assert max(history.step_lrs) == pytest.approx(0.05, rel=0.05)
    assert history.step_lrs[-1] < 0.01 * 0.05 * 10


def test_same_seed_same_weights_on_the_cpu(tiny_mnist):
    data = load_mnist(tiny_mnist, download=False)
    first, *_ = _train(data, seed=7)
    second, *_ = _train(data, seed=7)
    other, *_ = _train(data, seed=8)
    for name, tensor in first.state_dict().items():
        assert torch.equal(tensor, second.state_dict()[name])
    assert not torch.equal(first.fc.weight, other.fc.weight)


def test_training_set_is_reshuffled_every_epoch(tiny_mnist, monkeypatch):
    data = load_mnist(tiny_mnist, download=False)
    orders = []
    real_randperm = torch.randperm

    def recording(*args, **kwargs):
        order = real_randperm(*args, **kwargs)
        orders.append(order.clone())
        return order

    monkeypatch.setattr(torch, "randperm", recording)
    _train(data, epochs=2)
    assert len(orders) == 2 and not torch.equal(orders[0], orders[1])


def test_a_diverging_run_stops_with_a_clear_error(tiny_mnist):
    data = load_mnist(tiny_mnist, download=False)
    with pytest.raises(TrainingDiverged, match="loss became nan"):
        _train(data, lr=1e30)


def test_augment_keeps_shape_and_range_and_changes_images():
    torch.manual_seed(0)
    batch = torch.zeros(16, 1, 28, 28)
    batch[:, :, 6:22, 12:16] = 1.0
    out = augment(batch)
    assert out.shape == batch.shape
    assert out.min() >= 0 and out.max() <= 1 + 1e-6
    assert not torch.allclose(out, batch)
