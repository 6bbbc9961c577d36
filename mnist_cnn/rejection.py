"""Tell digits from everything else: letters, symbols, doodles, and the pieces and pairs that a
wrong cut through a number makes.

The ConvNet's softmax always names a digit, often confidently. Its penultimate features (the
784 values before the last layer) say more: a small two-layer head on them and the logits,
fitted after training against generated outliers (without touching the network), gives each
28x28 input a digit score in log-odds. The statistics it needs live in the checkpoint's
sidecar, so ``model.ckpt`` stays the reference's plain state_dict; a checkpoint without them
still reads digits, with rejection off.

The outliers are made here, on the fly, from the training digits themselves and from pen
strokes: halves, tops and bottoms of digits, two digits run together, a digit with a sliver of
its neighbour, scribbles, simple shapes, doodles, and glyphs of other alphabets drawn by a font.
"""

import functools
import json
import math
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from mnist_cnn.checkpoint import sidecar_path
from mnist_cnn.handed import handed_over_inputs
from mnist_cnn.normalization import DIGIT_BOX, MNIST_CENTRE, SIDE

CANVAS = 56
"""Outliers are drawn on this canvas, then normalized like any digit."""
REJECT_DIGITS = 0.001
"""The default threshold rejects this share of held-out training digits handed over as users
hand digits over (``mnist_cnn.handed``): scans, other pens, blur, JPEG."""
HEAD_EPOCHS = 10
LATIN = "ACDEFHKMNPRTUVWXYacefhkmnrtuvwxy"
GREEK = "ΓΔΛΞΠΣΦΨΩαβγεζηλμξπσφψω"
CYRILLIC = "ГДЖИЙЛПФЦШЩЪЫЭЮЯвгджлфцшщыэюя"
ARMENIAN = "ԱԲԳԴԵԶԷԸԹԺԻԽԾԿՀՁՂՃՄՅՆՇՈՉՊՋՌՍՎՏՐՑՒՓՔՕՖ"
GEORGIAN = "აბგდევზთიკლმნოპჟრსტუფქღყშჩცძწჭხჯჰ"
HEBREW = "אבגדהוזחטיכלמנסעפצקרשת"
SIGNS = "#%&@$€£¥§¶+=*?!<>{}[]~∑∫∂∇≈≠≤≥∞√αΩ←→↑↓"
"""Glyphs to fit the digit score against: other alphabets and signs, without the letters that
look like digits (O, I, S, Z, B, G, b, g, q and their cousins in other scripts)."""


