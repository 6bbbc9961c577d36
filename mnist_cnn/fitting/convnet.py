"""Training the ConvNet: shuffled batches sliced from tensors already on the device, one-cycle
Adam, bfloat16 autocast where the hardware runs it natively, augmented batches
(``loop.augment``), evaluation on the test set.

Progress is reported through callbacks so the loop itself never prints.
"""

import math
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F

from mnist_cnn.errors import TrainingDiverged
from mnist_cnn.fitting.data import Mnist, Split
from mnist_cnn.fitting.loop import augment

EVAL_BATCH_SIZE = 500
"""Small enough for a batch's activations to stay in the CPU's cache: 2x faster than 2000."""
FUSED_ADAM_DEVICES = ("cpu", "cuda")
"""Where torch has a fused Adam kernel: one call per step instead of one per parameter."""
ADAM_BETAS = (0.9, 0.99)
"""beta2 0.99 rather than 0.999: the second-moment estimate follows the short schedule."""
START_FACTOR = 1 / 25
PRECISIONS = ("auto", "bf16", "fp32")
NATIVE_BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")


@dataclass(frozen=True)
class TrainConfig:
    """Defaults tuned for test accuracy per second on a 2-core CPU (see README)."""

    epochs: int = 6
    batch_size: int = 256
    lr: float = 0.04
    warmup: float = 0.2
    """Share of the steps spent raising the learning rate; the rest lowers it linearly."""
    hard_share: float = 0.3
    """Epochs after the first train on this share of the images: those with the highest loss
    when last seen. 1: every image every epoch."""
    seed: int = 1
    log_interval: int = 100
    augment: bool = True
    """Random slant, size, pen width and low-resolution copies (``augment``)."""
    precision: str = "auto"
    """``auto``: bf16 autocast where :func:`native_bf16` says so, else fp32."""


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
    steps: int = 0
    images: int = 0
    """Images trained on in this epoch: all of them in the first, ``hard_share`` later."""


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
    precision: str = "fp32"
    """What ``auto`` resolved to: ``bf16`` (autocast) or ``fp32``."""


def _cpu_flags() -> set[str]:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                return set(line.partition(":")[2].split())
    except OSError:
        pass
    return set()


def native_bf16(device: torch.device) -> bool:
    """Whether the device computes in bfloat16 natively: Ampere or newer GPUs; x86 CPUs with
    AVX512-BF16 or AMX. Elsewhere torch emulates it, slower than float32, so we stay in fp32."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported(including_emulation=False)
    if device.type != "cpu":
        return False
    probes = [getattr(torch.cpu, name, None)
              for name in ("_is_avx512_bf16_supported", "_is_amx_tile_supported")]
    if all(probe is not None for probe in probes):
        return any(probe() for probe in probes)
    return bool(_cpu_flags() & set(NATIVE_BF16_CPU_FLAGS))


def resolve_precision(precision: str, device: torch.device) -> str:
    """``auto`` -> ``bf16`` or ``fp32`` for ``device``; the other two stay as they are."""
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}: use one of {', '.join(PRECISIONS)}")
    if precision == "auto":
        return "bf16" if native_bf16(device) else "fp32"
    return precision


def as_input(images: torch.Tensor) -> torch.Tensor:
    """uint8 ``(N, 28, 28)`` -> float ``(N, 1, 28, 28)`` in [0, 1], as ToTensor gives."""
    return images.unsqueeze(1).float().div_(255)


def one_cycle(step: int, total: int, warmup: float) -> float:
    """Learning-rate factor: linear from 1/25 up to 1 over the first ``warmup`` share of the
    steps, then linear down to 0 after the last step. Linear decay beat cosine here (README)."""
    peak = max(0, min(round(warmup * total), total - 1))
    if step < peak:
        return START_FACTOR + (1 - START_FACTOR) * step / peak
    return max(0.0, (total - step) / (total - peak))


def _autocast(precision: str, device: torch.device) -> AbstractContextManager:
    """bf16 autocast: convolutions and the linear layer in bfloat16, BatchNorm, the loss and the
    weights (and so the Adam step and the checkpoint) in float32."""
    if precision == "bf16":
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return nullcontext()


def _forward(model: torch.nn.Module, images: torch.Tensor) -> torch.Tensor:
    """``model(images)``; on the CPU with the second block in channels-last memory layout, where
    oneDNN's 6->16 convolution and max-pooling are faster (see README)."""
    if images.device.type != "cpu":
        return model(images)
    hidden = model.layer1(images).contiguous(memory_format=torch.channels_last)
    return model.fc(model.layer2(hidden).flatten(1))


