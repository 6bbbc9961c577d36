"""The one path a picture takes up to the networks: decode, ink, layout, inputs.

``prepare`` runs it for a working grayscale picture, ``prepare_many`` for many at once (the
ink of pictures of one size is found in one pass over their stack), and ``prepare_paths`` for
files, a chunk at a time, in worker processes from ``PARALLEL_FROM`` files on (decoding and
finding ink are the slow part). Reading (``recognizer``) and fitting (the detector's
samples and calibration, the verifier's samples) call these same functions, so what the
learned parts are fitted on is what reading gives them.
"""

import math
import multiprocessing
import os
import signal
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path

import numpy as np
import torch

from mnist_cnn.errors import ImageError
from mnist_cnn.networks.detector import DRAWN, FILLED, SMALL, SMALL_BINARY
from mnist_cnn.reading.images import read_grayscale
from mnist_cnn.reading.ink import Ink, at_pen_scale, dark_by_shape, edges_reached, find_inks
from mnist_cnn.reading.inputs import Inputs, make_inputs, plain_input
from mnist_cnn.reading.layout import Layout, find_candidates, whole

PREPROCESS_MODES = ("mnist", "plain")
PARALLEL_FROM = 64
"""Fewer files than this are prepared in-process: starting workers would cost more than it saves."""
CHUNK = 64
"""Files a worker prepares per task, at most: fewer, larger messages between the processes; a
short list is shared out in smaller tasks so every worker gets some."""
SMALL_SIDE = 24
"""A picture no longer than this a side (at its native resolution) is small: a 16x16 scan, an
8x8 reduction, a tiny canvas; MNIST's digits are 20 px in a 28 px field."""
STACK, STACK_PIXELS, ALONE_FROM = 64, 65_536, 4_096
"""The ink of pictures of one size is found together, at most ``STACK`` of them and
``STACK_PIXELS`` pixels at a time, and of pictures over ``ALONE_FROM`` pixels one by one:
measured, a stack of 16x16 scans costs a third per picture of one alone, of 48x48 ones two
thirds, while a stack of larger pictures no longer fits the CPU's cache and costs more."""


@dataclass(frozen=True)
class Options:
    """How pictures are read. ``one_digit``: the whole picture is one digit (no segmentation);
    ``preprocess``: ``mnist`` (find, crop and centre the ink) or ``plain`` (the reference's
    resize-invert-scale, one digit); ``search``: look for several digits even in a picture of
    one compact mark, which reading takes on a short path as one digit (fitting the segment
    verifier, which must learn what a whole digit looks like too)."""

    one_digit: bool = False
    preprocess: str = "mnist"
    search: bool = False


READ = Options()
"""How ``mnist-recognize`` reads by default."""


@dataclass(frozen=True)
class Prepared:
    """A picture made ready for the networks: its candidate digits' layout and inputs, or why
    there are none. ``scale``: working pixels per original pixel; ``preview``: the working
    picture, when kept for drawing."""

    inputs: Inputs | None = None
    layout: Layout | None = None
    scale: float = 1.0
    preview: np.ndarray | None = None
    error: str | None = None
    other_polarity: "Prepared | None" = None
    """The same picture read with ink and paper the other way round, when the ink reached
    three edges or more (``ink.edges_reached``) and the shapes of ink and paper did not settle
    which is which (``ink.dark_by_shape``): whichever reads better is kept."""
    form: int = DRAWN
    """What kind of picture it is (``form_of``; an index into ``networks.detector.FORMS``): the
    not-a-digit threshold is that form's."""

    def readings(self) -> list["Prepared"]:
        """The readings of this picture to score: itself and, when its polarity is in doubt,
        the other one; none when it has no candidates."""
        return [reading for reading in (self, self.other_polarity)
                if reading is not None and reading.inputs is not None]

    def portable(self) -> "Prepared":
        """This, without what only the layout stage needs (the lines' and candidates' ink),
        to be sent between processes cheaply."""
        layout = self.layout and Layout(self.layout.candidates, [], self.layout.segments)
        other = self.other_polarity and self.other_polarity.portable()
        return replace(self, layout=layout, other_polarity=other)


def prepare(gray: np.ndarray, scale: float, options: Options,
            keep_preview: bool = False) -> Prepared:
    """Lay out the candidate digits of a working grayscale picture and make their inputs."""
    return prepare_many([(gray, scale)], options, [keep_preview])[0]


