"""UNIPEN on-line handwriting read in its own format: the characters of real writers, as pen
trajectories, with their labels, sites and writers.

A UNIPEN folder holds ``data/<category>/<site>/.../*.dat`` and ``include/``. A ``.dat`` file
names its pen files with ``.INCLUDE`` (paths under ``include/``; an included file may include
others: documentation, lexicons) and lists ``.SEGMENT CHARACTER <ranges> <quality> "<label>"``.
The included text is one stream of keywords; its ink comes in ``.PEN_DOWN`` blocks of ``x y``
(or ``x y t``) lines. Components are numbered from 0 over the pen blocks that hold points: the
``.PEN_DOWN`` blocks, and the ``.PEN_UP`` blocks at the sites that record the pen's path in the
air (four of the 22; elsewhere they are empty). A range is ``a-b`` (components a to b),
``a:p-b:q`` (from point p of component a to point q of component b) or a mix of the two;
several ranges are separated by commas. The y axis points up: strokes are returned with it
pointing down, as a picture's rows do. Writers are keyed by site (``.WRITER_ID`` is a site's
own number), or by site and pen file where a file names none.

Reading is strict about the format (a missing folder, a missing included file, a line that is
not numbers where numbers belong: ``DataError`` naming the file) and lenient about the content,
which the collection itself calls raw and unchecked: a segment whose range lies outside its
file's components is kept, marked ``complete=False``, for the label checks
(``handwriting.check_labels``) to judge with the rest of its file. Only fitting reads this.
"""

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from mnist_cnn.errors import DataError

CATEGORIES = {"1a": "digits", "1b": "capital letters", "1c": "lower-case letters",
              "1d": "symbols"}
"""The categories of isolated characters, and what each holds."""
_KEYWORD = re.compile(r"^\.([A-Z_]+)[ \t]*(.*)$")
_SEGMENT = re.compile(r'^(\S+)\s+(\S+)\s+(\S+)\s+"(.*)"\s*$')
_BOUND = re.compile(r"^(\d+)(?::(\d+))?$")
MOST_NESTED = 8
"""Includes nest this deep at most (the collection's go two deep)."""
_ESCAPED = re.compile(r'\\(["\\])')
"""A label's escapes: ``\\"`` is a double quote, ``\\\\`` a backslash (``\\@``, kai's mark for
the strokes joining letters in a word, stays as it is)."""


@dataclass(frozen=True)
class Character:
    """One segment: a character written by one writer. ``strokes``: float32 ``(n, 2)`` arrays
    of x, y in the tablet's units (y pointing down); ``file``: the ``.dat`` file, relative to
    the folder; ``index``: the segment's place in it; ``complete``: its range lay inside its
    pen file's components."""

    label: str
    category: str
    site: str
    writer: str
    file: str
    index: int
    strokes: tuple[np.ndarray, ...]
    complete: bool = True


@dataclass(frozen=True)
class _PenText:
    """What an included stream holds: its components and its writer."""

    components: tuple[np.ndarray | None, ...]
    """Every pen block in order: a ``.PEN_DOWN`` block's points, ``None`` for a ``.PEN_UP``."""
    writer: str | None


def _keywords(path: Path) -> Iterator[tuple[str, str, list[str]]]:
    """``(keyword, rest of its line, following lines)`` for every keyword of a file."""
    try:
        text = path.read_text(encoding="latin-1")
    except OSError as error:
        raise DataError(f"{path}: cannot read ({error.strerror or error})") from error
    keyword, rest, lines = None, "", []
    for line in text.splitlines():
        match = _KEYWORD.match(line)
        if match:
            if keyword is not None:
                yield keyword, rest, lines
            keyword, rest, lines = match.group(1), match.group(2).strip(), []
        elif keyword is not None and line.strip():
            lines.append(line)
    if keyword is not None:
        yield keyword, rest, lines


def _points(path: Path, lines: list[str]) -> np.ndarray:
    """A ``.PEN_DOWN`` block's ``x y [t ...]`` lines -> float32 ``(n, 2)`` of x, y."""
    if not lines:
        return np.zeros((0, 2), np.float32)
    try:
        rows = [line.split() for line in lines]
        width = min(len(row) for row in rows)
        if width < 2:
            raise ValueError
        return np.array([row[:2] for row in rows], dtype=np.float32)
    except ValueError:
        raise DataError(f"{path}: a .PEN_DOWN block holds a line that is not x y numbers "
                        f"({lines[0].strip()[:40]!r}...)") from None


_NOTHING = _PenText((), None)


@lru_cache(maxsize=4096)
def _pen_text(include: Path, name: str, depth: int = 0) -> _PenText:
    """The components and writer of an included file and what it includes.

    A file a ``.dat`` names must exist; one that an included file names in turn (its
    documentation: the site's set-up, sometimes its writer) may be missing, as parts of the
    collection are distributed without it. Components are the pen blocks that hold points:
    where a site records the pen's path in the air too (``.PEN_UP`` blocks with points), its
    segments count those blocks, which hold no ink; elsewhere ``.PEN_UP`` blocks are empty
    and only ``.PEN_DOWN`` blocks count."""
    path = include / name
    if depth > MOST_NESTED:
        raise DataError(f"{path}: included {depth} files deep (does a file include itself?)")
    if not path.is_file():
        if depth:
            return _NOTHING
        raise DataError(f"{path}: included file not found")
    components: list[np.ndarray | None] = []
    writer = None
    for keyword, rest, lines in _keywords(path):
        if keyword == "INCLUDE":
            inner = _pen_text(include, rest, depth + 1)
            components.extend(inner.components)
            writer = writer or inner.writer
        elif keyword == "PEN_DOWN" and lines:
            components.append(_points(path, lines))
        elif keyword == "PEN_UP" and lines:
            components.append(None)
        elif keyword == "WRITER_ID" and rest:
            writer = rest.split()[0]
    return _PenText(tuple(components), writer)


