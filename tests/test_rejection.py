"""The digit score: outliers made for it, its statistics in the sidecar, its decisions."""

import json

import numpy as np
import pytest
import torch
import torchvision

from mnist_cnn.model import ConvNet
from mnist_cnn.rejection import (
    FEATURES,
    HIDDEN,
    Rejection,
    fit_rejection,
    load_rejection,
    outliers,
    penultimate,
    renormalize,
)

from conftest import synthetic_digits


def test_renormalize_frames_ink_like_mnist():
    ink = torch.zeros(2, 56, 56)
    ink[0, 10:50, 30:36] = 1.0  # a tall bar, off centre
    ink[1, 5:15, 5:45] = 1.0  # a wide bar in a corner
    framed = renormalize(ink)
    assert framed.shape == (2, 28, 28) and framed.amax() == pytest.approx(1.0)
    for image in framed:
        rows = torch.nonzero(image.amax(1) > 0.5).flatten()
        cols = torch.nonzero(image.amax(0) > 0.5).flatten()
        assert max(rows[-1] - rows[0], cols[-1] - cols[0]) + 1 in (19, 20, 21)
        mass = image.sum()
        centre = ((image.sum(1) * torch.arange(28)).sum() / mass,
                  (image.sum(0) * torch.arange(28)).sum() / mass)
        assert abs(centre[0] - 14) < 1 and abs(centre[1] - 14) < 1


def test_outliers_are_framed_marks_of_every_kind():
    digits = torch.from_numpy(synthetic_digits(40)[0]).float() / 255
    made = outliers(digits, 40, seed=1)
    assert made.shape == (40, 28, 28) and made.min() >= 0 and made.max() <= 1
    assert (made.amax((1, 2)) > 0.5).all(), "no blank outlier"
    assert torch.equal(made, outliers(digits, 40, seed=1)), "reproducible for a seed"


def _random_rejection(seed: int = 0) -> Rejection:
    generator = torch.Generator().manual_seed(seed)
    return Rejection(torch.randn(FEATURES, generator=generator), torch.rand(FEATURES) + 0.5,
                     torch.randn(FEATURES, HIDDEN, generator=generator),
                     torch.randn(HIDDEN, generator=generator),
                     torch.randn(HIDDEN, generator=generator), 0.25, -3.0)


def test_statistics_round_trip_through_the_sidecar(tmp_path):
    rejection = _random_rejection()
    record = json.loads(json.dumps(rejection.as_json()))
    loaded = Rejection.from_json(record)
    features, logits = torch.randn(5, FEATURES - 10), torch.randn(5, 10)
    assert torch.allclose(loaded.score(features, logits), rejection.score(features, logits),
                          atol=1e-3)
    checkpoint = tmp_path / "model.ckpt"
    checkpoint.with_suffix(".json").write_text(json.dumps({"rejection": record}))
    found, note = load_rejection(checkpoint)
    assert found is not None and note is None


@pytest.mark.parametrize("change", ["missing", "shape", "nan", "no-key"])
def test_malformed_statistics_turn_rejection_off_with_a_note(tmp_path, change):
    checkpoint = tmp_path / "model.ckpt"
    record = _random_rejection().as_json()
    if change == "shape":
        record["mean"] = record["mean"][:-1]
    elif change == "nan":
        record["output_bias"] = float("nan")
    if change != "missing":
        sidecar = {"rejection": record} if change != "no-key" else {"epochs": []}
        checkpoint.with_suffix(".json").write_text(json.dumps(sidecar))
    found, note = load_rejection(checkpoint)
    assert found is None and note.startswith(f"{checkpoint}: ") and "\n" not in note


def test_fitting_on_a_tiny_model_gives_finite_reproducible_statistics():
    torch.manual_seed(0)
    model = ConvNet().eval()
    digits = torch.from_numpy(synthetic_digits(300)[0])
    first = fit_rejection(model, digits, count=200)
    second = fit_rejection(model, digits, count=200)
    assert np.isfinite(first.threshold) and first.threshold == second.threshold
    assert torch.equal(first.hidden_weights, second.hidden_weights)


@pytest.mark.slow
def test_trained_score_tells_digits_from_generated_outliers(trained_checkpoint, real_mnist):
    from mnist_cnn.checkpoint import load_model

    model = load_model(trained_checkpoint, torch.device("cpu"))
    rejection, note = load_rejection(trained_checkpoint)
    assert note is None
    test = torchvision.datasets.MNIST(str(real_mnist), train=False)
    digits = test.data[:1000].float() / 255
    with torch.no_grad():
        digit_scores = rejection.score(*penultimate(model, renormalize(digits).unsqueeze(1)))
        other_scores = rejection.score(*penultimate(model, outliers(digits, 1000, seed=7)
                                                    .unsqueeze(1)))
    # One epoch of training: the score already ranks nearly every outlier below nearly every
    # digit, though the threshold (0.1 % of handed-over digits) leaves out fewer than the default
    # model does.
    ranked_below = (other_scores[:, None] < digit_scores[None, :]).float().mean()
    assert ranked_below > 0.95
    assert (digit_scores < rejection.threshold).float().mean() < 0.02
    assert (other_scores < rejection.threshold).float().mean() > 0.3


@pytest.mark.slow
def test_the_threshold_keeps_scan_like_and_other_handed_over_digits(trained_checkpoint,
                                                                     real_mnist):
    """Calibrated on training digits handed over as users hand them, the threshold keeps test
    digits handed over the same ways: scans, other pens, blur, JPEG."""
    from mnist_cnn.checkpoint import load_model
    from mnist_cnn.handed import handed_over_inputs

    model = load_model(trained_checkpoint, torch.device("cpu"))
    rejection, _ = load_rejection(trained_checkpoint)
    test = torchvision.datasets.MNIST(str(real_mnist), train=False)
    inputs = handed_over_inputs(test.data[:1200].float() / 255, seed=11)
    with torch.no_grad():
        scores = rejection.score(*penultimate(model, inputs.unsqueeze(1)))
    assert (scores < rejection.threshold).float().mean() < 0.01
