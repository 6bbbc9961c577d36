"""Read the digits in pictures: files, folders, uploads and drawings, one pipeline for all.

Each picture is decoded (``images``), its ink found (``ink``), the digits' candidates laid out
(``segmentation``) and each candidate normalized to MNIST's 28x28 (``normalization``); then the
network scores every candidate of a picture in one batch and the most confident reading of each
line of writing is kept. Files are prepared in worker processes (decoding and normalizing are
the slow part) and streamed through the network a batch at a time, so 10,000 files take no more
memory than one batch.

From Python: ``Recognizer.load("model.ckpt")``, then ``read`` a path, a Pillow image, a numpy
array or an image file's bytes, or ``read_many`` of them; ``mnist-recognize`` is built on the same
calls, and a ``Recognition`` prints as its line (``str``) and shows as its picture in Jupyter.
"""

import glob
import math
import multiprocessing
import os
import signal
import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from functools import partial
from itertools import groupby
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from mnist_cnn.checkpoint import load_model
from mnist_cnn.device import select_device
from mnist_cnn.errors import ImageError, UsageError
from mnist_cnn.images import decode_array, decode_bytes, decode_image, read_grayscale
from mnist_cnn.ink import Ink, at_pen_scale, dark_by_shape, edges_reached, find_ink
from mnist_cnn.model import for_inference
from mnist_cnn.normalization import SIDE, normalize, normalize_batch, plain_input
from mnist_cnn.pairs import NOT_DIGITS, ONE_DIGIT, PairReader, load_pair_reader
from mnist_cnn.rejection import DigitDetector, load_detector
from mnist_cnn.results import DigitReading, Recognition, RejectedMark
from mnist_cnn.scoring import (
    SearchInputs,
    Values,
    best_reading,
    candidate_values,
    left_out,
    reading_value,
    search_inputs,
)
from mnist_cnn.segmentation import Candidate, Layout, find_candidates, whole
from mnist_cnn.shipped import resolve_checkpoint
from mnist_cnn.verifier import CLASSES, ONE, TWO, SegmentVerifier, load_verifier

IMAGE_SUFFIXES = frozenset({
    ".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".pgm", ".ppm", ".pbm",
})
PREPROCESS_MODES = ("mnist", "plain")
MAX_TOP_K = 10
MEMORY_FORMAT = torch.channels_last
"""The networks read in channels-last layout: oneDNN's convolutions and max-pooling are
faster so on the CPU (15-25 % a batch), and the results are the same to float rounding."""
BATCH_SIZE = 64
"""Pictures scored by the network at once: a batch is read while the workers prepare the next,
so no core waits for the last ones."""
DIGIT_SCORE_WEIGHT = 0.5
DIGIT_SCORE_RANGE = (-8.0, 2.0)
"""How much the digit score counts, beside the network's confidence, when choosing how to cut
a line into digits (a piece of a digit, or two run together, reads less like one)."""
IN_NUMBER_LENIENCY = 2.0
"""Log-odds less evidence a mark needs to be a digit when it stands in a line with others and
is at least ``IN_NUMBER_HEIGHT`` line heights tall: a dash or a dot is not; measured, a pound or
euro sign still scores below the lowered threshold."""
IN_NUMBER_HEIGHT = 0.7

PARALLEL_FROM = 64
"""Fewer files than this are prepared in-process: starting workers would cost more than it saves."""
CHUNK = 64
"""Files a worker prepares per task, at most: fewer, larger messages between the processes; a
short list is shared out in smaller tasks so every worker gets some."""


@dataclass(frozen=True)
class Options:
    """How pictures are read. ``one_digit``: the whole picture is one digit (no segmentation);
    ``preprocess``: ``mnist`` (find, crop and centre the ink) or ``plain`` (the reference's
    resize-invert-scale, one digit)."""

    one_digit: bool = False
    preprocess: str = "mnist"


@dataclass(frozen=True)
class Prepared:
    """A picture made ready for the network: every candidate digit's 28x28 input and layout,
    or why there is none. ``scale``: working pixels per original pixel."""

    inputs: np.ndarray | None = None
    layout: Layout | None = None
    scale: float = 1.0
    preview: np.ndarray | None = None
    error: str | None = None
    search: SearchInputs | None = None
    """What the segment verifier and the pair reader read, where the picture was searched for
    digits (``scoring.search_inputs``); ``None`` where it was read as one."""
    other_polarity: "Prepared | None" = None
    """The same picture read with ink and paper the other way round, when the ink reached
    three edges or more (``ink.edges_reached``) and the shapes of ink and paper did not settle
    which is which (``ink.dark_by_shape``): whichever reads better is kept."""


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