def penultimate(model: torch.nn.Module, inputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The ConvNet's 784 features before its last layer, and its logits."""
    features = model.layer2(model.layer1(inputs)).flatten(1)
    return features, model.fc(features)


def renormalize(images: torch.Tensor) -> torch.Tensor:
    """MNIST's normalization for a batch of ink images ``(N, H, W)`` (white on black): crop to
    the ink, long side to 20 px, centre of mass to the field's centre. Blank images stay
    blank."""
    count, height, width = images.shape
    ink = images > 0.05
    rows, cols = ink.any(2), ink.any(1)
    span = torch.arange(height, device=images.device), torch.arange(width, device=images.device)
    top = torch.where(rows, span[0], height).amin(1)
    bottom = torch.where(rows, span[0], -1).amax(1)
    left = torch.where(cols, span[1], width).amin(1)
    right = torch.where(cols, span[1], -1).amax(1)
    size = torch.maximum(bottom - top + 1, right - left + 1).clamp(min=1).float()
    scale = DIGIT_BOX / size
    mass = images.sum((1, 2)).clamp(min=1e-6)
    centre_y = (images.sum(2) * span[0]).sum(1) / mass
    centre_x = (images.sum(1) * span[1]).sum(1) / mass
    # Output pixel (i, j) samples the input at centre + ((i, j) - MNIST centre) / scale.
    theta = torch.zeros(count, 2, 3, device=images.device)
    theta[:, 0, 0] = SIDE / (scale * width)
    theta[:, 1, 1] = SIDE / (scale * height)
    theta[:, 0, 2] = (2 * (centre_x + 0.5) / width - 1) - (
        2 * (float(MNIST_CENTRE[1]) + 0.5) / SIDE - 1) * theta[:, 0, 0]
    theta[:, 1, 2] = (2 * (centre_y + 0.5) / height - 1) - (
        2 * (float(MNIST_CENTRE[0]) + 0.5) / SIDE - 1) * theta[:, 1, 1]
    grid = F.affine_grid(theta, [count, 1, SIDE, SIDE], align_corners=False)
    out = F.grid_sample(images.unsqueeze(1), grid, align_corners=False).squeeze(1)
    peak = out.amax((1, 2), keepdim=True).clamp(min=1e-6)
    return (out / peak).clamp(0, 1)


def _on_canvas(digits: torch.Tensor) -> torch.Tensor:
    """MNIST digits, twice as large, on the outlier canvas."""
    return F.interpolate(digits.unsqueeze(1), size=(CANVAS, CANVAS), mode="bilinear",
                         align_corners=False).squeeze(1)


def _pieces(digits: torch.Tensor, rng: np.random.Generator) -> torch.Tensor:
    """What wrong cuts make of digits: a left, right, top or bottom part; two digits run
    together; a digit with a sliver of its neighbour."""
    big = _on_canvas(digits)
    count = len(big)
    out = torch.zeros_like(big)
    kinds = rng.integers(0, 4, count)
    shares = torch.from_numpy(rng.uniform(0.3, 0.7, count)).float()
    columns = torch.arange(CANVAS).float()
    keep_low = torch.from_numpy(rng.random(count) < 0.5)
    partner = big[torch.from_numpy(rng.permutation(count))]
    for index in range(count):
        image, kind = big[index], int(kinds[index])
        ink_cols = torch.nonzero(image.amax(0) > 0.05).flatten()
        ink_rows = torch.nonzero(image.amax(1) > 0.05).flatten()
        if not len(ink_cols):
            continue
        if kind in (0, 1):
            lines, along = (ink_cols, 1) if kind == 0 else (ink_rows, 0)
            cut = float(lines[0] + shares[index] * (lines[-1] - lines[0]))
            side = (columns < cut) if keep_low[index] else (columns >= cut)
            out[index] = image * (side[None, :] if along == 1 else side[:, None])
        else:
            other = partner[index]
            other_cols = torch.nonzero(other.amax(0) > 0.05).flatten()
            if not len(other_cols):
                continue
            overlap = int(rng.integers(-6, 5))
            shift = int(ink_cols[-1] - other_cols[0]) + 1 + overlap
            moved = torch.roll(other, shifts=shift, dims=1)
            moved[:, :max(0, min(CANVAS, shift))] = 0
            if kind == 3:
                sliver = int(other_cols[0]) + shift + int(shares[index] * 0.6
                                                          * (other_cols[-1] - other_cols[0]))
                moved[:, max(0, sliver):] = 0
            out[index] = torch.maximum(image, moved)
    return out


def _composite(image: np.ndarray, rng: np.random.Generator, pen: int) -> None:
    """A doodle of simple shapes drawn together: a closed outline (a box, a polygon, an oval)
    with a roof on top of it, a door, a window or two eyes inside it, or both: a house, a face,
    a sign. (No loop over a loop, no stem under one: those are 8s, 6s and 9s.)"""
    half = rng.uniform(7, 14, 2)
    centre = np.array([28.0, rng.uniform(28, 36)])
    body = int(rng.integers(0, 3))
    if body == 0:
        cv2.rectangle(image, tuple(int(v) for v in centre - half),
                      tuple(int(v) for v in centre + half), 255, pen)
    elif body == 1:
        cv2.ellipse(image, tuple(int(v) for v in centre), tuple(int(v) for v in half), 0, 0, 360,
                    255, pen, cv2.LINE_AA)
    else:
        sides = int(rng.integers(5, 8))
        angles = rng.uniform(0, 2 * np.pi) + 2 * np.pi * np.arange(sides) / sides
        points = centre + half * np.stack([np.cos(angles), np.sin(angles)], axis=1)
        cv2.polylines(image, [points.astype(np.int32)], True, 255, pen, cv2.LINE_AA)
    roof, inside = [(True, False), (False, True), (True, True)][int(rng.integers(0, 3))]
    if roof:
        top = centre[1] - half[1]
        points = [(centre[0] - half[0] - rng.uniform(0, 4), top),
                  (centre[0] + rng.uniform(-3, 3), top - rng.uniform(6, 16)),
                  (centre[0] + half[0] + rng.uniform(0, 4), top)]
        cv2.polylines(image, [np.array(points, np.int32)], False, 255, pen, cv2.LINE_AA)
    if inside and rng.random() < 0.5:  # a door or a window
        inner = half * rng.uniform(0.2, 0.5, 2)
        middle = centre + half * rng.uniform(-0.4, 0.4, 2)
        cv2.rectangle(image, tuple(int(v) for v in middle - inner),
                      tuple(int(v) for v in middle + inner), 255, max(1, pen - 1))
    elif inside:  # two eyes
        for side in (-1, 1):
            eye = centre + np.array([side * half[0] * 0.4, -half[1] * 0.3])
            cv2.circle(image, tuple(int(v) for v in eye), max(1, pen - 1), 255, -1)


def _strokes(count: int, rng: np.random.Generator) -> torch.Tensor:
    """Pen strokes that are no digit: scribbles, zigzags, shapes, crosses and stars, and
    doodles of several shapes."""
    images = np.zeros((count, CANVAS, CANVAS), dtype=np.uint8)
    for image in images:
        pen = int(rng.integers(2, 6))
        kind = int(rng.integers(0, 8))
        if kind >= 6:
            _composite(image, rng, pen)
            continue
        centre = rng.uniform(18, 38, 2)
        radius = rng.uniform(10, 24)
        if kind == 0:
            points = rng.uniform(6, 50, (int(rng.integers(4, 9)), 2))
        elif kind == 1:
            steps = int(rng.integers(3, 7))
            xs = np.linspace(8, 48, steps)
            zigzag = rng.choice([-1, 1]) * radius * (np.arange(steps) % 2 - 0.5)
            points = np.stack([xs, 28 + zigzag], axis=1)
        elif kind == 2:
            sides = int(rng.integers(3, 7))
            angles = rng.uniform(0, 2 * np.pi) + 2 * np.pi * np.arange(sides + 1) / sides
            points = centre + radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)
        elif kind == 3:
            arms = int(rng.integers(2, 5))
            for arm in range(arms):
                angle = np.pi * arm / arms + rng.uniform(-0.2, 0.2)
                end = radius * np.array([np.cos(angle), np.sin(angle)])
                cv2.line(image, tuple(int(v) for v in centre - end),
                         tuple(int(v) for v in centre + end), 255, pen)
            continue
        elif kind == 4:
            turns = rng.uniform(1.5, 3)
            angles = np.linspace(0, 2 * np.pi * turns, 40)
            points = centre + (radius * angles / angles[-1])[:, None] * np.stack(
                [np.cos(angles), np.sin(angles)], axis=1)
        else:
            cv2.rectangle(image, (int(centre[0] - radius), int(centre[1] - radius * 0.8)),
                          (int(centre[0] + radius), int(centre[1] + radius * 0.8)), 255, pen)
            cv2.line(image, (int(centre[0] - radius), int(centre[1] - radius * 0.8)),
                     (int(centre[0] + radius), int(centre[1] + radius * 0.8)), 255, pen)
            continue
        cv2.polylines(image, [points.astype(np.int32)], False, 255, pen, cv2.LINE_AA)
    return torch.from_numpy(images).float() / 255