def prepare_many(pictures: Sequence[tuple[np.ndarray, float]], options: Options,
                 keep_previews: Sequence[bool]) -> list[Prepared]:
    """``prepare`` for many working grayscale pictures (each with its scale) at once: the ink
    of all those of one size is found in one pass over their stack (``ink.find_inks``)."""
    if options.preprocess == "plain":
        return [Prepared(Inputs(plain_input(gray)[None]), whole(np.ones_like(gray)), scale,
                         gray if keep else None)
                for (gray, scale), keep in zip(pictures, keep_previews, strict=True)]
    grays, scales = [], []
    for gray, scale in pictures:
        reduced = at_pen_scale(gray)
        grays.append(reduced)
        scales.append(scale * reduced.shape[1] / gray.shape[1])
    inks = _inks(grays)
    doubted = [index for index, ink in enumerate(inks)
               if ink is not None and edges_reached(ink.mask) >= 3  # the border may hold more
               and dark_by_shape(grays[index]) != ink.dark_ink]     # ink than paper
    others = dict(zip(doubted, _inks([grays[i] for i in doubted],
                                     [not inks[i].dark_ink for i in doubted]), strict=True))
    prepared = []
    for index, (gray, ink) in enumerate(zip(grays, inks, strict=True)):
        preview = gray if keep_previews[index] else None
        form = DRAWN if ink is None else form_of(gray, ink)
        ready = _lay_out(ink, options, scales[index], preview, form)
        if index in others:
            other = _lay_out(others[index], options, scales[index], preview, form)
            if ready.inputs is None:
                ready = other
            elif other.inputs is not None:
                ready = replace(ready, other_polarity=other)
        prepared.append(ready)
    return prepared


def form_of(gray: np.ndarray, ink: Ink) -> int:
    """The form of a working picture with this ink (``networks.detector.FORMS``): its ink fills
    it (reaches three edges or more), else it is small (``SMALL_SIDE``), in black and white or
    grey, else a drawing or a photo."""
    if edges_reached(ink.mask) >= 3:
        return FILLED
    if max(gray.shape) <= SMALL_SIDE:
        low, high = gray.min(), gray.max()
        binary = not np.count_nonzero((gray != low) & (gray != high))
        return SMALL_BINARY if binary else SMALL
    return DRAWN


def _inks(grays: list[np.ndarray], darks: list[bool] | None = None) -> list[Ink | None]:
    """The ink of each picture (``ink.find_inks``, the pictures of one size together), with
    its polarity given by ``darks`` when that is known."""
    inks: list[Ink | None] = [None] * len(grays)
    by_shape: dict[tuple[int, ...], list[int]] = {}
    for index, gray in enumerate(grays):
        by_shape.setdefault(gray.shape, []).append(index)
    for shape, same in by_shape.items():
        if len(shape) != 2 or min(shape) < 1:
            continue
        size = 1 if shape[0] * shape[1] > ALONE_FROM else min(STACK, STACK_PIXELS // (
            shape[0] * shape[1]))
        for start in range(0, len(same), size):
            indices = same[start:start + size]
            dark = None if darks is None else np.array([darks[i] for i in indices])
            found = find_inks(np.stack([grays[i] for i in indices]), dark)
            for index, ink in zip(indices, found, strict=True):
                inks[index] = ink
    return inks


def _lay_out(ink: Ink | None, options: Options, scale: float, preview: np.ndarray | None,
             form: int = DRAWN) -> Prepared:
    """The candidate digits of ``ink`` and their inputs."""
    if ink is None:
        return Prepared(None, None, scale, preview)
    if options.one_digit:
        layout = whole(ink.intensity)
    else:
        layout = find_candidates(ink, short_path=not options.search)
    inputs = make_inputs(layout)
    if inputs is None:
        return Prepared(None, None, scale, preview)
    return Prepared(inputs, layout, scale, preview, form=form)


def prepare_paths(paths: Sequence[Path], options: Options, keep_images: int = 0,
                  workers: int | None = None) -> Iterator[Prepared]:
    """Each file prepared, in order (a file that cannot be read is a ``Prepared`` with its
    ``error``), the first ``keep_images`` with their pictures kept; ``CHUNK`` files at a time
    (``prepare_many``), in ``workers`` processes (default: one per core) from
    ``PARALLEL_FROM`` files on, while this process's torch runs on one thread (the workers
    keep every core busy: the networks' own threads would only contend)."""
    workers = workers if workers is not None else (os.cpu_count() or 1)
    jobs = [(Path(path), index < keep_images) for index, path in enumerate(paths)]
    task = partial(_prepare_chunk, options=options)
    if workers <= 1 or len(jobs) < PARALLEL_FROM or sys.platform != "linux":
        for chunk in _chunks(jobs, CHUNK):
            yield from task(chunk)
        return
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    size = max(1, min(CHUNK, math.ceil(len(jobs) / (4 * workers))))
    try:
        with multiprocessing.get_context("fork").Pool(workers, _quiet_worker) as pool:
            for prepared in pool.imap(task, _chunks(jobs, size)):
                yield from prepared
    finally:
        torch.set_num_threads(threads)


def _chunks(jobs: list, size: int) -> Iterator[list]:
    for start in range(0, len(jobs), size):
        yield jobs[start:start + size]


def _prepare_chunk(jobs: list[tuple[Path, bool]], options: Options) -> list[Prepared]:
    """Files decoded and prepared together (``prepare_many``), made portable."""
    prepared: list[Prepared | None] = [None] * len(jobs)
    readable, pictures = [], []
    for index, (path, _) in enumerate(jobs):
        try:
            pictures.append(read_grayscale(path))
            readable.append(index)
        except ImageError as error:
            prepared[index] = Prepared(error=str(error))
    ready = prepare_many(pictures, options, [jobs[index][1] for index in readable])
    for index, made in zip(readable, ready, strict=True):
        prepared[index] = made.portable()
    return prepared


def _quiet_worker() -> None:
    """Workers leave Ctrl-C to the main process, which stops them and reports it in one line."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