def prepare_gray(gray: np.ndarray, scale: float, options: Options,
                 keep_preview: bool = False) -> Prepared:
    """Lay out and normalize the candidate digits of a working grayscale picture."""
    if options.preprocess == "plain":
        layout = whole(np.ones_like(gray))
        return Prepared(plain_input(gray)[None], layout, scale, gray if keep_preview else None)
    reduced = at_pen_scale(gray)
    scale *= reduced.shape[1] / gray.shape[1]
    gray = reduced
    preview = gray if keep_preview else None
    ink = find_ink(gray)
    doubt = ink is not None and edges_reached(ink.mask) >= 3
    if doubt:  # the border may hold more ink than paper: the shapes may settle it
        doubt = dark_by_shape(gray) != ink.dark_ink
    prepared = _lay_out(ink, options, scale, preview)
    if doubt:
        other = _lay_out(find_ink(gray, dark_ink=not ink.dark_ink), options, scale, preview)
        if prepared.inputs is None:
            return other
        if other.inputs is not None:
            return replace(prepared, other_polarity=other)
    return prepared


def _lay_out(ink: Ink | None, options: Options, scale: float,
             preview: np.ndarray | None) -> Prepared:
    """The candidate digits of ``ink`` and their network inputs."""
    if ink is None:
        return Prepared(None, None, scale, preview)
    layout = whole(ink.intensity) if options.one_digit else find_candidates(ink)
    inputs = [normalize(crop) for crop in layout.inks]
    if not layout.candidates or all(pixels is None for pixels in inputs):
        return Prepared(None, None, scale, preview)
    stacked = np.stack([np.zeros((SIDE, SIDE), np.float32) if pixels is None else pixels
                        for pixels in inputs])
    search = search_inputs(layout) if layout.lines else None
    return Prepared(stacked, Layout(layout.candidates, [], layout.segments), scale, preview,
                    search=search)


def prepare_path(path: Path | str, options: Options, keep_preview: bool = False) -> Prepared:
    """Read and prepare one file; never raises for a bad file, reports it in ``error``."""
    try:
        gray, scale = read_grayscale(path)
    except ImageError as error:
        return Prepared(error=str(error))
    return prepare_gray(gray, scale, options, keep_preview)


def _prepare_task(job: tuple[Path, bool], options: Options) -> Prepared:
    path, keep_preview = job
    return prepare_path(path, options, keep_preview)


def _readings(prepared: Prepared) -> list[Prepared]:
    """The readings of a picture to score: itself and, when its polarity is in doubt, the
    other one; none when it has no candidates."""
    return [reading for reading in (prepared, prepared.other_polarity)
            if reading is not None and reading.inputs is not None]


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


