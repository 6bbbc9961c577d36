"""Tell digits from everything else: letters, signs, doodles, and the pieces and pairs that a
wrong cut through a number makes.

The ConvNet's softmax always names a digit, often confidently. A separate small network, the
detector, gives each 28x28 input a digit score in log-odds. ``mnist-train --fit-detector`` fits
it once, in minutes, on the training digits (clean, handed over as users hand digits over:
``mnist_cnn.handed``, and drawn from stroke data: ``mnist_cnn.strokes``) against outliers made
on the fly (``mnist_cnn.outliers``); the ConvNet itself is not touched (trained with outliers,
it reads digits less well). The package ships one (``mnist_cnn.shipped``); a refit is saved
beside the checkpoint as ``model.detector.pt``, so ``model.ckpt`` stays the reference's plain
state_dict.
"""

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from mnist_cnn import shipped
from mnist_cnn.checkpoint import load_sidecar, save_state_dict
from mnist_cnn.handed import KINDS, handed_over_inputs
from mnist_cnn.normalization import normalize_batch
from mnist_cnn.outliers import outliers
from mnist_cnn.strokes import Glyph, drawn, restroked
from mnist_cnn.strokes import characters as stroke_characters
from mnist_cnn.training import augment, fit_network

REJECT_DIGITS = 0.005
"""The threshold rejects at most this share of held-out training digits handed over each way
users hand digits over (scans fitted in or stretched to their field, 8x8 reductions, other
pens, blur, JPEG, tiny canvases), of each way on its own, so that the hardest are kept as well
as the rest."""
FIT_DIGITS = 24_000
"""Training digits the detector is fitted on, with as many outliers."""
FIT_EPOCHS = 10
HELD_OUT = 32_000
"""Further training digits, handed over (four thousand each way), that set the threshold: a
quantile that far out needs many (from two thousand, it moved by a log-odds or more between
samples)."""


