"""The one path a picture takes up to the networks: decode, ink, layout, inputs.

``prepare`` runs it for a working grayscale picture, ``prepare_path`` for a file and
``prepare_paths`` for many files, in worker processes from ``PARALLEL_FROM`` files on (decoding
and finding ink are the slow part). Reading (``recognizer``) and fitting (the detector's
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
from mnist_cnn.reading.images import read_grayscale
from mnist_cnn.reading.ink import Ink, at_pen_scale, dark_by_shape, edges_reached, find_ink
from mnist_cnn.reading.inputs import Inputs, make_inputs, plain_input
from mnist_cnn.reading.layout import Layout, find_candidates, whole

PREPROCESS_MODES = ("mnist", "plain")
PARALLEL_FROM = 64
"""Fewer files than this are prepared in-process: starting workers would cost more than it saves."""
CHUNK = 64
"""Files a worker prepares per task, at most: fewer, larger messages between the processes; a
short list is shared out in smaller tasks so every worker gets some."""


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
    if options.preprocess == "plain":
        return Prepared(Inputs(plain_input(gray)[None]), whole(np.ones_like(gray)), scale,
                        gray if keep_preview else None)
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
    return Prepared(inputs, layout, scale, preview)


def prepare_path(path: Path | str, options: Options, keep_preview: bool = False) -> Prepared:
    """Read and prepare one file; never raises for a bad file, reports it in ``error``."""
    try:
        gray, scale = read_grayscale(path)
    except ImageError as error:
        return Prepared(error=str(error))
    return prepare(gray, scale, options, keep_preview)


def _prepare_task(job: tuple[Path, bool], options: Options) -> Prepared:
    path, keep_preview = job
    return prepare_path(path, options, keep_preview).portable()


def _quiet_worker() -> None:
    """Workers leave Ctrl-C to the main process, which stops them and reports it in one line."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def prepare_paths(paths: Sequence[Path], options: Options, keep_images: int = 0,
                  workers: int | None = None) -> Iterator[Prepared]:
    """Each file prepared (``prepare_path``), in order, the first ``keep_images`` with their
    pictures kept; in ``workers`` processes (default: one per core) from ``PARALLEL_FROM``
    files on, while this process's torch runs on one thread (the workers keep every core
    busy: the networks' own threads would only contend)."""
    workers = workers if workers is not None else (os.cpu_count() or 1)
    jobs = [(Path(path), index < keep_images) for index, path in enumerate(paths)]
    task = partial(_prepare_task, options=options)
    if workers <= 1 or len(jobs) < PARALLEL_FROM or sys.platform != "linux":
        yield from map(task, jobs)
        return
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    chunk = min(CHUNK, math.ceil(len(jobs) / (4 * workers)))
    try:
        with multiprocessing.get_context("fork").Pool(workers, _quiet_worker) as pool:
            yield from pool.imap(task, jobs, chunksize=chunk)
    finally:
        torch.set_num_threads(threads)
