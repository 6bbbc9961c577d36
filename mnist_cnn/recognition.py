"""Recognize digits in image files: expand the user's paths, prepare images, predict in batches.

Files are prepared in worker processes (decoding and normalizing are the slow part) and streamed
through the network a batch at a time, so 10,000 files take no more memory than one batch.
"""

import glob
import multiprocessing
import os
import signal
import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from mnist_cnn.errors import UsageError
from mnist_cnn.preprocess import Prepared, prepare

IMAGE_SUFFIXES = frozenset({
    ".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".pgm", ".ppm", ".pbm",
})
BATCH_SIZE = 512
PARALLEL_FROM = 64
"""Fewer files than this are prepared in-process: starting workers would cost more than it saves."""


@dataclass
class Recognition:
    """What was read from one file. ``digit`` is ``None`` for blank images and errors."""

    path: str
    digit: int | None = None
    confidence: float | None = None
    top_k: list[tuple[int, float]] = field(default_factory=list)
    uncertain: bool = False
    blank: bool = False
    error: str | None = None
    network_input: np.ndarray | None = None
    preview: np.ndarray | None = None

    def as_json(self) -> dict:
        return {
            "path": self.path,
            "digit": self.digit,
            "confidence": self.confidence,
            "top_k": [{"digit": digit, "confidence": p} for digit, p in self.top_k],
            "uncertain": self.uncertain,
            "blank": self.blank,
            "error": self.error,
        }


def expand_inputs(patterns: Sequence[str]) -> list[Path]:
    """Files as given, directories' image files (sorted), and glob patterns the shell left alone.

    A name that matches nothing is kept, so the user gets a per-file error for it.
    Raises ``UsageError`` when nothing at all was given or matched.
    """
    paths: list[Path] = []
    for pattern in patterns:
        path = Path(pattern)
        if path.is_dir() and path.suffix.lower() not in IMAGE_SUFFIXES:
            try:
                children = sorted(path.iterdir())
            except OSError as error:
                raise UsageError(f"{path}: cannot list the folder ({error.strerror})") from error
            paths.extend(child for child in children if child.suffix.lower() in IMAGE_SUFFIXES)
        elif os.path.lexists(pattern) or not glob.has_magic(pattern):
            paths.append(path)
        else:
            paths.extend(Path(match) for match in sorted(glob.glob(pattern)))
    if not paths:
        raise UsageError(f"no image files matched {' '.join(patterns)}")
    return paths


def _prepare_task(job: tuple[Path, bool], mode: str) -> Prepared:
    path, keep_preview = job
    return prepare(path, mode=mode, keep_preview=keep_preview)


def _prepared_stream(paths: Sequence[Path], mode: str, keep_images: int,
                     workers: int) -> Iterator[Prepared]:
    jobs = [(path, index < keep_images) for index, path in enumerate(paths)]
    task = partial(_prepare_task, mode=mode)
    use_pool = workers > 1 and len(paths) >= PARALLEL_FROM and sys.platform == "linux"
    if not use_pool:
        yield from map(task, jobs)
        return
    with multiprocessing.get_context("fork").Pool(workers, _quiet_worker) as pool:
        yield from pool.imap(task, jobs, chunksize=16)


def _quiet_worker() -> None:
    """Workers leave Ctrl-C to the main process, which stops them and reports it in one line."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _batches(items: Iterable, size: int) -> Iterator[list]:
    batch = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


@torch.no_grad()
def recognize(
    paths: Sequence[Path],
    model: torch.nn.Module,
    device: torch.device,
    mode: str = "mnist",
    top_k: int = 1,
    threshold: float = 0.5,
    keep_images: int = 0,
    workers: int | None = None,
    batch_size: int = BATCH_SIZE,
) -> Iterator[Recognition]:
    """Yield one ``Recognition`` per path, in order. Bad files become results with ``error``.

    ``threshold``: below this softmax confidence the answer is marked ``uncertain``.
    ``keep_images``: for the first this many files, also keep the grayscale image and the
    28x28 input, for pictures.
    """
    workers = workers if workers is not None else (os.cpu_count() or 1)
    model.eval()
    stream = _prepared_stream(paths, mode, keep_images, workers)
    for batch in _batches(zip(paths, stream, strict=True), batch_size):
        ready = [prepared.pixels for _, prepared in batch if prepared.pixels is not None]
        if ready:
            inputs = torch.from_numpy(np.stack(ready)).unsqueeze(1).to(device)
            probabilities = F.softmax(model(inputs), dim=1).cpu()
            best, order = probabilities.topk(top_k, dim=1)
            best, order = best.tolist(), order.tolist()
        row = 0
        for path, prepared in batch:
            result = Recognition(str(path), error=prepared.error, blank=prepared.blank)
            if prepared.pixels is not None:
                result.top_k = [(int(d), float(p)) for d, p in zip(order[row], best[row],
                                                                  strict=True)]
                result.digit, result.confidence = result.top_k[0]
                result.uncertain = result.confidence < threshold
                row += 1
            if prepared.preview is not None:
                result.network_input, result.preview = prepared.pixels, prepared.preview
            yield result
