"""Fit the not-a-digit detector (``networks.detector``) and calibrate its threshold.

``mnist-train --fit-detector`` fits it once, in minutes, on the training digits (clean, handed
over as users hand digits over: ``handed``, and drawn from stroke data: ``strokes``) against
outliers made on the fly (``outliers``), every batch warped and re-penned like the ConvNet's;
the ConvNet itself is not touched. Handed-over pictures, digits and outliers alike, are read by
the recognizer itself, each as one digit, and the threshold is set on further digits read by the
recognizer as it reads any file: what the detector is fitted and calibrated on is what reading
gives it. The package ships one (``networks.registry``); a refit is saved beside the checkpoint.
"""

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from mnist_cnn.fitting.handed import KINDS, handed_over_inputs, handed_over_pictures
from mnist_cnn.fitting.loop import augment, fit_network
from mnist_cnn.fitting.outliers import outliers
from mnist_cnn.fitting.strokes import Glyph, drawn, restroked
from mnist_cnn.fitting.strokes import characters as stroke_characters
from mnist_cnn.networks.detector import DigitDetector
from mnist_cnn.reading.inputs import normalize_batch
from mnist_cnn.reading.pipeline import Options
from mnist_cnn.reading.recognizer import Recognizer

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
HANDED_OUTLIERS = 1 / 3
"""The share of outliers handed over as users' pictures come, like the digits."""


def fit_detector(digits: torch.Tensor, labels: torch.Tensor, device: torch.device,
                 reader: nn.Module, seed: int = 0, count: int = FIT_DIGITS,
                 epochs: int = FIT_EPOCHS,
                 characters: tuple[list[Glyph], list[Glyph]] | None = None,
                 searchers: tuple[nn.Module, nn.Module] | None = None) -> DigitDetector:
    """Fit a detector on ``count`` of ``digits`` (uint8 ``(N, 28, 28)``, the training images,
    with their ``labels``) against as many outliers (``outliers.outliers``), every batch
    warped and re-penned like the ConvNet's (``loop.augment``), then ``calibrate`` it for
    ``reader`` (the ConvNet it serves, with the segment verifier and pair reader
    ``searchers``) on further digits. The digits: two fifths clean, two fifths handed over
    as users hand them over, a tenth re-stroked with a clean pen, and a tenth the digits of
    ``characters`` drawn with a pen (``characters``: digits and other characters of real
    stroke data; default ``strokes.characters()``, KanjiVG and the Hershey fonts).
    Reproducible for a seed on the CPU."""
    digit_glyphs, other_glyphs = characters or stroke_characters()
    generator = torch.Generator().manual_seed(seed)
    rng = np.random.default_rng(seed)
    one_digit = Recognizer(reader, device, options=Options(one_digit=True))
    count = min(count, max(10, len(digits) // 3))  # small training sets in tests
    order = torch.randperm(len(digits), generator=generator)
    pixels = digits.cpu().float().div(255)
    chosen, others = order[:count], order[count:2 * count]
    two_fifths, tenth = 2 * count // 5, count // 10
    drawn_digits = normalize_batch(drawn(digit_glyphs, count - 2 * two_fifths - tenth, rng,
                                         drop_strokes=False))
    positive = torch.cat([
        normalize_batch(pixels[chosen[:two_fifths]]),
        handed_over_inputs(pixels[chosen[two_fifths:2 * two_fifths]], rng, one_digit),
        normalize_batch(restroked(pixels[chosen[2 * two_fifths:2 * two_fifths + tenth]], rng)),
        handed_over_inputs(drawn_digits[:len(drawn_digits) // 3], rng, one_digit),
        drawn_digits[len(drawn_digits) // 3:]])
    made = outliers(pixels[others], labels.cpu()[others], count, other_glyphs, seed)
    share = round(HANDED_OUTLIERS * len(made))
    negative = torch.cat([handed_over_inputs(made[:share], rng, one_digit), made[share:]])
    inputs = torch.cat([positive, negative]).unsqueeze(1)
    targets = torch.cat([torch.ones(len(positive)), torch.zeros(len(negative))])
    torch.manual_seed(seed)
    detector = DigitDetector().to(device)
    fit_network(detector, len(inputs), lambda batch: F.binary_cross_entropy_with_logits(
        detector(augment(inputs[batch].to(device))), targets[batch].to(device)),
        epochs, generator)
    held = order[2 * count:2 * count + HELD_OUT]
    held = held if len(held) else chosen
    calibrate(detector, pixels[held], labels.cpu()[held], reader, searchers, seed + 1)
    return detector


def calibration_scores(recognizer: Recognizer, digits: torch.Tensor, labels: torch.Tensor,
                       seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Each of ``digits`` (float ``(N, 28, 28)``, white on black, with their ``labels``)
    handed over one of ``handed.KINDS`` ways in turn and read by ``recognizer`` as it reads
    any file: the digit score of each picture read as exactly its label (NaN for the others,
    read as something else, as several digits or as none: lost whatever the threshold), and
    its way's index."""
    pictures = handed_over_pictures(digits, np.random.default_rng(seed))
    shown = [index for index, picture in enumerate(pictures) if picture is not None]
    scores = torch.full((len(digits),), float("nan"))
    results = recognizer.read_many([pictures[index] for index in shown])
    for index, result in zip(shown, results, strict=True):
        if result.number == str(int(labels[index])) and result.digits[0].score is not None:
            scores[index] = result.digits[0].score
    return scores, torch.arange(len(digits)) % len(KINDS)


@torch.no_grad()
def calibrate(detector: DigitDetector, digits: torch.Tensor, labels: torch.Tensor,
              reader: nn.Module, searchers: tuple[nn.Module, nn.Module] | None = None,
              seed: int = 0) -> None:
    """Set the detector's threshold: it rejects at most ``REJECT_DIGITS`` of ``digits``
    (float ``(N, 28, 28)``, white on black, with their ``labels``) handed over each way, each
    way on its own, counting those that the recognizer (``reader`` with this detector and
    ``searchers``, nothing rejected) still reads as themselves (``calibration_scores``): a
    digit handed over so badly that it reads as another is lost anyway, and keeping it would
    let non-digits through (the tail of generated scans is strokes broken into dots and
    blocks)."""
    verifier, pair_reader = searchers or (None, None)
    recognizer = Recognizer(reader, next(detector.parameters()).device, detector=detector,
                            verifier=verifier, pair_reader=pair_reader,
                            reject_threshold=-np.inf)
    scores, kinds = calibration_scores(recognizer, digits, labels, seed)
    thresholds = []
    for kind in kinds.unique():
        counted = (kinds == kind) & ~scores.isnan()
        if counted.any():
            thresholds.append(float(torch.quantile(scores[counted], REJECT_DIGITS)))
    detector.threshold.fill_(min(thresholds, default=0.0))