def _block(inputs: int, outputs: int, kernel: int) -> list[nn.Module]:
    return [nn.Conv2d(inputs, outputs, kernel, padding=kernel // 2), nn.BatchNorm2d(outputs),
            nn.ReLU(), nn.MaxPool2d(2)]


class DigitDetector(nn.Module):
    """Input ``(N, 1, 28, 28)`` like the ConvNet's; output ``(N,)`` log-odds that each is a
    digit at all. ``threshold``: below it an input is not a digit. Three convolution blocks
    (16, 32, 64 channels) and a 64-unit layer: about 0.1 ms a mark on one CPU thread, as the
    recognizer runs it (``model.for_inference``)."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(*_block(1, 16, 5), *_block(16, 32, 5), *_block(32, 64, 3))
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(64 * 3 * 3, 64), nn.ReLU(),
                                  nn.Linear(64, 1))
        self.register_buffer("threshold", torch.zeros(()))

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(inputs)).squeeze(1)


def detector_path(checkpoint: Path) -> Path:
    """``model.ckpt`` -> ``model.detector.pt``."""
    return Path(checkpoint).with_suffix(".detector.pt")


@torch.no_grad()
def _scores(detector: DigitDetector, inputs: torch.Tensor) -> torch.Tensor:
    device = next(detector.parameters()).device
    return torch.cat([detector(batch.unsqueeze(1).to(device)).cpu()
                      for batch in inputs.split(1000)])


def fit_detector(digits: torch.Tensor, labels: torch.Tensor, device: torch.device,
                 reader: nn.Module, seed: int = 0, count: int = FIT_DIGITS,
                 epochs: int = FIT_EPOCHS,
                 characters: tuple[list[Glyph], list[Glyph]] | None = None) -> DigitDetector:
    """Fit a detector on ``count`` of ``digits`` (uint8 ``(N, 28, 28)``, the training images,
    with their ``labels``) against as many outliers (``outliers.outliers``), every batch
    warped and re-penned like the ConvNet's (``training.augment``), then ``calibrate`` it
    with ``reader`` (the ConvNet it serves) on further digits. The digits: two fifths clean,
    two fifths handed over as users hand them over, a tenth re-stroked with a clean pen, and
    a tenth the digits of ``characters`` drawn with a pen (``characters``: digits and other
    characters of real stroke data; default ``strokes.characters()``, KanjiVG and the Hershey
    fonts). Reproducible for a seed on the CPU."""
    digit_glyphs, other_glyphs = characters or stroke_characters()
    generator = torch.Generator().manual_seed(seed)
    rng = np.random.default_rng(seed)
    count = min(count, max(10, len(digits) // 3))  # small training sets in tests
    order = torch.randperm(len(digits), generator=generator)
    pixels = digits.cpu().float().div(255)
    chosen, others = order[:count], order[count:2 * count]
    two_fifths, tenth = 2 * count // 5, count // 10
    drawn_digits = normalize_batch(drawn(digit_glyphs, count - 2 * two_fifths - tenth, rng,
                                         drop_strokes=False))
    positive = torch.cat([
        normalize_batch(pixels[chosen[:two_fifths]]),
        handed_over_inputs(pixels[chosen[two_fifths:2 * two_fifths]], rng),
        normalize_batch(restroked(pixels[chosen[2 * two_fifths:2 * two_fifths + tenth]], rng)),
        handed_over_inputs(drawn_digits[:len(drawn_digits) // 3], rng),
        drawn_digits[len(drawn_digits) // 3:]])
    negative = outliers(pixels[others], labels.cpu()[others], count, other_glyphs, seed)
    inputs = torch.cat([positive, negative]).unsqueeze(1)
    targets = torch.cat([torch.ones(len(positive)), torch.zeros(len(negative))])
    torch.manual_seed(seed)
    detector = DigitDetector().to(device)
    fit_network(detector, len(inputs), lambda batch: F.binary_cross_entropy_with_logits(
        detector(augment(inputs[batch].to(device))), targets[batch].to(device)),
        epochs, generator)
    held = order[2 * count:2 * count + HELD_OUT]
    held = held if len(held) else chosen
    calibrate(detector, pixels[held], labels.cpu()[held], reader, seed + 1)
    return detector


@torch.no_grad()
def calibrate(detector: DigitDetector, digits: torch.Tensor, labels: torch.Tensor,
              reader: nn.Module, seed: int = 0) -> None:
    """Set the detector's threshold: it rejects at most ``REJECT_DIGITS`` of ``digits``
    (float ``(N, 28, 28)``, white on black, with their ``labels``) handed over each way, each
    way on its own, counting those that ``reader`` still reads as themselves: a digit handed
    over so badly that it reads as another is lost anyway, and keeping it would let
    non-digits through (the tail of generated scans is strokes broken into dots and blocks)."""
    inputs = handed_over_inputs(digits, seed)
    scores = _scores(detector, inputs)
    device = next(reader.parameters()).device
    read = torch.cat([reader.eval()(batch.unsqueeze(1).to(device)).argmax(1).cpu()
                      for batch in inputs.split(1000)])
    kinds = torch.arange(len(scores)) % len(KINDS)
    thresholds = []
    for kind in kinds.unique():
        counted = (kinds == kind) & (read == labels)
        if counted.any():
            thresholds.append(float(torch.quantile(scores[counted], REJECT_DIGITS)))
    detector.threshold.fill_(min(thresholds, default=0.0))


def save_detector(detector: DigitDetector, checkpoint: Path) -> None:
    """Write the detector's sidecar beside ``checkpoint`` atomically (raises
    ``CheckpointError``; a good file is never replaced by a broken one)."""
    save_state_dict(detector.state_dict(), detector_path(checkpoint))


def load_detector(checkpoint: Path, device: torch.device) -> DigitDetector:
    """The detector beside ``checkpoint`` (``model.detector.pt``, from ``mnist-train
    --fit-detector``), else the one that ships with the package: it does not depend on the
    ConvNet, so it serves any checkpoint. Raises ``CheckpointError`` for a sidecar that is
    there but unusable, or a shipped file that does not match its provenance."""
    return load_sidecar(detector_path(checkpoint), shipped.DETECTOR, DigitDetector(),
                        "not-a-digit detector", device)
