"""The training loop: shuffled batches sliced from tensors already on the device, one-cycle Adam.

Progress is reported through callbacks so the loop itself never prints.
"""

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from mnist_cnn.data import Mnist, Split
from mnist_cnn.errors import TrainingDiverged

EVAL_BATCH_SIZE = 2000
FUSED_ADAM_DEVICES = ("cpu", "cuda")
"""Where torch has a fused Adam kernel: one call per step instead of one per parameter."""


@dataclass(frozen=True)
class TrainConfig:
    """Defaults tuned for test accuracy per second on a 2-core CPU (see README)."""

    epochs: int = 3
    batch_size: int = 256
    lr: float = 0.03
    seed: int = 1
    log_interval: int = 100
    augment: bool = False


@dataclass(frozen=True)
class StepEvent:
    epoch: int
    step: int
    steps_per_epoch: int
    loss: float | None
    """Set only every ``log_interval`` steps, so the loop does not wait on the device each step."""


@dataclass(frozen=True)
class EpochStats:
    epoch: int
    train_loss: float
    test_accuracy: float
    lr: float
    seconds: float


@dataclass(frozen=True)
class Evaluation:
    """Per-image softmax probabilities and predictions on one split."""

    probabilities: torch.Tensor
    predictions: torch.Tensor
    labels: torch.Tensor

    @property
    def accuracy(self) -> float:
        if len(self.labels) == 0:
            return 0.0
        return 100.0 * (self.predictions == self.labels).float().mean().item()


@dataclass
class History:
    epochs: list[EpochStats] = field(default_factory=list)
    step_losses: list[float] = field(default_factory=list)
    step_lrs: list[float] = field(default_factory=list)
    final_evaluation: Evaluation | None = None
    """The test-set evaluation after the last epoch, kept for the report."""


def as_input(images: torch.Tensor) -> torch.Tensor:
    """uint8 ``(N, 28, 28)`` -> float ``(N, 1, 28, 28)`` in [0, 1], as ToTensor gives."""
    return images.unsqueeze(1).float().div_(255)


@torch.no_grad()
def evaluate(model: torch.nn.Module, split: Split) -> Evaluation:
    model.eval()
    probabilities = torch.cat([
        F.softmax(model(as_input(split.images[start:start + EVAL_BATCH_SIZE])), dim=1)
        for start in range(0, len(split), EVAL_BATCH_SIZE)
    ]) if len(split) else torch.empty(0, 10)
    return Evaluation(probabilities.cpu(), probabilities.argmax(1).cpu(), split.labels.cpu())


def augment(batch: torch.Tensor) -> torch.Tensor:
    """Random small affine warps and stroke thickening/thinning, on the device, per image.

    Real handwriting differs from MNIST mostly in slant, size, position and pen width.
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
    thicker = F.max_pool2d(warped, 3, stride=1, padding=1)
    thinner = -F.max_pool2d(-warped, 3, stride=1, padding=1)
    choice = torch.randint(0, 4, (count, 1, 1, 1), device=device)
    return torch.where(choice == 0, thicker, torch.where(choice == 1, thinner, warped))


def train(
    model: torch.nn.Module,
    data: Mnist,
    config: TrainConfig,
    on_step: Callable[[StepEvent], None] | None = None,
    on_epoch: Callable[[EpochStats], None] | None = None,
) -> History:
    """Train ``model`` in place on ``data`` (already on the model's device).

    Raises ``TrainingDiverged`` as soon as a logged loss is NaN or infinite.
    """
    device = data.train.images.device
    torch.manual_seed(config.seed)
    shuffle = torch.Generator().manual_seed(config.seed)
    count = len(data.train)
    steps_per_epoch = math.ceil(count / config.batch_size)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr,
                                 fused=device.type in FUSED_ADAM_DEVICES)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=config.lr, total_steps=config.epochs * steps_per_epoch
    )
    history = History()
    for epoch in range(1, config.epochs + 1):
        started = time.perf_counter()
        model.train()
        order = torch.randperm(count, generator=shuffle).to(device)
        losses = []
        for step in range(1, steps_per_epoch + 1):
            index = order[(step - 1) * config.batch_size:step * config.batch_size]
            images = as_input(data.train.images[index])
            if config.augment:
                images = augment(images)
            loss = F.cross_entropy(model(images), data.train.labels[index])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            history.step_lrs.append(schedule.get_last_lr()[0])
            schedule.step()
            losses.append(loss.detach())
            logged = None
            if step % config.log_interval == 0 or step == steps_per_epoch:
                logged = loss.item()
                if not math.isfinite(logged):
                    raise TrainingDiverged(
                        f"loss became {logged} at epoch {epoch}, step {step}; "
                        "weights not saved (try a lower --lr)"
                    )
            if on_step:
                on_step(StepEvent(epoch, step, steps_per_epoch, logged))
        epoch_losses = torch.stack(losses).cpu().tolist()
        history.step_losses.extend(epoch_losses)
        history.final_evaluation = evaluate(model, data.test)
        stats = EpochStats(
            epoch=epoch,
            train_loss=sum(epoch_losses) / len(epoch_losses),
            test_accuracy=history.final_evaluation.accuracy,
            lr=history.step_lrs[-1],
            seconds=time.perf_counter() - started,
        )
        history.epochs.append(stats)
        if on_epoch:
            on_epoch(stats)
    return history
