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

from mnist_cnn.fitting.composing import compose_line
from mnist_cnn.fitting.handed import handed_over_inputs, handed_over_pictures
from mnist_cnn.fitting.loop import augment, fit_network
from mnist_cnn.fitting.outliers import outliers, pictures
from mnist_cnn.fitting.strokes import Glyph, drawn, restroked
from mnist_cnn.fitting.strokes import characters as stroke_characters
from mnist_cnn.networks.detector import FORMS, DigitDetector
from mnist_cnn.reading.inputs import normalize_batch
from mnist_cnn.reading.pipeline import Options
from mnist_cnn.reading.recognizer import Recognizer
from mnist_cnn.reading.scoring import WHOLE_FEATURES

REJECT_DIGITS = 0.005
"""Each form's threshold rejects at most this share of the held-out training digits, handed
over the ways users hand digits over (scans fitted in or stretched to their field, 8x8
reductions, other pens, blur, JPEG, tiny canvases), that are read as pictures of that form."""
FEWEST_PER_FORM = 200
"""A form's threshold is set from this many held-out digits at least (its 0.5 % quantile is
then its lowest one or two)."""
FIT_DIGITS = 24_000
"""Training digits the detector is fitted on, with as many outliers."""
FIT_EPOCHS = 10
HELD_OUT = 32_000
"""Further training digits, handed over (3,200 each way), that set the thresholds: a
quantile that far out needs many (from two thousand, it moved by a log-odds or more between
samples)."""
HANDED_OUTLIERS = 1 / 3
"""The share of outliers handed over as users' pictures come, like the digits."""
WHOLE_PICTURES = 4_000
"""Pictures of digits, and as many of marks that are no digits, that the judgement of a
picture as a whole is fitted on."""


def fit_detector(digits: torch.Tensor, labels: torch.Tensor, device: torch.device,
                 reader: nn.Module, seed: int = 0, count: int = FIT_DIGITS,
                 epochs: int = FIT_EPOCHS,
                 characters: tuple[list[Glyph], list[Glyph], list[Glyph]] | None = None,
                 searchers: tuple[nn.Module, nn.Module] | None = None) -> DigitDetector:
    """Fit a detector on ``count`` of ``digits`` (uint8 ``(N, 28, 28)``, the training images,
    with their ``labels``) against as many outliers (``outliers.outliers``), every batch
    warped and re-penned like the ConvNet's (``loop.augment``), then ``calibrate`` it for
    ``reader`` (the ConvNet it serves, with the segment verifier and pair reader
    ``searchers``) on further digits, and fit its judgement of a picture as a whole
    (``fit_whole``) on pictures of those digits. The digits: two fifths clean, two fifths
    handed over as users hand them over, a tenth re-stroked with a clean pen, and a tenth the
    digits of ``characters`` drawn with a pen (``characters``: the digits, letters and other
    characters of real stroke data; default ``strokes.characters()``, KanjiVG and the Hershey
    fonts). Reproducible for a seed on the CPU."""
    digit_glyphs, letter_glyphs, other_glyphs = characters or stroke_characters()
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
    made = outliers(pixels[others], labels.cpu()[others], count, letter_glyphs + other_glyphs,
                    seed, letters=letter_glyphs)
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
    calibrate(detector, pixels[held], reader, searchers, seed + 1)
    fit_whole(detector, digits[held], reader, searchers, letter_glyphs, other_glyphs, seed + 2,
              min(WHOLE_PICTURES, len(held)))
    return detector