def _bound(text: str) -> tuple[int, int | None]:
    match = _BOUND.match(text)
    if not match:
        raise ValueError(text)
    return int(match.group(1)), None if match.group(2) is None else int(match.group(2))


def parse_ranges(text: str) -> list[tuple[tuple[int, int | None], tuple[int, int | None]]]:
    """``"3-4:12,7"`` -> ``[((3, None), (4, 12)), ((7, None), (7, None))]``: each range's first
    and last component, with a point index where one is given. ``ValueError`` if malformed."""
    ranges = []
    for part in text.split(","):
        bounds = [_bound(bound) for bound in part.split("-")]
        if len(bounds) > 2:
            raise ValueError(part)
        ranges.append((bounds[0], bounds[-1] if len(bounds) == 2 else (bounds[0][0], None)))
    return ranges


def _strokes(components: tuple[np.ndarray | None, ...], ranges: list
             ) -> tuple[list[np.ndarray], bool]:
    """The points the ranges take of the components (``None``: a pen-up block, no ink), one
    array per component touched; whether every component named exists."""
    strokes, complete = [], True
    for (first, start), (last, end) in ranges:
        if last < first or last >= len(components):
            complete = False
        for number in range(first, min(last, len(components) - 1) + 1):
            points = components[number]
            if points is None:
                continue
            low = start if number == first and start is not None else 0
            high = end + 1 if number == last and end is not None else len(points)
            if len(points[low:high]):
                strokes.append(points[low:high] * np.float32([1, -1]))
    return strokes, complete


def _data_files(root: Path, categories: Iterable[str]) -> list[tuple[str, Path]]:
    if not root.is_dir():
        raise DataError(f"{root}: UNIPEN folder not found")
    files = []
    for category in categories:
        folder = root / "data" / category
        if not folder.is_dir():
            raise DataError(f"{folder}: not found (a UNIPEN folder holds data/{category}/ and "
                            "include/)")
        found = sorted(folder.rglob("*.dat"))
        if not found:
            raise DataError(f"{folder}: no .dat files")
        files.extend((category, path) for path in found)
    if not (root / "include").is_dir():
        raise DataError(f"{root / 'include'}: not found (a UNIPEN folder holds data/ and "
                        "include/)")
    return files


def _read_file(root: Path, category: str, path: Path) -> list[Character]:
    """The characters one ``.dat`` file lists (``DataError`` if it or a file it includes is
    broken)."""
    relative = path.relative_to(root).as_posix()
    site = path.relative_to(root / "data" / category).parts[0]
    includes, segments = [], []
    for keyword, rest, _ in _keywords(path):
        if keyword == "INCLUDE":
            includes.append(rest.split()[0] if rest else "")
        elif keyword == "SEGMENT":
            segments.append(rest)
    texts = [_pen_text(root / "include", name) for name in includes]
    components = tuple(part for text in texts for part in text.components)
    writer = next((text.writer for text in texts if text.writer), None)
    pen_file = includes[-1] if includes else relative
    characters = []
    for index, segment in enumerate(segments):
        match = _SEGMENT.match(segment)
        if not match or match.group(1) != "CHARACTER":
            raise DataError(f"{path}: segment {index + 1} is not "
                            f'\'CHARACTER <ranges> <quality> "<label>"\' ({segment[:60]!r})')
        try:
            ranges = parse_ranges(match.group(2))
        except ValueError:
            raise DataError(f"{path}: segment {index + 1} has a malformed range "
                            f"{match.group(2)!r}") from None
        strokes, complete = _strokes(components, ranges)
        characters.append(Character(
            label=_ESCAPED.sub(r"\1", match.group(4)), category=category, site=site,
            writer=f"{site}/{writer}" if writer else f"{site}/{pen_file}",
            file=relative, index=index, strokes=tuple(strokes),
            complete=complete and bool(strokes)))
    return characters


def read_unipen(root: Path | str, categories: Iterable[str] = tuple(CATEGORIES)
                ) -> list[Character]:
    """Every character of ``categories`` in the UNIPEN folder ``root`` (``data/`` and
    ``include/`` in the standard layout), in a fixed order. ``DataError`` naming the folder or
    file when one is missing or broken."""
    root = Path(root)
    categories = tuple(categories)
    unknown = [name for name in categories if name not in CATEGORIES]
    if unknown:
        raise DataError(f"unknown UNIPEN categories {', '.join(unknown)} "
                        f"(known: {', '.join(CATEGORIES)})")
    characters = []
    try:
        for category, path in _data_files(root, categories):
            characters.extend(_read_file(root, category, path))
    finally:
        _pen_text.cache_clear()
    return characters
