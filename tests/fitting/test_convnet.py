"""Training the ConvNet: the schedule, the hardest share, precisions, reproducibility."""

import copy

import pytest
import torch

from mnist_cnn.errors import TrainingDiverged
from mnist_cnn.fitting import convnet as training
from mnist_cnn.fitting.convnet import (
    TrainConfig,
    epoch_sizes,
    evaluate,
    fit_convnet,
    native_bf16,
    one_cycle,
    resolve_precision,
)
from mnist_cnn.fitting.data import load_mnist
from mnist_cnn.networks.convnet import ConvNet
from mnist_cnn.networks.store import check_compatible


def _train(data, **overrides):
    torch.manual_seed(123)
    model = ConvNet()
    config = TrainConfig(**{"epochs": 2, "batch_size": 32, "lr": 0.01, "log_interval": 3,
                            **overrides})
    steps, epochs = [], []
    history = fit_convnet(model, data, config, on_step=steps.append, on_epoch=epochs.append)
    return model, history, steps, epochs


def test_learns_the_generated_digits_and_reports_progress(tiny_mnist):
    data = load_mnist(tiny_mnist, download=False)
    model, history, steps, epochs = _train(data, epochs=3, hard_share=1.0)
    assert [s.epoch for s in epochs] == [1, 2, 3]
    assert len(history.step_losses) == len(history.step_lrs) == 3 * 10
    assert [s.step for s in steps if s.loss is not None] == [3, 6, 9, 10] * 3
    assert history.epochs[-1].test_accuracy > 80
    assert evaluate(model, data.test).accuracy == pytest.approx(history.epochs[-1].test_accuracy)


def test_one_cycle_rises_linearly_to_the_peak_then_falls_linearly_to_zero():
    factors = [one_cycle(step, 100, 0.2) for step in range(101)]
    assert factors[0] == pytest.approx(1 / 25)
    assert factors[20] == 1 and max(factors) == 1
    assert factors[10] == pytest.approx((1 / 25 + 1) / 2)
    assert factors[60] == pytest.approx(0.5)
    assert factors[99] == pytest.approx(1 / 80) and factors[100] == 0
    assert one_cycle(0, 1, 0.2) == 1  # a one-step run trains at the peak


def test_schedule_peaks_at_lr_and_ends_low(tiny_mnist):
    data = load_mnist(tiny_mnist, download=False)
    _, history, _, _ = _train(data, lr=0.05, epochs=3)
    assert max(history.step_lrs) == pytest.approx(0.05)
    assert history.step_lrs[-1] < 0.05 * 0.1
    assert len(history.step_lrs) == sum(stats.steps for stats in history.epochs)


def test_epochs_after_the_first_train_on_the_hardest_share(tiny_mnist, monkeypatch):
    data = load_mnist(tiny_mnist, download=False)
    seen = []
    real_order = training.epoch_order

    def recording(last_loss, size, shuffle):
        order = real_order(last_loss, size, shuffle)
        seen.append((last_loss.clone(), order))
        return order

    monkeypatch.setattr(training, "epoch_order", recording)
    _, history, steps, _ = _train(data, epochs=3, hard_share=0.3)
    assert epoch_sizes(300, TrainConfig(epochs=3, hard_share=0.3)) == [300, 90, 90]
    assert [(s.images, s.steps) for s in history.epochs] == [(300, 10), (90, 3), (90, 3)]
    assert [s.steps_per_epoch for s in steps if s.step == 1] == [10, 3, 3]
    assert sorted(seen[0][1].tolist()) == list(range(300))
    for last_loss, order in seen[1:]:
        assert torch.isfinite(last_loss).all()  # every image has been seen in the first epoch
        assert len(set(order.tolist())) == 90
        assert last_loss[order].min() >= last_loss.topk(90).values.min()
    assert not torch.equal(seen[1][1], seen[2][1])


def test_precision_auto_means_bf16_only_where_the_hardware_has_it(monkeypatch):
    cpu = torch.device("cpu")
    assert resolve_precision("auto", cpu) == ("bf16" if native_bf16(cpu) else "fp32")
    assert resolve_precision("fp32", cpu) == "fp32"
    assert resolve_precision("bf16", cpu) == "bf16"
    assert not native_bf16(torch.device("mps"))
    with pytest.raises(ValueError, match="unknown precision"):
        resolve_precision("fp16", cpu)
    for name in ("_is_avx512_bf16_supported", "_is_amx_tile_supported"):
        monkeypatch.delattr(torch.cpu, name, raising=False)
    monkeypatch.setattr(training, "_cpu_flags", lambda: {"avx2", "avx512f"})
    assert not native_bf16(cpu)
    monkeypatch.setattr(training, "_cpu_flags", lambda: {"avx512f", "avx512_bf16"})
    assert native_bf16(cpu)


@pytest.mark.parametrize("precision", ["fp32", "bf16"])
def test_both_precisions_learn_and_keep_a_float32_reference_state_dict(tiny_mnist, precision):
    data = load_mnist(tiny_mnist, download=False)
    model, history, _, _ = _train(data, epochs=3, precision=precision)
    assert history.precision == precision
    assert history.epochs[-1].test_accuracy > 80
    state = model.state_dict()
    check_compatible(state, "trained", ConvNet(), "ConvNet")
    assert all(t.dtype == torch.float32 for t in state.values() if t.is_floating_point())


@pytest.mark.parametrize("training_mode", [True, False], ids=["train", "eval"])
def test_training_forward_is_the_model_forward(tiny_mnist, training_mode):
    """The channels-last second block is a memory layout, not a different network."""
    data = load_mnist(tiny_mnist, download=False)
    torch.manual_seed(0)
    ours = ConvNet().train(training_mode)
    theirs = copy.deepcopy(ours)
    images = training.as_input(data.train.images[:64])
    mine = training._forward(ours, images)
    reference = theirs(images)
    assert torch.allclose(mine, reference, atol=1e-5)
    mine.square().sum().backward()
    reference.square().sum().backward()
    scale = max(p.grad.abs().max().item() for p in theirs.parameters())
    for a, b in zip(ours.parameters(), theirs.parameters(), strict=True):
        assert torch.allclose(a.grad, b.grad, rtol=1e-4, atol=1e-5 * scale)


def test_bf16_evaluation_is_close_to_float32(tiny_mnist):
    data = load_mnist(tiny_mnist, download=False)
    model, *_ = _train(data, epochs=2)
    exact = evaluate(model, data.test)
    quick = evaluate(model, data.test, "bf16")
    assert exact.probabilities.dtype == quick.probabilities.dtype == torch.float32
    assert (exact.probabilities - quick.probabilities).abs().max() < 0.05


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