def calibration_scores(recognizer: Recognizer, digits: torch.Tensor,
                       seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Each of ``digits`` (float ``(N, 28, 28)``, white on black) handed over one of
    ``handed.KINDS`` ways in turn and read by ``recognizer`` (nothing rejected) as it reads any
    file: the digit score a threshold must not pass for the picture to keep a digit (its
    digits' best; +inf where it was read as a pair, which the detector does not judge; NaN
    where nothing was read, lost whatever the threshold), and the form it was read as
    (``FORMS``)."""
    pictures = handed_over_pictures(digits, np.random.default_rng(seed))
    shown = [index for index, picture in enumerate(pictures) if picture is not None]
    scores = torch.full((len(digits),), float("nan"))
    forms = torch.full((len(digits),), -1)
    for index, result in zip(shown, recognizer.read_many([pictures[i] for i in shown]),
                             strict=True):
        if result.digits:
            scores[index] = max(np.inf if digit.score is None else digit.score
                                for digit in result.digits)
            forms[index] = FORMS.index(result.form)
    return scores, forms


@torch.no_grad()
def calibrate(detector: DigitDetector, digits: torch.Tensor, reader: nn.Module,
              searchers: tuple[nn.Module, nn.Module] | None = None, seed: int = 0) -> None:
    """Set the detector's threshold for each form of picture (``FORMS``): it rejects at most
    ``REJECT_DIGITS`` of the ``digits`` (float ``(N, 28, 28)``, white on black) handed over
    the ways users hand them over (``calibration_scores``) that the recognizer (``reader``
    with this detector and ``searchers``) reads as pictures of that form, each form on its
    own; a form with fewer than ``FEWEST_PER_FORM`` of them takes the lowest threshold of the
    others."""
    verifier, pair_reader = searchers or (None, None)
    recognizer = Recognizer(reader, next(detector.parameters()).device, detector=detector,
                            verifier=verifier, pair_reader=pair_reader,
                            reject_threshold=-np.inf)
    scores, forms = calibration_scores(recognizer, digits, seed)
    thresholds = torch.full((len(FORMS),), float("nan"))
    for form in range(len(FORMS)):
        mine = scores[forms == form]
        if len(mine) >= FEWEST_PER_FORM:
            thresholds[form] = float(torch.quantile(mine, REJECT_DIGITS))
    lowest = thresholds[~thresholds.isnan()].min() if (~thresholds.isnan()).any() else 0.0
    detector.thresholds.copy_(torch.where(thresholds.isnan(), lowest, thresholds))


def whole_samples(recognizer: Recognizer, digits: torch.Tensor, letters: list[Glyph],
                  others: list[Glyph], count: int, seed: int = 0
                  ) -> tuple[np.ndarray, np.ndarray, int]:
    """Pictures read by ``recognizer`` and judged as a whole (``scoring.WHOLE_FEATURES``):
    ``count`` of digits (``digits``, uint8 ``(N, 28, 28)`` MNIST training images), half of
    them handed over one by one and half written in lines of one to six (``composing``), and
    ``count`` of marks that are no digits (``outliers.pictures``). The features of those
    judged (searched for digits, with one read), whether each is digits, and how many
    pictures of digits were read at all."""
    rng = np.random.default_rng(seed)
    pixels = digits.float() / 255
    chosen = rng.permutation(len(digits))
    alone = handed_over_pictures(pixels[chosen[:count // 2]], rng)
    lines = []
    for _ in range(count - count // 2):
        length = int(rng.integers(1, 7))
        images = [digits[int(i)].numpy() for i in rng.integers(0, len(digits), length)]
        lines.append(np.round(compose_line(images, rng)[0] * 255).astype(np.uint8))
    kinds = [(picture, True) for picture in alone + lines if picture is not None]
    kinds += [(picture, False) for picture in pictures(count, letters, others, rng)]
    features, targets, read = [], [], 0
    for (_, is_digits), result in zip(kinds, recognizer.read_many([p for p, _ in kinds]),
                                      strict=True):
        read += is_digits and bool(result.digits)
        if result.whole is not None and result.digits:
            features.append(result.whole)
            targets.append(is_digits)
    return np.array(features, np.float32).reshape(-1, len(WHOLE_FEATURES)), \
        np.array(targets, bool), read


def fit_whole(detector: DigitDetector, digits: torch.Tensor, reader: nn.Module,
              searchers: tuple[nn.Module, nn.Module] | None, letters: list[Glyph],
              others: list[Glyph], seed: int = 0, count: int = WHOLE_PICTURES) -> None:
    """Fit the detector's judgement of a picture as a whole (``DigitDetector.whole``): a
    logistic regression on the ``whole_samples`` of the recognizer (``reader`` with this
    detector, calibrated, and ``searchers``), its two classes weighed alike, then its bias
    lowered until it rejects at most ``REJECT_DIGITS`` of the pictures of digits read."""
    verifier, pair_reader = searchers or (None, None)
    detector.whole.zero_()
    recognizer = Recognizer(reader, next(detector.parameters()).device, detector=detector,
                            verifier=verifier, pair_reader=pair_reader)
    features, targets, read = whole_samples(recognizer, digits, letters, others, count, seed)
    if targets.all() or not targets.any():
        return
    inputs, labels = torch.from_numpy(features), torch.from_numpy(targets).float()
    weights = torch.zeros(len(WHOLE_FEATURES) + 1, requires_grad=True)
    balance = (1 - labels) * labels.mean() / (1 - labels.mean()) + labels
    optimizer = torch.optim.LBFGS([weights], max_iter=200, line_search_fn="strong_wolfe")

    def loss() -> torch.Tensor:
        optimizer.zero_grad()
        value = F.binary_cross_entropy_with_logits(inputs @ weights[:-1] + weights[-1], labels,
                                                   weight=balance)
        value.backward()
        return value

    with torch.enable_grad():
        optimizer.step(loss)
    fitted = weights.detach()
    margins = (inputs[labels > 0] @ fitted[:-1] + fitted[-1]).sort().values
    allowed = int(REJECT_DIGITS * read)
    if allowed < len(margins) and margins[allowed] < 0:
        fitted[-1] -= float(margins[allowed])
    detector.whole.copy_(fitted)
