"""Real handwriting to fit on and to measure against: UNIPEN's characters (``unipen``) with
their labels checked, the digits' look-alikes set apart, split by writer, and drawn as the
28x28 pictures reading makes.

UNIPEN (Guyon, Schomaker, Plamondon, Liberman and Janet, ICPR 1994; CC BY 4.0) holds digits,
capitals, lower-case letters and symbols written on tablets by a few hundred people. The
collection calls itself raw and unchecked, so its labels are checked before use, a whole file
at a time: each character's label is compared with what the characters of the same shape are
labelled by *other* writers (``shape_votes``), and a file whose labels agree with its shapes
no better than its own labels shuffled among its segments would is misaligned (a segment
holding a neighbour's strokes, a word, a dot) and is dropped whole. Single characters are
never dropped for being hard to read: that would keep only what the project already reads.
Characters that a digit may be taken for (``LOOK_ALIKES``) are set apart: they are neither
digits nor fair "not a digit" samples. Writers are split into fit, validate and calibrate
sides (``side_of``); no writer is on two sides, so the validate side measures what
the fitted parts do on writers they never saw.
"""

import hashlib
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from mnist_cnn.fitting.data import Split
from mnist_cnn.fitting.handed import handed_over_inputs
from mnist_cnn.fitting.unipen import CATEGORIES, Character, read_unipen
from mnist_cnn.reading.inputs import SIDE, normalize
from mnist_cnn.reading.recognizer import Recognizer

LOOK_ALIKES = frozenset([*"OoDQ", *"Iilj|!/\\()[]{}", *"Zz", *"Ss$", *"bG", *"T", *"B&",
                         *"gq", *".,:;-_~'`\"", "\\@"])
"""Labels set apart from the non-digits: what may be taken for 0, 1, 2, 5, 6, 7, 8 or 9 when
handwritten, the marks too small to say (dots, commas, dashes, quotes), and kai's joining
strokes between the letters of a word (``\\@``)."""
SIDES = ("fit", "validate", "calibrate")
SHARES = (0.8, 0.1, 0.1)
"""The writers are shared out between the sides in about these proportions."""
TYPICAL_PX = 40
"""A writer's typical character is drawn this many pixels tall or wide, twice what reading
scales a digit to, so reading's normalization reduces every drawing alike."""
CHECK_PEN = 0.1
"""The pen of the pictures the checks compare: a tenth of the writer's typical character,
about MNIST's."""
PENS = (0.05, 0.18)
"""Pens drawn for fitting and measuring, as a share of the writer's typical character: a fine
ball-point on large writing to a felt-tip on small."""
NEIGHBOURS = 9
"""Characters of other writers that vote on the label of a shape."""
FEWEST_TO_JUDGE = 8
"""A file's labels are judged on their own from this many segments whose labels vary; smaller
files, or files of labels mostly alike, are judged with the writer's other such files of the
category."""
MARGIN = 0.05
"""A file whose labels agree with their shapes less than this above a shuffled labelling's
agreement is misaligned."""


@dataclass(frozen=True)
class FileCheck:
    """The verdict on one ``.dat`` file: how often its labels agree with their shapes
    (``agreement``), how often its labels shuffled among its segments would (``chance``), over
    how many segments (``judged``: the file's, or its and the writer's other small files';
    0 where they could not tell)."""

    file: str
    category: str
    site: str
    segments: int
    judged: int
    agreement: float
    chance: float
    misaligned: bool


@dataclass(frozen=True)
class Handwriting:
    """Checked characters: ``images`` uint8 ``(N, 28, 28)``, each drawn with ``CHECK_PEN`` and
    normalized as reading normalizes a digit (white on black); ``typical``: the typical size of
    its file's characters (tablet units); ``kept``: its file passed the checks; ``side``: an
    index into ``SIDES``; ``look_alike``: set apart (``LOOK_ALIKES``)."""

    characters: list[Character]
    images: np.ndarray
    typical: np.ndarray
    kept: np.ndarray
    side: np.ndarray
    look_alike: np.ndarray
    checks: list[FileCheck]

    def select(self, categories: Iterable[str], side: str, look_alikes: bool = False
               ) -> np.ndarray:
        """Indices of the kept characters of ``categories`` on ``side``, without the
        look-alikes unless asked for."""
        category = np.array([c.category for c in self.characters])
        chosen = self.kept & (self.side == SIDES.index(side)) & np.isin(category,
                                                                         list(categories))
        if not look_alikes:
            chosen &= ~self.look_alike
        return np.flatnonzero(chosen)

    def digit_labels(self, indices: np.ndarray) -> torch.Tensor:
        """The digits (int64) that the characters at ``indices`` (all of category 1a) are."""
        return torch.tensor([int(self.characters[i].label) for i in indices], dtype=torch.long)


