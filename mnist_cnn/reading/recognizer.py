"""Read the digits in pictures: files, folders, uploads and drawings, one pipeline for all.

``Recognizer`` composes the stages: each picture is prepared (``pipeline``: decoded, its ink
found, its candidate digits laid out and their inputs made), the networks judge the candidates
of a batch of pictures at once (``evidence``), the best partition of each line is chosen
(``scoring``) and the digits read become a ``Recognition`` (``results``). Files are prepared in
worker processes and streamed through the networks a batch at a time, so 10,000 files take no
more memory than one batch.

From Python: ``Recognizer.load("model.ckpt")``, then ``read`` a path, a Pillow image, a numpy
array or an image file's bytes, or ``read_many`` of them; ``mnist-recognize`` is built on the same
calls, and a ``Recognition`` prints as its line (``str``) and shows as its picture in Jupyter.
"""

import math
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from itertools import groupby
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from mnist_cnn.device import select_device
from mnist_cnn.errors import ImageError, UsageError
from mnist_cnn.networks import registry
from mnist_cnn.networks.detector import FORMS
from mnist_cnn.networks.pairs import ONE_DIGIT
from mnist_cnn.reading.evidence import Evidence, Networks
from mnist_cnn.reading.images import decode_array, decode_bytes, decode_image
from mnist_cnn.reading.inputs import SIDE
from mnist_cnn.reading.pipeline import (
    PREPROCESS_MODES,
    READ,
    Options,
    Prepared,
    prepare,
    prepare_paths,
)
from mnist_cnn.reading.results import DigitReading, Recognition, RejectedMark
from mnist_cnn.reading.scoring import (
    Partition,
    alternatives,
    candidate_values,
    chosen,
    digit_threshold,
    left_out,
    partitions,
    reads_as_digits,
    whole_features,
)

MAX_TOP_K = 10
BATCH_SIZE = 64
"""Pictures judged by the networks at once: a batch is read while the workers prepare the
next, so no core waits for the last ones."""

Picture = str | os.PathLike | Image.Image | np.ndarray | bytes
"""What ``Recognizer.read`` takes: a file's path, a Pillow image, a numpy array (see
``images.decode_array``) or the bytes of an image file."""
DECODERS = {"image": decode_image, "array": decode_array, "bytes": decode_bytes}


def _kind(picture: Picture) -> str:
    """``path`` or a key of ``DECODERS``; ``TypeError`` for anything else (a programmer's
    mistake, unlike a picture that cannot be read)."""
    if isinstance(picture, str | os.PathLike):
        return "path"
    if isinstance(picture, Image.Image):
        return "image"
    if isinstance(picture, np.ndarray):
        return "array"
    if isinstance(picture, bytes | bytearray | memoryview):
        return "bytes"
    raise TypeError(f"cannot read a {type(picture).__name__}: give a file's path, a PIL image, "
                    "a numpy array or the bytes of an image file")


def digit_count(length: int | tuple[int, int] | None) -> tuple[int, int] | None:
    """``length`` (a count of digits, or the fewest and most) as ``(fewest, most)``;
    ``UsageError`` for anything else."""
    if length is None:
        return None
    bounds = (length, length) if isinstance(length, int) else tuple(length)
    if (len(bounds) != 2 or not all(isinstance(b, int) and not isinstance(b, bool)
                                    for b in bounds) or not 1 <= bounds[0] <= bounds[1]):
        raise UsageError(f"length must be a count of digits of at least 1, or the fewest and "
                         f"most (fewest <= most), got {length!r}")
    return bounds


def _check_settings(top_k: int, threshold: float, reject_threshold: float | None,
                    preprocess: str) -> None:
    """The ranges ``mnist-recognize``'s flags enforce, for callers from Python."""
    if not (isinstance(top_k, int) and 1 <= top_k <= MAX_TOP_K):
        raise UsageError(f"top_k must be a whole number between 1 and {MAX_TOP_K}, got {top_k}")
    if not 0 <= threshold <= 1:
        raise UsageError(f"threshold must be between 0 and 1, got {threshold}")
    if reject_threshold is not None and not math.isfinite(reject_threshold):
        raise UsageError(f"reject_threshold must be a finite number, got {reject_threshold}")
    if preprocess not in PREPROCESS_MODES:
        raise UsageError(f"preprocess must be one of {', '.join(PREPROCESS_MODES)}, "
                         f"got {preprocess!r}")


def _batches(items: Iterable, size: int) -> Iterator[list]:
    batch = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