class Recognizer:
    """The trained network and the settings for reading pictures with it.

    ``threshold``: below this softmax confidence a digit is marked ``uncertain``;
    ``top_k``: how many likely digits each reading lists; ``detector``: the not-a-digit
    detector, which gives each mark a digit score (``None``: every mark is read as a digit);
    ``reject_threshold``: below this digit score a mark is not a digit (default: the one
    fitted with the detector); ``verifier`` and ``pair_reader``: the segment verifier and
    the pair reader, which judge how a line divides into digits (``None``: by the network's
    confidence alone).
    """

    def __init__(self, model: torch.nn.Module, device: torch.device, *, top_k: int = 1,
                 threshold: float = 0.5, options: Options = Options(),
                 detector: DigitDetector | None = None,
                 reject_threshold: float | None = None,
                 verifier: SegmentVerifier | None = None,
                 pair_reader: PairReader | None = None) -> None:
        self.model = model.to(device).eval()
        self.device = device
        self.top_k = top_k
        self.threshold = threshold
        self.options = options
        self.detector = detector.to(device).eval() if detector is not None else None
        self.verifier = verifier.to(device).eval() if verifier is not None else None
        self.pair_reader = pair_reader.to(device).eval() if pair_reader is not None else None
        self._networks = [None if network is None else
                          for_inference(network).to(memory_format=MEMORY_FORMAT)
                          for network in (self.model, self.detector, self.verifier,
                                          self.pair_reader)]
        """What reads: faster copies of the networks (``model.for_inference``), in
        channels-last layout."""
        self.reject_threshold = (reject_threshold if reject_threshold is not None
                                 else float(detector.threshold) if detector is not None else None)
        self.notes: list[str] = []
        """One-line remarks about the settings in force, for the user."""

    @classmethod
    def load(cls, checkpoint: Path | str | None = None, *, device: str | torch.device = "auto",
             reject: bool = True, reject_threshold: float | None = None, top_k: int = 1,
             threshold: float = 0.5, one_digit: bool = False,
             preprocess: str = "mnist") -> "Recognizer":
        """The recognizer ``mnist-recognize`` builds, with its defaults; the keywords are its
        flags (``reject=False``: ``--no-reject``). Without a ``checkpoint``: ``./model.ckpt``
        when there is one, else the model that ships with the package (``notes`` says so).

        Raises ``UsageError`` for a setting out of range or a device that is not here, and
        ``CheckpointError`` for a checkpoint that cannot be used (``MissingCheckpointError``
        when the one given is not there).
        """
        _check_settings(top_k, threshold, reject_threshold, preprocess)
        path, note = resolve_checkpoint(checkpoint)
        recognizer = cls.from_checkpoint(
            path, select_device(device), reject=reject, top_k=top_k, threshold=threshold,
            options=Options(one_digit=one_digit, preprocess=preprocess),
            reject_threshold=reject_threshold)
        if note:
            recognizer.notes.append(note)
        return recognizer

    @classmethod
    def from_checkpoint(cls, checkpoint: Path, device: torch.device, reject: bool = True,
                        **settings) -> "Recognizer":
        """Load ``checkpoint``, the segment verifier, the pair reader and, with ``reject``, the
        not-a-digit detector (each its sidecar, or the shipped one); raises ``CheckpointError``
        with a one-line reason. ``load`` is the same with the settings checked, the device
        resolved and the default checkpoint found."""
        model = load_model(checkpoint, device)
        detector = load_detector(checkpoint, device) if reject else None
        return cls(model, device, detector=detector, verifier=load_verifier(checkpoint, device),
                   pair_reader=load_pair_reader(checkpoint, device), **settings)

    def read_paths(self, paths: Sequence[Path], keep_images: int = 0,
                   workers: int | None = None,
                   batch_size: int = BATCH_SIZE) -> Iterator[Recognition]:
        """One ``Recognition`` per path, in order; bad files become results with ``error``.

        ``keep_images``: for the first this many files, also keep the picture and the network
        inputs, for drawing them.
        """
        workers = workers if workers is not None else (os.cpu_count() or 1)
        jobs = [(Path(path), index < keep_images) for index, path in enumerate(paths)]
        task = partial(_prepare_task, options=self.options)
        use_pool = workers > 1 and len(jobs) >= PARALLEL_FROM and sys.platform == "linux"
        if not use_pool:
            yield from self._read_stream(paths, map(task, jobs), batch_size)
            return
        # The workers keep every core busy: the network's own threads would only contend.
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        chunk = min(CHUNK, math.ceil(len(jobs) / (4 * workers)))
        try:
            with multiprocessing.get_context("fork").Pool(workers, _quiet_worker) as pool:
                yield from self._read_stream(paths, pool.imap(task, jobs, chunksize=chunk),
                                             batch_size)
        finally:
            torch.set_num_threads(threads)

    def read(self, picture: Picture, name: str | None = None) -> Recognition:
        """Read one picture: a file's path (``str`` or ``Path``), a PIL image, a numpy array
        (grayscale HxW or RGB/RGBA HxWxC; uint8, or float in [0, 1]) or an image file's bytes,
        keeping it and the network inputs for drawing.

        ``name`` is the result's ``path`` for a picture that is not a file (default: its kind,
        ``image``, ``array`` or ``bytes``). A picture that cannot be read gives a result with
        ``error``; only a value of another type raises ``TypeError``.
        """
        return self._read_one(picture, name, keep=True)

    def read_many(self, pictures: Iterable[Picture], keep_images: int = 0,
                  workers: int | None = None) -> Iterator[Recognition]:
        """One result per picture, in order, each as soon as it is read. Runs of paths go
        through ``read_paths`` (worker processes from 64 files on), other pictures one by one,
        named by kind and place (``array[3]``).

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
            else:
                for index, picture in run:
                    yield self._read_one(picture, f"{_kind(picture)}[{index}]",
                                         keep=index < keep_images)

    def read_image(self, image: Image.Image, name: str = "image") -> Recognition:
        """``read`` for a decoded picture (an upload, a drawing)."""
        return self.read(image, name)

    def read_bytes(self, data: bytes, name: str = "upload") -> Recognition:
        """``read`` for a picture file held in memory (an upload)."""
        return self.read(data, name)

    def _read_one(self, picture: Picture, name: str | None, keep: bool) -> Recognition:
        kind = _kind(picture)
        if kind == "path":
            (result,) = self.read_paths([Path(picture)], keep_images=int(keep))
            return result
        name = name or kind
        try:
            gray, scale = DECODERS[kind](picture, name)
        except ImageError as error:
            return Recognition(name, error=str(error))
        return self.read_prepared([(name, prepare_gray(gray, scale, self.options, keep))])[0]

    def _read_stream(self, paths: Sequence[Path], stream: Iterable[Prepared],
                     batch_size: int) -> Iterator[Recognition]:
        named = ((str(path), prepared) for path, prepared in zip(paths, stream, strict=True))
        for batch in _batches(named, batch_size):
            yield from self.read_prepared(batch)

    @torch.no_grad()
    def read_prepared(self, batch: Sequence[tuple[str, Prepared]]) -> list[Recognition]:
        """Score every candidate of the batch's pictures at once; keep each picture's best
        reading (of the two polarities, where a picture was laid out both ways: the one that
        reads digits, else the likelier)."""
        readings = [reading for _, prepared in batch for reading in _readings(prepared)]
        model, detector = self._networks[:2]
        if readings:
            inputs = torch.from_numpy(np.concatenate([r.inputs for r in readings])).unsqueeze(
                1).to(self.device, memory_format=MEMORY_FORMAT)
            log_probabilities = F.log_softmax(model(inputs), dim=1).cpu()
            digit_scores = None if detector is None else detector(inputs).cpu()
            confidence = self._confidence(log_probabilities, digit_scores)
            verdicts, pairs = self._judge_search(readings, confidence)
        results, row = [], 0
        for name, prepared in batch:
            result = Recognition(name, error=prepared.error, preview=prepared.preview,
                                 scale=prepared.scale,
                                 blank=prepared.error is None and prepared.inputs is None)
            best = None
            for reading in _readings(prepared):
                rows = slice(row, row + len(reading.inputs))
                row = rows.stop
                searched = reading.search is not None and verdicts is not None
                values = candidate_values(confidence[rows], verdicts[rows] if searched else None,
                                          pairs[rows] if searched else None)
                lines = best_reading(reading.layout, values)
                # A way that reads digits beats one that leaves every mark out.
                value = (any(lines), reading_value(reading.layout, values, lines))
                if best is None or value > best[0]:
                    scores = None if digit_scores is None else digit_scores[rows]
                    best = (value, reading, lines, log_probabilities[rows], scores, values,
                            pairs[rows] if searched else None)
            if best is not None:
                self._read_digits(result, *best[1:])
            results.append(result)
        return results

    def _judge_search(self, readings: list[Prepared], confidence: torch.Tensor
                      ) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """The verifier's logits and the pair reader's log-probabilities for every candidate
        of ``readings`` (rows of pictures read as one digit stay unused); ``None`` without a
        verifier. The pair reader reads only the candidates whose pair could win: one mark
        (digits that touch or overlap), which the verifier finds likelier two digits than the
        ConvNet's digit (``scoring.candidate_values``)."""
        verifier, pair_reader = self._networks[2:]
        searched = [r.search for r in readings if r.search is not None]
        if not searched or verifier is None or pair_reader is None:
            return None, None
        rows = torch.from_numpy(np.concatenate([
            np.full(len(r.inputs), r.search is not None) for r in readings]))
        one_mark = torch.tensor([c.marks == 1 for r in readings for c in r.layout.candidates])
        contexts, shapes, pair_inputs = (torch.from_numpy(np.concatenate(part)) for part in
                                         zip(*((s.contexts, s.shapes, s.pairs) for s in searched),
                                             strict=True))
        verdicts = torch.zeros(len(rows), len(CLASSES))
        verdicts[rows] = verifier(contexts.to(self.device, memory_format=MEMORY_FORMAT),
                                  shapes.to(self.device)).cpu()
        pairs = torch.full((len(rows), NOT_DIGITS + 1), -math.inf)
        judged = torch.log_softmax(verdicts, dim=1)
        hopeful = rows & one_mark & (judged[:, TWO] > confidence + judged[:, ONE])
        if hopeful.any():
            wanted = pair_inputs[hopeful[rows]]
            pairs[hopeful] = F.log_softmax(pair_reader(wanted.unsqueeze(1).to(
                self.device, memory_format=MEMORY_FORMAT)), dim=1).cpu()
            if self._networks[1] is not None:
                pairs[hopeful] = torch.where(self._halves_are_digits(wanted)[:, None],
                                             pairs[hopeful], -math.inf)
        return verdicts, pairs

    def _halves_are_digits(self, pair_inputs: torch.Tensor) -> torch.Tensor:
        """Whether both halves of each pair reader's input pass the detector as digits, as any
        digit read must: a doodle is not read as a pair."""
        halves = torch.cat([pair_inputs[:, :, :SIDE], pair_inputs[:, :, SIDE:]])
        inputs = normalize_batch(halves).unsqueeze(1).to(self.device,
                                                         memory_format=MEMORY_FORMAT)
        scores = self._networks[1](inputs).cpu().view(2, -1)
        return (scores >= self.reject_threshold).all(0)

    @staticmethod
    def _confidence(log_probabilities: torch.Tensor,
                    digit_scores: torch.Tensor | None) -> torch.Tensor:
        """How well each candidate reads as a digit: the network's log-confidence and, with
        rejection on, its digit score."""
        confidence = log_probabilities.max(dim=1).values
        if digit_scores is not None:
            confidence = confidence + DIGIT_SCORE_WEIGHT * digit_scores.clamp(*DIGIT_SCORE_RANGE)
        return confidence

    def _threshold(self, candidate: Candidate, marks_in_line: int) -> float:
        """The digit score below which ``candidate`` is not a digit: in a number, a mark as
        tall as the digits beside it is more likely one itself, so it needs less evidence."""
        if marks_in_line > 1 and candidate.height >= IN_NUMBER_HEIGHT:
            return self.reject_threshold - IN_NUMBER_LENIENCY
        return self.reject_threshold

    def _reading(self, probabilities: torch.Tensor, box: tuple[int, int, int, int],
                 score: float | None, pixels: np.ndarray | None) -> DigitReading:
        """A digit read with these class ``probabilities``."""
        best, order = probabilities.topk(self.top_k)
        top_k = [(int(d), float(p)) for d, p in zip(order.tolist(), best.tolist(), strict=True)]
        return DigitReading(digit=top_k[0][0], confidence=top_k[0][1], top_k=top_k,
                            uncertain=top_k[0][1] < self.threshold, box=box, score=score,
                            network_input=pixels)

    def _read_digits(self, result: Recognition, prepared: Prepared, lines: list[list[int]],
                     log_probabilities: torch.Tensor, digit_scores: torch.Tensor | None,
                     values: Values, pairs: torch.Tensor | None) -> None:
        """The digits of the chosen ``lines``: a candidate read as a pair gives two, each with
        its place's share of the pair's probabilities, half the candidate's box and half the
        pair reader's input; it is no single digit, so the detector does not judge it. With
        rejection on, the segments left out (no digit, by the verifier) are rejected marks."""
        layout = prepared.layout
        probabilities = log_probabilities.exp()
        for index in left_out(layout, lines) if digit_scores is not None else []:
            box = tuple(round(value / prepared.scale) for value in layout.candidates[index].box)
            pixels = prepared.inputs[index] if prepared.preview is not None else None
            result.rejected.append(RejectedMark(box, int(probabilities[index].argmax()),
                                                float(digit_scores[index]), pixels))
        for line in lines:
            digits = []
            for index in line:
                candidate = layout.candidates[index]
                x, y, width, height = (round(value / prepared.scale) for value in candidate.box)
                pixels = prepared.inputs[index] if prepared.preview is not None else None
                if values.pair[index] >= 0:
                    both = pairs[index, :ONE_DIGIT].exp().view(10, 10)
                    half = width // 2
                    halves = (None, None)
                    if pixels is not None:
                        seen = prepared.search.pairs[index]
                        halves = (seen[:, :SIDE], seen[:, SIDE:])
                    digits += [self._reading(both.sum(1), (x, y, half, height), None, halves[0]),
                               self._reading(both.sum(0), (x + half, y, width - half, height),
                                             None, halves[1])]
                    continue
                score = None if digit_scores is None else float(digit_scores[index])
                if score is not None and score < self._threshold(candidate, len(line)):
                    closest = int(probabilities[index].argmax())
                    result.rejected.append(RejectedMark((x, y, width, height), closest, score,
                                                        pixels))
                    continue
                digits.append(self._reading(probabilities[index], (x, y, width, height), score,
                                            pixels))
            if digits:
                result.digits.extend(digits)
                result.lines.append("".join(str(d.digit) for d in digits))
        result.blank = not result.digits and not result.rejected