@torch.no_grad()
def evaluate(model: torch.nn.Module, split: Split, precision: str = "fp32") -> Evaluation:
    """Softmax over ``split`` in float32, as the checkpoint is used; ``bf16`` for a quick look."""
    model.eval()
    with _autocast(precision, split.images.device):
        probabilities = torch.cat([
            F.softmax(_forward(model, as_input(split.images[start:start + EVAL_BATCH_SIZE]))
                      .float(), dim=1)
            for start in range(0, len(split), EVAL_BATCH_SIZE)
        ]) if len(split) else torch.empty(0, 10)
    return Evaluation(probabilities.cpu(), probabilities.argmax(1).cpu(), split.labels.cpu())


def epoch_sizes(count: int, config: TrainConfig) -> list[int]:
    """Images per epoch: all ``count`` in the first, the ``hard_share`` hardest in the others."""
    later = min(count, max(1, round(config.hard_share * count)))
    return [count] + [later] * (config.epochs - 1)


def epoch_order(last_loss: torch.Tensor, size: int, shuffle: torch.Generator) -> torch.Tensor:
    """Indices of the ``size`` images with the highest ``last_loss`` (all when ``size`` is all),
    in a random order drawn from ``shuffle``."""
    if size == len(last_loss):
        chosen = torch.arange(size, device=last_loss.device)
    else:  # sorted, so that the order depends on the set only, not on how topk lists ties
        chosen = last_loss.topk(size).indices.sort().values
    return chosen[torch.randperm(size, generator=shuffle).to(last_loss.device)]


def fit_convnet(
    model: torch.nn.Module,
    data: Mnist,
    config: TrainConfig,
    on_step: Callable[[StepEvent], None] | None = None,
    on_epoch: Callable[[EpochStats], None] | None = None,
) -> History:
    """Train ``model`` in place on ``data`` (already on the model's device).

    After the first epoch most digits are learnt; later epochs skip them and spend their steps on
    the ``hard_share`` of images with the highest loss when the model last saw them (README).
    Raises ``TrainingDiverged`` as soon as a logged loss is NaN or infinite.
    """
    device = data.train.images.device
    torch.manual_seed(config.seed)
    shuffle = torch.Generator().manual_seed(config.seed)
    count = len(data.train)
    sizes = epoch_sizes(count, config)
    steps = [math.ceil(size / config.batch_size) for size in sizes]
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr, betas=ADAM_BETAS,
                                 fused=device.type in FUSED_ADAM_DEVICES)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: one_cycle(step, sum(steps), config.warmup))
    history = History(precision=resolve_precision(config.precision, device))
    autocast = _autocast(history.precision, device)
    last_loss = torch.full((count,), math.inf, device=device)
    for epoch, size, steps_per_epoch in zip(range(1, config.epochs + 1), sizes, steps,
                                            strict=True):
        started = time.perf_counter()
        model.train()
        order = epoch_order(last_loss, size, shuffle)
        losses = []
        for step in range(1, steps_per_epoch + 1):
            index = order[(step - 1) * config.batch_size:step * config.batch_size]
            images = as_input(data.train.images[index])
            if config.augment:
                images = augment(images)
            with autocast:
                logits = _forward(model, images)
            image_losses = F.cross_entropy(logits.float(), data.train.labels[index],
                                           reduction="none")
            loss = image_losses.mean()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            history.step_lrs.append(schedule.get_last_lr()[0])
            schedule.step()
            last_loss[index] = image_losses.detach()
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
        # Epochs before the last are evaluated under autocast too (a progress figure, in about
        # half the time); the last one, the reported accuracy, in float32.
        history.final_evaluation = evaluate(
            model, data.test, "fp32" if epoch == config.epochs else history.precision)
        stats = EpochStats(
            epoch=epoch,
            train_loss=sum(epoch_losses) / len(epoch_losses),
            test_accuracy=history.final_evaluation.accuracy,
            lr=history.step_lrs[-1],
            seconds=time.perf_counter() - started,
            steps=steps_per_epoch,
            images=size,
        )
        history.epochs.append(stats)
        if on_epoch:
            on_epoch(stats)
    return history