@functools.cache
def _fonts() -> list[tuple[object, str]]:
    """Fonts that ship with matplotlib, each with the letters it draws. (DejaVu Sans itself is
    left to the benchmark, which sets its glyphs in it.) Loaded once: the fit draws glyphs
    batch by batch."""
    import matplotlib
    from PIL import ImageFont

    folder = Path(matplotlib.get_data_path()) / "fonts" / "ttf"
    common = LATIN + GREEK + CYRILLIC + SIGNS
    chosen = (("DejaVuSerif.ttf", common + ARMENIAN + GEORGIAN),
              ("DejaVuSansMono.ttf", common + ARMENIAN + GEORGIAN),
              ("DejaVuSans-Bold.ttf", common + ARMENIAN + GEORGIAN + HEBREW),
              ("DejaVuSerif-Italic.ttf", common),
              ("STIXGeneral.ttf", common))
    return [(ImageFont.truetype(str(folder / name), 40), letters) for name, letters in chosen]


def _glyphs(count: int, rng: np.random.Generator) -> torch.Tensor:
    """Letters of many alphabets and signs, set in fonts and slanted and thickened at random
    like handwriting."""
    from PIL import Image, ImageDraw

    fonts = _fonts()
    images = np.zeros((count, CANVAS, CANVAS), dtype=np.uint8)
    for index in range(count):
        font, letters = fonts[int(rng.integers(0, len(fonts)))]
        canvas = Image.new("L", (CANVAS, CANVAS), 0)
        ImageDraw.Draw(canvas).text((CANVAS / 2, CANVAS / 2), str(rng.choice(list(letters))),
                                    font=font, fill=255, anchor="mm")
        shear = rng.uniform(-0.3, 0.3)
        warp = np.float32([[1, shear, -shear * CANVAS / 2], [0, 1, 0]])
        image = cv2.warpAffine(np.asarray(canvas), warp, (CANVAS, CANVAS))
        pen = int(rng.integers(1, 4))
        images[index] = cv2.dilate(image, np.ones((pen, pen), np.uint8))
    return torch.from_numpy(images).float() / 255