def by_file(characters: Sequence[Character]) -> dict[str, list[int]]:
    """The indices of the characters of each ``.dat`` file, in order."""
    files: dict[str, list[int]] = defaultdict(list)
    for index, character in enumerate(characters):
        files[character.file].append(index)
    return files


def typical_sizes(characters: Sequence[Character]) -> np.ndarray:
    """Per character: the median size (the longer side) of its file's characters, in tablet
    units: the writer's own scale, which sets the pen."""
    sizes = np.array([float(np.ptp(np.concatenate(c.strokes), 0).max()) if c.strokes else 0.0
                      for c in characters])
    typical = np.zeros(len(characters))
    for indices in by_file(characters).values():
        typical[indices] = max(float(np.median(sizes[indices])), 1e-6)
    return typical


def drawing(strokes: Sequence[np.ndarray], typical: float, pen: float) -> np.ndarray:
    """The strokes drawn with a round pen ``pen`` times the writer's ``typical`` size wide,
    at a scale where that size is ``TYPICAL_PX``, with smooth edges (uint8, white on black);
    a stroke of one point is a dot."""
    points = np.concatenate(strokes)
    low = points.min(0)
    scale = TYPICAL_PX / typical
    extent = np.ptp(points, 0) * scale
    if extent.max() > 10 * TYPICAL_PX:  # a stray segment as long as a page: drawn smaller
        scale *= 10 * TYPICAL_PX / extent.max()
        extent = np.ptp(points, 0) * scale
    width = max(1.0, pen * TYPICAL_PX)
    margin = int(np.ceil(width)) + 2
    canvas = np.zeros((int(extent[1]) + 2 * margin + 1, int(extent[0]) + 2 * margin + 1),
                      np.uint8)
    lines = [np.round(((stroke - low) * scale + margin) * 16).astype(np.int32)
             for stroke in strokes]
    cv2.polylines(canvas, lines, False, 255, max(1, round(width)), cv2.LINE_AA, shift=4)
    for line in lines:
        if np.ptp(line, 0).max() < 16:
            cv2.circle(canvas, (int(line[0, 0]), int(line[0, 1])), round(width * 8), 255, -1,
                       cv2.LINE_AA, shift=4)
    return canvas


def as_read(strokes: Sequence[np.ndarray], typical: float, pen: float) -> np.ndarray:
    """The 28x28 input reading makes of the drawn strokes (float, white on black): reading's
    own normalization (``inputs.normalize``) of the ``drawing``."""
    image = normalize(drawing(strokes, typical, pen) / np.float32(255))
    return np.zeros((SIDE, SIDE), np.float32) if image is None else image


def drawn(handwriting: "Handwriting", indices: np.ndarray, rng: np.random.Generator
          ) -> torch.Tensor:
    """The characters at ``indices``, each drawn with a pen of its own (``PENS``) and
    normalized as reading normalizes a digit: float ``(N, 28, 28)``, white on black."""
    if not len(indices):
        return torch.zeros(0, SIDE, SIDE)
    return torch.from_numpy(np.stack([
        as_read(handwriting.characters[i].strokes, handwriting.typical[i], rng.uniform(*PENS))
        for i in indices]))


def shape_votes(images: np.ndarray, characters: Sequence[Character]) -> list[str]:
    """Per character: the label that the ``NEIGHBOURS`` characters of its category most alike
    in shape, written by other writers, carry (their votes weighed by likeness); ``""`` where
    no other writer's character is alike at all. The shapes are compared at 14x14, each
    picture less its mean, by cosine."""
    features = F.avg_pool2d(torch.from_numpy(images).float()[:, None], 2).flatten(1)
    features = F.normalize(features - features.mean(1, keepdim=True), dim=1)
    votes = [""] * len(characters)
    categories = np.array([c.category for c in characters])
    for category in np.unique(categories):
        indices = np.flatnonzero(categories == category)
        names, labels = np.unique([characters[i].label for i in indices], return_inverse=True)
        _, writers = np.unique([characters[i].writer for i in indices], return_inverse=True)
        labels, writers = torch.from_numpy(labels), torch.from_numpy(writers)
        shapes = features[indices]
        for start in range(0, len(indices), 2048):
            chunk = slice(start, start + 2048)
            likeness = shapes[chunk] @ shapes.T
            likeness[writers[chunk, None] == writers[None, :]] = -2.0
            top, where = likeness.topk(min(NEIGHBOURS, len(indices)), dim=1)
            weights = torch.zeros(len(top), len(names)).scatter_add_(
                1, labels[where], top.clamp(min=0))
            best = weights.argmax(1).tolist()
            for offset, (label, weight) in enumerate(zip(best, weights.amax(1).tolist(),
                                                         strict=True)):
                votes[indices[start + offset]] = str(names[label]) if weight > 0 else ""
    return votes


