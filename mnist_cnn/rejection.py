"""Tell digits from everything else: letters, signs, doodles, and the pieces and pairs that a
wrong cut through a number makes.

The ConvNet's softmax always names a digit, often confidently. A separate small network, the
detector, gives each 28x28 input a digit score in log-odds. ``mnist-train`` fits it in seconds
on the training digits, clean and handed over as users hand digits over (``mnist_cnn.handed``),
against outliers made on the fly (``mnist_cnn.outliers``); the ConvNet itself is not touched
(trained with outliers, it reads digits less well). Its weights and threshold are a sidecar,
``model.detector.pt``, so ``model.ckpt`` stays the reference's plain state_dict; a checkpoint
without it still reads digits, with rejection off.
"""

from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from mnist_cnn import shipped
from mnist_cnn.checkpoint import check_compatible, read_state_dict, save_state_dict
from mnist_cnn.handed import KINDS, handed_over_inputs
from mnist_cnn.normalization import normalize_batch
from mnist_cnn.outliers import outliers
from mnist_cnn.training import augment

REJECT_DIGITS = 0.005
"""The threshold rejects at most this share of held-out training digits handed over each way
users hand digits over (scans, other pens, blur, JPEG): of each way, so that the hardest,
low-resolution scans, are kept as well as the rest. (The tenth-lowest of two thousand
generated scans: the third-lowest of a thousand, 0.3 %, moved from -4 to -7 between samples
of one detector.)"""
FIT_DIGITS = 12_000
"""Training digits the detector is fitted on, with as many outliers."""
FIT_EPOCHS = 8
HELD_OUT = 12_000
"""Further training digits, handed over (two thousand each way), that set the threshold."""
BATCH = 256


class DigitDetector(nn.Module):
    """Input ``(N, 1, 28, 28)`` like the ConvNet's; output ``(N,)`` log-odds that each is a
    digit at all. ``threshold``: below it an input is not a digit."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 8, 5, padding=2), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(8, 16, 5, padding=2), nn.BatchNorm2d(16), nn.ReLU(), nn.MaxPool2d(2),
        )
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(16 * 7 * 7, 64), nn.ReLU(),
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
                 seed: int = 0, count: int = FIT_DIGITS, epochs: int = FIT_EPOCHS) -> DigitDetector:
    """Fit a detector on ``count`` of ``digits`` (uint8 ``(N, 28, 28)``, the training images,
    with their ``labels``), half clean and half handed over, against as many outliers, every
    batch warped and re-penned like the ConvNet's (``training.augment``); its threshold
    rejects at most ``REJECT_DIGITS`` of held-out digits handed over each way. Reproducible
    for a seed on the CPU."""
    generator = torch.Generator().manual_seed(seed)
    count = min(count, max(2, len(digits) // 3))  # small training sets in tests
    order = torch.randperm(len(digits), generator=generator)
    pixels = digits.cpu().float().div(255)
    chosen, others = order[:count], order[count:2 * count]
    half = count // 2
    positive = torch.cat([normalize_batch(pixels[chosen[:half]]),
                          handed_over_inputs(pixels[chosen[half:]], seed)])
    negative = outliers(pixels[others], labels.cpu()[others], count, seed)
    held = order[2 * count:2 * count + HELD_OUT]
    held_out = handed_over_inputs(pixels[held if len(held) else chosen], seed + 1)
    inputs = torch.cat([positive, negative]).unsqueeze(1)
    targets = torch.cat([torch.ones(len(positive)), torch.zeros(len(negative))])
    torch.manual_seed(seed)
    detector = DigitDetector().to(device)
    optimizer = torch.optim.Adam(detector.parameters(), lr=2e-3)
    steps = epochs * -(-len(inputs) // BATCH)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, 3e-3, total_steps=steps)
    detector.train()
    for _ in range(epochs):
        for batch in torch.randperm(len(inputs), generator=generator).split(BATCH):
            logits = detector(augment(inputs[batch].to(device)))
            loss = F.binary_cross_entropy_with_logits(logits, targets[batch].to(device))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
    detector.eval()
    scores = _scores(detector, held_out)
    kinds = torch.arange(len(scores)) % len(KINDS)
    detector.threshold.fill_(min(float(torch.quantile(scores[kinds == kind], REJECT_DIGITS))
                                 for kind in kinds.unique()))
    return detector


def save_detector(detector: DigitDetector, checkpoint: Path) -> None:
    """Write the detector's sidecar beside ``checkpoint`` atomically (raises
    ``CheckpointError``; a good file is never replaced by a broken one)."""
    save_state_dict(detector.state_dict(), detector_path(checkpoint))


def load_detector(checkpoint: Path, device: torch.device) -> DigitDetector:
    """The detector beside ``checkpoint`` (``model.detector.pt``, from ``mnist-train
    --fit-detector``), else the one that ships with the package: it does not depend on the
    ConvNet, so it serves any checkpoint. Raises ``CheckpointError`` for a sidecar that is
    there but unusable, or a shipped file that does not match its provenance."""
    path = detector_path(checkpoint)
    if not path.exists():
        path = shipped.verified(shipped.DETECTOR)
    state = read_state_dict(path)
    detector = DigitDetector()
    check_compatible(state, path, detector, "not-a-digit detector")
    detector.load_state_dict(state)
    return detector.to(device).eval()