def outliers(digits: torch.Tensor, count: int, seed: int = 0) -> torch.Tensor:
    """``count`` normalized 28x28 outliers: half made from ``digits`` (float, white on black),
    a quarter strokes and shapes, a quarter glyphs."""
    rng = np.random.default_rng(seed)
    chosen = digits[torch.from_numpy(rng.integers(0, len(digits), count // 2))]
    parts = [_pieces(chosen, rng), _strokes(count // 4, rng), _glyphs(count - count // 2
                                                                      - count // 4, rng)]
    return renormalize(torch.cat(parts))


FEATURES = 16 * 7 * 7 + 10
"""The penultimate features and the logits."""
HIDDEN = 32


@dataclass(frozen=True)
class Rejection:
    """A digit score for 28x28 inputs: log-odds that an input is a digit at all, from the
    ConvNet's penultimate features and logits (standardized, then a small two-layer head).
    ``threshold``: below it an input is not a digit."""

    mean: torch.Tensor
    scale: torch.Tensor
    hidden_weights: torch.Tensor
    hidden_bias: torch.Tensor
    output_weights: torch.Tensor
    output_bias: float
    threshold: float

    def score(self, features: torch.Tensor, logits: torch.Tensor) -> torch.Tensor:
        inputs = (torch.cat([features, logits], dim=1) - self.mean) / self.scale
        hidden = torch.relu(inputs @ self.hidden_weights + self.hidden_bias)
        return hidden @ self.output_weights + self.output_bias

    def as_json(self) -> dict:
        def rounded(tensor: torch.Tensor) -> list:
            return np.round(tensor.numpy().astype(np.float64), 6).tolist()

        return {
            "method": "two-layer head on the penultimate features and logits, fitted against "
                      "generated outliers",
            "mean": rounded(self.mean),
            "scale": rounded(self.scale),
            "hidden_weights": rounded(self.hidden_weights),
            "hidden_bias": rounded(self.hidden_bias),
            "output_weights": rounded(self.output_weights),
            "output_bias": self.output_bias,
            "threshold": self.threshold,
        }

    @classmethod
    def from_json(cls, record: dict) -> "Rejection":
        """Raises ``ValueError`` (or ``KeyError``/``TypeError``) for a malformed record."""
        tensors = {key: torch.tensor(record[key], dtype=torch.float32)
                   for key in ("mean", "scale", "hidden_weights", "hidden_bias",
                               "output_weights")}
        shapes = {"mean": (FEATURES,), "scale": (FEATURES,), "hidden_weights": (FEATURES, HIDDEN),
                  "hidden_bias": (HIDDEN,), "output_weights": (HIDDEN,)}
        if any(tensors[key].shape != shape for key, shape in shapes.items()):
            raise ValueError("not-a-digit statistics of the wrong shape")
        bias, threshold = float(record["output_bias"]), float(record["threshold"])
        if not (all(torch.isfinite(t).all() for t in tensors.values()) and math.isfinite(bias)
                and math.isfinite(threshold) and (tensors["scale"] > 0).all()):
            raise ValueError("not-a-digit statistics are not finite")
        return cls(**tensors, output_bias=bias, threshold=threshold)


FIT_BATCH = 500
"""Images normalized and scored at a time while fitting: keeps ``mnist-train``'s peak memory
down."""


@torch.no_grad()
def _inputs(model: torch.nn.Module, batches: Iterable[torch.Tensor]) -> torch.Tensor:
    """The head's inputs (features and logits) for batches of 28x28 inputs."""
    device = next(model.parameters()).device
    return torch.cat([torch.cat(penultimate(model, batch.unsqueeze(1).to(device)), dim=1).cpu()
                      for batch in batches])


def fit_rejection(model: torch.nn.Module, digits: torch.Tensor, count: int = 5000,
                  seed: int = 0) -> Rejection:
    """Fit the digit score of a trained ``model`` against outliers made from ``digits``
    (uint8 ``(N, 28, 28)``, the training images), with those digits clean and handed over
    (``mnist_cnn.handed``) as the positives; the threshold rejects ``REJECT_DIGITS`` of held-out
    ones handed over. Runs on the model's device; reproducible for a seed on the CPU."""
    generator = torch.Generator().manual_seed(seed)
    count = min(count, max(1, 2 * len(digits) // 3))  # small training sets in tests
    order = torch.randperm(len(digits), generator=generator)[:count + count // 2]
    chosen = digits[order.to(digits.device)].float().div(255).cpu()
    model.eval()
    fitted = chosen[:count].split(FIT_BATCH)
    positive = torch.cat([
        _inputs(model, (renormalize(batch) for batch in fitted)),
        _inputs(model, (handed_over_inputs(batch, seed + index)
                        for index, batch in enumerate(fitted[:len(fitted) // 2 or 1])))])
    negative = _inputs(model, (outliers(batch, len(batch), seed + index * FIT_BATCH)
                               for index, batch in enumerate(fitted)))
    held = chosen[count:] if len(chosen) > count else chosen
    held_out = _inputs(model, (handed_over_inputs(batch, seed + 1000 + index)
                               for index, batch in enumerate(held.split(FIT_BATCH))))
    inputs = torch.cat([positive, negative])
    labels = torch.cat([torch.ones(len(positive)), torch.zeros(len(negative))])
    mean, scale = inputs.mean(0), inputs.std(0) + 1e-3
    standard = (inputs - mean) / scale
    torch.manual_seed(seed)
    head = torch.nn.Sequential(torch.nn.Linear(FEATURES, HIDDEN), torch.nn.ReLU(),
                               torch.nn.Linear(HIDDEN, 1))
    optimizer = torch.optim.Adam(head.parameters(), lr=2e-3, weight_decay=1e-4)
    for _ in range(HEAD_EPOCHS):
        for batch in torch.randperm(len(standard), generator=generator).split(512):
            loss = F.binary_cross_entropy_with_logits(head(standard[batch]).squeeze(1),
                                                      labels[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    first, last = head[0], head[2]
    rejection = Rejection(mean, scale, first.weight.detach().T.contiguous(),
                          first.bias.detach(), last.weight.detach()[0],
                          float(last.bias.detach()), 0.0)
    held_scores = rejection.score(held_out[:, :FEATURES - 10], held_out[:, FEATURES - 10:])
    return replace(rejection, threshold=float(torch.quantile(held_scores, REJECT_DIGITS)))


def load_rejection(checkpoint: Path) -> tuple[Rejection | None, str | None]:
    """The digit score saved in ``checkpoint``'s sidecar, or ``None`` and a one-line note why
    rejection is off (a checkpoint from the reference script has no sidecar)."""
    sidecar = sidecar_path(checkpoint)
    try:
        record = json.loads(sidecar.read_text())["rejection"]
        return Rejection.from_json(record), None
    except FileNotFoundError:
        reason = f"no {sidecar.name} beside it"
    except (OSError, ValueError, KeyError, TypeError) as error:
        reason = f"{sidecar.name} has no usable not-a-digit statistics ({type(error).__name__})"
    return None, (f"{checkpoint}: {reason}, so marks are not checked for being digits "
                  "(train with mnist-train to get them)")