class Recognizer:
    """The trained network and the settings for reading pictures with it.

    ``threshold``: below this softmax confidence a digit is marked ``uncertain``;
    ``top_k``: how many likely digits each reading lists; ``detector``: the not-a-digit
    detector, which gives each mark a digit score (``None``: every mark is read as a digit);
    ``reject_threshold``: below this digit score a mark is not a digit (default ``None``: the
    threshold the detector was fitted with for the form of the picture, ``FORMS``);
    ``verifier`` and ``pair_reader``: the segment verifier and
    the pair reader, which judge how a line divides into digits (``None``: by the network's
    confidence alone), or ``search_parts``: gives them when a picture first needs them;
    ``length``: how many digits a picture holds (a count, or the fewest and most): the likeliest
    reading of that many is read where there is one, its digits not judged one by one.
    """

    def __init__(self, model: torch.nn.Module, device: torch.device, *, top_k: int = 1,
                 threshold: float = 0.5, options: Options = READ,
                 detector: torch.nn.Module | None = None,
                 reject_threshold: float | None = None,
                 verifier: torch.nn.Module | None = None,
                 pair_reader: torch.nn.Module | None = None,
                 search_parts: Callable[[], tuple[torch.nn.Module, torch.nn.Module]] | None = None,
                 length: int | tuple[int, int] | None = None) -> None:
        self.model = model.to(device).eval()
        self.device = device
        self.top_k = top_k
        self.threshold = threshold
        self.options = options
        self.detector = detector.to(device).eval() if detector is not None else None
        if search_parts is None and verifier is not None and pair_reader is not None:
            parts = (verifier.to(device).eval(), pair_reader.to(device).eval())
            search_parts = lambda: parts  # noqa: E731
        self.networks = Networks(self.model, device, self.detector, search_parts)
        self._whole = None if detector is None else self.detector.whole.cpu().numpy()
        self.reject_threshold = reject_threshold
        self.length = digit_count(length)
        self.notes: list[str] = []
        """One-line remarks about the settings in force, for the user."""

    def thresholds(self) -> list[float] | None:
        """The digit score below which a mark is not a digit, for each form of picture
        (``FORMS``): ``reject_threshold`` when it is set, else the detector's own; ``None``
        with rejection off."""
        if self.detector is None:
            return None
        if self.reject_threshold is not None:
            return [float(self.reject_threshold)] * len(FORMS)
        return self.detector.thresholds.tolist()

    @property
    def verifier(self) -> torch.nn.Module | None:
        """The segment verifier (loaded now if it was not yet)."""
        searchers = self.networks.searchers()
        return None if searchers is None else searchers[0]

    @property
    def pair_reader(self) -> torch.nn.Module | None:
        """The pair reader (loaded now if it was not yet)."""
        searchers = self.networks.searchers()
        return None if searchers is None else searchers[1]

    @classmethod
    def load(cls, checkpoint: Path | str | None = None, *, device: str | torch.device = "auto",
             reject: bool = True, reject_threshold: float | None = None, top_k: int = 1,
             threshold: float = 0.5, one_digit: bool = False, preprocess: str = "mnist",
             length: int | tuple[int, int] | None = None) -> "Recognizer":
        """The recognizer ``mnist-recognize`` builds, with its defaults; the keywords are its
        flags (``reject=False``: ``--no-reject``). Without a ``checkpoint``: ``./model.ckpt``
        when there is one, else the model that ships with the package (``notes`` says so).

        Raises ``UsageError`` for a setting out of range or a device that is not here, and
        ``CheckpointError`` for a checkpoint that cannot be used (``MissingCheckpointError``
        when the one given is not there).
        """
        _check_settings(top_k, threshold, reject_threshold, preprocess)
        length = digit_count(length)
        path, note = registry.resolve_checkpoint(checkpoint)
        recognizer = cls.from_checkpoint(
            path, select_device(device), reject=reject, top_k=top_k, threshold=threshold,
            options=Options(one_digit=one_digit, preprocess=preprocess),
            reject_threshold=reject_threshold, length=length)
        if note:
            recognizer.notes.append(note)
        return recognizer

    @classmethod
    def from_checkpoint(cls, checkpoint: Path, device: torch.device, reject: bool = True,
                        **settings) -> "Recognizer":
        """Load ``checkpoint`` and, with ``reject``, the not-a-digit detector; the segment
        verifier and the pair reader are loaded when a picture first needs them (each its
        sidecar, or the shipped one: ``registry.load``). Raises ``CheckpointError`` with a
        one-line reason, for those two when they are loaded. ``load`` is the same with the
        settings checked, the device resolved and the default checkpoint found."""
        model = registry.load(registry.MODEL, checkpoint, device)
        detector = registry.load(registry.DETECTOR, checkpoint, device) if reject else None

        def search_parts() -> tuple[torch.nn.Module, torch.nn.Module]:
            return (registry.load(registry.VERIFIER, checkpoint, device),
                    registry.load(registry.PAIRS, checkpoint, device))

        return cls(model, device, detector=detector, search_parts=search_parts, **settings)

    def read_paths(self, paths: Sequence[Path], keep_images: int = 0,
                   workers: int | None = None,
                   batch_size: int = BATCH_SIZE) -> Iterator[Recognition]:
        """One ``Recognition`` per path, in order; bad files become results with ``error``.

        ``keep_images``: for the first this many files, also keep the picture and the network
        inputs, for drawing them.
        """
        prepared = prepare_paths(paths, self.options, keep_images, workers)
        named = ((str(path), ready) for path, ready in zip(paths, prepared, strict=True))
        for batch in _batches(named, batch_size):
            yield from self.read_prepared(batch)

    def read(self, picture: Picture, name: str | None = None) -> Recognition:
        """Read one picture: a file's path (``str`` or ``Path``), a PIL image, a numpy array
        (grayscale HxW or RGB/RGBA HxWxC; uint8, or float in [0, 1]) or an image file's bytes,
        keeping it and the network inputs for drawing.

        ``name`` is the result's ``path`` for a picture that is not a file (default: its kind,
        ``image``, ``array`` or ``bytes``). A picture that cannot be read gives a result with
        ``error``; only a value of another type raises ``TypeError``.
        """
        if _kind(picture) == "path":
            (result,) = self.read_paths([Path(picture)], keep_images=1)
            return result
        return self.read_prepared([self._prepare(picture, name or _kind(picture), True)])[0]

    def read_many(self, pictures: Iterable[Picture], keep_images: int = 0,
                  workers: int | None = None) -> Iterator[Recognition]:
        """One result per picture, in order, each batch as soon as it is read. Runs of paths go
        through ``read_paths`` (worker processes from 64 files on), other pictures are
        prepared here, named by kind and place (``array[3]``).

        ``keep_images``: keep the first this many pictures for drawing (each costs memory).
        """
        for are_paths, run in groupby(enumerate(pictures),
                                      key=lambda item: _kind(item[1]) == "path"):
            if are_paths:
                numbered = list(run)
                first = numbered[0][0]
                yield from self.read_paths([Path(path) for _, path in numbered],
                                           keep_images=max(keep_images - first, 0),
                                           workers=workers)
                continue
            prepared = (self._prepare(picture, f"{_kind(picture)}[{index}]",
                                      index < keep_images) for index, picture in run)
            for batch in _batches(prepared, BATCH_SIZE):
                yield from self.read_prepared(batch)

    def read_image(self, image: Image.Image, name: str = "image") -> Recognition:
        """``read`` for a decoded picture (an upload, a drawing)."""
        return self.read(image, name)

    def read_bytes(self, data: bytes, name: str = "upload") -> Recognition:
        """``read`` for a picture file held in memory (an upload)."""
        return self.read(data, name)

    def _prepare(self, picture: Picture, name: str, keep: bool) -> tuple[str, Prepared]:
        """A picture that is no file, decoded and prepared, with its name."""
        try:
            gray, scale = DECODERS[_kind(picture)](picture, name)
        except ImageError as error:
            return name, Prepared(error=str(error))
        return name, prepare(gray, scale, self.options, keep)

    def read_prepared(self, batch: Sequence[tuple[str, Prepared]]) -> list[Recognition]:
        """Judge every candidate of the batch's pictures at once; keep each picture's best
        partition (``scoring.partitions``; of the two polarities, where a picture was laid out both
        ways, the one of the asked-for length, else the one that reads digits, else the
        likelier) and the numbers its next partitions spell."""
        readings = [reading for _, prepared in batch for reading in prepared.readings()]
        thresholds = self.thresholds()
        evidence = iter(self.networks.judge(
            readings, None if thresholds is None else [thresholds[r.form] for r in readings]))
        results = []
        for name, prepared in batch:
            result = Recognition(name, error=prepared.error, preview=prepared.preview,
                                 scale=prepared.scale,
                                 blank=prepared.error is None and prepared.inputs is None,
                                 form=None if prepared.inputs is None else FORMS[prepared.form])
            best = None
            for reading in prepared.readings():
                judged = next(evidence)
                values = candidate_values(judged.digit, judged.log_probabilities,
                                          judged.verdicts, judged.pairs)
                found = partitions(reading.layout, values)
                fitting = [] if self.length is None else partitions(reading.layout, values,
                                                                    self.length)
                pick = chosen(found, fitting)
                rank = (bool(fitting), any(pick.lines), pick.score)
                if best is None or rank > best[0]:
                    best = (rank, reading, pick, judged, found)
            if best is not None:
                _, reading, pick, judged, found = best
                threshold = None if thresholds is None else thresholds[reading.form]
                self._read_digits(result, reading, pick, judged, threshold)
                if result.digits:
                    result.alternatives = alternatives(found, result.number)
            results.append(result)
        return results

    def _reading(self, probabilities: torch.Tensor, digit: int, box: tuple[int, int, int, int],
                 score: float | None, pixels: np.ndarray | None) -> DigitReading:
        """``digit`` read with these class ``probabilities`` (the likeliest, but where a
        length asked for took another)."""
        best, order = probabilities.topk(self.top_k)
        top_k = [(int(d), float(p)) for d, p in zip(order.tolist(), best.tolist(), strict=True)]
        confidence = float(probabilities[digit])
        return DigitReading(digit=digit, confidence=confidence, top_k=top_k,
                            uncertain=confidence < self.threshold, box=box, score=score,
                            network_input=pixels)

    def _read_digits(self, result: Recognition, prepared: Prepared, partition: Partition,
                     judged: Evidence, threshold: float | None) -> None:
        """The digits of the chosen ``partition``: a candidate read as a pair gives two, each
        with its place's share of the pair's probabilities, half the candidate's box and half
        the pair reader's input; it is no single digit, so the detector does not judge it.
        With rejection on, the segments left out (no digit, by the verifier) are rejected
        marks, a digit the detector finds none is one too (unless a length was asked for),
        and a searched picture is judged as a whole (``_judge_whole``)."""
        layout, inputs, scores = prepared.layout, prepared.inputs, judged.digit_scores
        keep = prepared.preview is not None
        probabilities = judged.log_probabilities.exp()
        unread = left_out(layout, partition.taken()) if scores is not None else []
        for index in unread:
            box = tuple(round(value / prepared.scale) for value in layout.candidates[index].box)
            result.rejected.append(RejectedMark(box, int(probabilities[index].argmax()),
                                                float(scores[index]),
                                                inputs.digits[index] if keep else None))
        best, taken = -math.inf, 0
        for line in partition.lines:
            digits = []
            for index, text in line:
                taken += 1
                candidate = layout.candidates[index]
                x, y, width, height = (round(value / prepared.scale) for value in candidate.box)
                pixels = inputs.digits[index] if keep else None
                if len(text) == 2:
                    both = judged.pairs[index, :ONE_DIGIT].exp().view(10, 10)
                    half = width // 2
                    seen = inputs.pairs[index] if keep else None
                    halves = (None, None) if seen is None else (seen[:, :SIDE], seen[:, SIDE:])
                    digits += [self._reading(both.sum(1), int(text[0]), (x, y, half, height),
                                             None, halves[0]),
                               self._reading(both.sum(0), int(text[1]),
                                             (x + half, y, width - half, height), None,
                                             halves[1])]
                    best = math.inf
                    continue
                score = None if scores is None else float(scores[index])
                if self.length is None and score is not None and score < digit_threshold(
                        candidate, len(line), threshold):
                    result.rejected.append(RejectedMark((x, y, width, height),
                                                        int(probabilities[index].argmax()),
                                                        score, pixels))
                    unread.append(index)
                    continue
                best = max(best, -math.inf if score is None else score)
                digits.append(self._reading(probabilities[index], int(text),
                                            (x, y, width, height), score, pixels))
            if digits:
                result.digits.extend(digits)
                result.lines.append("".join(str(d.digit) for d in digits))
        if judged.whole is not None and threshold is not None and inputs.masses is not None:
            total = float(inputs.masses[[i for i, c in enumerate(layout.candidates)
                                         if c.stop == c.start + 1]].sum())
            share = sum(float(inputs.masses[index]) for index in unread) / max(total, 1e-6)
            result.whole = whole_features(judged.whole, best, share, taken, threshold)
            if result.digits and reads_as_digits(result.whole, self._whole) < 0:
                self._judge_whole(result)
        result.blank = not result.digits and not result.rejected

    @staticmethod
    def _judge_whole(result: Recognition) -> None:
        """The picture is not a digit, judged as a whole: the digits read become its rejected
        marks (each with the digit it looks most like)."""
        for digit in result.digits:
            result.rejected.append(RejectedMark(digit.box, digit.digit, -math.inf
                                                if digit.score is None else digit.score,
                                                digit.network_input))
        result.digits, result.lines = [], []