def _agreement(labels: list[str], votes: list[str]) -> tuple[int, float, float, float]:
    """Over the segments with a vote: how many there are, how often their labels match the
    votes, how often the labels would, shuffled among them, and how alike the labels are
    (the chance that two picked at random match)."""
    voted = [(label, vote) for label, vote in zip(labels, votes, strict=True) if vote]
    if not voted:
        return 0, 0.0, 0.0, 1.0
    labels, votes = [label for label, _ in voted], [vote for _, vote in voted]
    count = len(labels)
    agree = sum(a == b for a, b in zip(labels, votes, strict=True)) / count
    label_counts, vote_counts = Counter(labels), Counter(votes)
    chance = sum(n * vote_counts[label] for label, n in label_counts.items()) / count ** 2
    alike = sum((n / count) ** 2 for n in label_counts.values())
    return count, agree, chance, alike


def check_labels(characters: Sequence[Character], votes: Sequence[str]) -> list[FileCheck]:
    """A verdict per ``.dat`` file: misaligned when a segment lies outside its pen file, or
    when its labels agree with the shapes' votes less than ``MARGIN`` above a shuffled
    labelling of its own (segments without a vote say nothing). A file of fewer than
    ``FEWEST_TO_JUDGE`` segments, or of labels too alike to tell (any two picked at random
    match more often than not), is judged with the writer's other such files of the
    category, and kept when even they cannot tell."""
    files = by_file(characters)
    groups: dict[tuple[str, str], list[str]] = defaultdict(list)
    for name, indices in files.items():
        labels = [characters[i].label for i in indices]
        count, _, _, alike = _agreement(labels, [votes[i] for i in indices])
        if count < FEWEST_TO_JUDGE or alike > 0.5:
            first = characters[indices[0]]
            groups[(first.category, first.writer)].append(name)
        else:
            groups[("", name)].append(name)
    checks = []
    for names in groups.values():
        indices = [i for name in names for i in files[name]]
        labels = [characters[i].label for i in indices]
        count, agree, chance, alike = _agreement(labels, [votes[i] for i in indices])
        judged = count >= FEWEST_TO_JUDGE and alike <= 0.5
        for name in names:
            own = files[name]
            first = characters[own[0]]
            broken = not all(characters[i].complete for i in own)
            checks.append(FileCheck(
                file=name, category=first.category, site=first.site, segments=len(own),
                judged=count if judged else 0, agreement=agree, chance=chance,
                misaligned=broken or (judged and agree < chance + MARGIN)))
    return sorted(checks, key=lambda check: check.file)


def side_of(writer: str) -> int:
    """The index in ``SIDES`` of a writer's side: where the first 32 bits of the SHA-256 of
    its key fall among the cumulative ``SHARES``. It depends on the key alone, so a writer is
    on the same side whichever categories are read, and on one side only."""
    share = int(hashlib.sha256(writer.encode()).hexdigest()[:8], 16) / 2 ** 32
    return int(np.searchsorted(np.cumsum(SHARES), share, side="right").clip(max=len(SIDES) - 1))


def real_digits(root: Path | str, reader: Recognizer, seed: int) -> Split:
    """The fit side's digits of the UNIPEN folder ``root``, twice: drawn with a pen of their
    own as reading normalizes them, and handed over one of the ways users hand digits over
    (``handed.KINDS``, in turn) and read by ``reader`` (a recognizer reading each picture as
    one digit), as uint8 images (white on black) for the ConvNet's training set."""
    handwriting = load_handwriting(root, ["1a"])
    indices = handwriting.select(["1a"], "fit")
    rng = np.random.default_rng(seed)
    images = drawn(handwriting, indices, rng)
    images = torch.cat([images, handed_over_inputs(images, rng, reader)])
    labels = handwriting.digit_labels(indices)
    return Split(images.mul(255).round().to(torch.uint8), torch.cat([labels, labels]))


def load_handwriting(root: Path | str, categories: Iterable[str] = tuple(CATEGORIES)
                     ) -> Handwriting:
    """Read the UNIPEN folder ``root`` (``unipen.read_unipen``: ``DataError`` for a missing
    or broken folder or file), draw every character as reading would see it, check the labels
    file by file, set the look-alikes apart and split the writers."""
    characters = read_unipen(root, categories)
    typical = typical_sizes(characters)
    images = np.zeros((len(characters), SIDE, SIDE), np.uint8)
    for index, (character, size) in enumerate(zip(characters, typical, strict=True)):
        if character.strokes:
            images[index] = np.round(as_read(character.strokes, size, CHECK_PEN) * 255)
    checks = check_labels(characters, shape_votes(images, characters))
    dropped = {check.file for check in checks if check.misaligned}
    return Handwriting(
        characters=characters, images=images, typical=typical,
        kept=np.array([c.file not in dropped and bool(c.strokes) for c in characters], bool),
        side=np.array([side_of(c.writer) for c in characters], np.int8),
        look_alike=np.array([c.label in LOOK_ALIKES and c.category != "1a"
                             for c in characters], bool),
        checks=checks)
