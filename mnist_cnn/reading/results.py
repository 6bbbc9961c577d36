"""What was read from one picture, and how it is shown: a line of text, a JSON record, a picture.

``Recognizer`` (``reading.recognizer``) makes these; the CLI, the app and notebooks show them.
The picture of a result (its boxes and title) lives here too, so drawing a result needs nothing
from the recognizer; matplotlib is imported only when a picture is drawn.
"""

import io
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

CELL_SIZE = (2.2, 2.4)
"""Inches per picture, in the grid and in a notebook."""


@dataclass
class DigitReading:
    """One digit read: the class, its softmax confidence, the runners-up and where it is
    (``box``: x, y, width, height in the original picture's pixels)."""

    digit: int
    confidence: float
    top_k: list[tuple[int, float]]
    uncertain: bool
    box: tuple[int, int, int, int]
    score: float | None = None
    """The digit score (log-odds that this is a digit at all); ``None`` with rejection off."""
    network_input: np.ndarray | None = field(default=None, repr=False)

    def as_json(self) -> dict:
        return {
            "digit": self.digit,
            "confidence": self.confidence,
            "top_k": [{"digit": digit, "confidence": p} for digit, p in self.top_k],
            "uncertain": self.uncertain,
            "box": list(self.box),
            "score": self.score,
        }


@dataclass
class RejectedMark:
    """A mark that is not a digit (a letter, a symbol, a doodle, a dash in a number): where it
    is, the digit it looks most like, and its digit score (log-odds; lower: less like one)."""

    box: tuple[int, int, int, int]
    closest: int
    score: float
    network_input: np.ndarray | None = field(default=None, repr=False)

    def as_json(self) -> dict:
        return {"box": list(self.box), "closest": self.closest, "score": self.score}


@dataclass(repr=False)
class Recognition:
    """What was read from one picture: its digits, line by line (``lines``: the number on each
    line of writing, top to bottom), or why nothing was (``blank``, ``error``).

    ``str()`` is its ``mnist-recognize`` line; in Jupyter it shows as the picture with its boxes.
    """

    path: str
    digits: list[DigitReading] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    rejected: list[RejectedMark] = field(default_factory=list)
    """Marks left out because they are not digits."""
    blank: bool = False
    error: str | None = None
    preview: np.ndarray | None = None
    scale: float = 1.0
    """Preview pixels per original pixel, for drawing the boxes."""
    form: str | None = None
    """What kind of picture it was read as (``networks.detector.FORMS``), which set the
    not-a-digit threshold; ``None`` when nothing was read."""
    alternatives: list[tuple[str, float]] = field(default_factory=list)
    """Up to three other numbers the picture may hold, each with its probability among the
    numbers its likeliest partitions spell (``scoring.alternatives``)."""
    whole: np.ndarray | None = field(default=None, repr=False)
    """How a picture searched for digits reads as a whole (``scoring.WHOLE_FEATURES``), where
    the not-a-digit detector judged it so; ``None`` otherwise."""

    @property
    def number(self) -> str:
        """The digits read, one group per line of writing; ``""`` when none."""
        return " ".join(self.lines)

    @property
    def not_digit(self) -> bool:
        """Marks were found, and none of them is a digit."""
        return bool(self.rejected) and not self.digits

    @property
    def digit(self) -> int | None:
        """The digit, when exactly one was found."""
        return self.digits[0].digit if len(self.digits) == 1 else None

    @property
    def confidence(self) -> float | None:
        """The lowest confidence of the digits read."""
        return min(d.confidence for d in self.digits) if self.digits else None

    @property
    def top_k(self) -> list[tuple[int, float]]:
        return self.digits[0].top_k if len(self.digits) == 1 else []

    @property
    def uncertain(self) -> bool:
        return any(d.uncertain for d in self.digits)

    def as_json(self) -> dict:
        record = {
            "path": self.path,
            "digit": self.digit,
            "confidence": self.confidence,
            "top_k": [{"digit": digit, "confidence": p} for digit, p in self.top_k],
            "uncertain": self.uncertain,
            "blank": self.blank,
            "error": self.error,
            "number": self.number,
            "digits": [d.as_json() for d in self.digits],
            "not_digit": self.not_digit,
            "rejected": [mark.as_json() for mark in self.rejected],
            "alternatives": [{"number": number, "probability": probability}
                             for number, probability in self.alternatives],
        }
        if len(self.lines) > 1:
            record["lines"] = list(self.lines)
        return record

    def __str__(self) -> str:
        return describe(self)

    def __repr__(self) -> str:
        """Short: which picture and what was read, not every field and array."""
        if self.error:
            outcome = f"error={self.error!r}"
        elif self.blank:
            outcome = "blank=True"
        elif self.not_digit:
            outcome = "not_digit=True"
        else:
            outcome = f"number={self.number!r}"
        left_out = f", rejected={len(self.rejected)}" if self.rejected and self.digits else ""
        return f"Recognition(path={self.path!r}, {outcome}{left_out})"

    def _repr_png_(self) -> bytes | None:
        """Jupyter's picture of the result: as in ``mnist-recognize``'s grid, the picture with
        a box around each digit and what was read; ``None`` (text only) when it was not kept."""
        if self.preview is None:
            return None
        return result_png(self)


def describe(result: Recognition) -> str:
    """The result as one line of ``mnist-recognize``'s output (``path: 7 (99.1%)``)."""
    if result.error:
        return f"error: {result.error}"
    if result.blank:
        return f"{result.path}: no digit found (blank, or no ink that stands out)"
    if result.not_digit:
        closest = ", ".join(str(mark.closest) for mark in result.rejected)
        return f"{result.path}: not a digit (closest: {closest})"
    if len(result.digits) == 1:
        line = f"{result.path}: {result.digit} ({100 * result.confidence:.1f}%)"
    else:
        line = (f"{result.path}: {result.number} "
                f"(lowest digit confidence {100 * result.confidence:.1f}%)")
    if result.uncertain:
        line += " uncertain"
    if len(result.top_k) > 1:
        line += "  [" + ", ".join(f"{d} {100 * p:.1f}%" for d, p in result.top_k) + "]"
    if result.rejected:
        marks = len(result.rejected)
        line += f"; left out {marks} mark{'s' * (marks > 1)} that {'are' if marks > 1 else 'is'} " \
                "not a digit"
    return line


def _title(result: Recognition) -> tuple[str, str]:
    if result.error:
        return "unreadable", "red"
    if result.blank:
        return "no digit", "gray"
    if result.not_digit:
        return "not a digit", "purple"
    if len(result.digits) == 1:
        text = f"predict: {result.digit} ({100 * result.confidence:.0f}%)"
    else:
        text = f"{result.number} (≥{100 * result.confidence:.0f}%)"
    return (text + "?", "orange") if result.uncertain else (text, "blue")


def _input_strip(result: Recognition) -> np.ndarray | None:
    """The 28x28 network inputs of a picture's digits side by side, one grey column apart."""
    inputs = [d.network_input for d in result.digits if d.network_input is not None]
    if not inputs:
        return None
    gap = np.full((inputs[0].shape[0], 2), 0.5, dtype=np.float32)
    return np.concatenate([part for pixels in inputs for part in (pixels, gap)][:-1], axis=1)


def _draw_boxes(axis, result: Recognition) -> None:
    """A rectangle around every digit found, labelled with the digit read; dotted around
    marks that are not digits."""
    from matplotlib.patches import Rectangle

    for reading in result.digits:
        x, y, width, height = (value * result.scale for value in reading.box)
        colour = "orange" if reading.uncertain else "tab:blue"
        axis.add_patch(Rectangle((x - 0.5, y - 0.5), width, height, fill=False, lw=1,
                                 edgecolor=colour))
        if len(result.digits) > 1:
            axis.text(x, y - 1, str(reading.digit), color=colour, fontsize=6, va="bottom")
    for mark in result.rejected:
        x, y, width, height = (value * result.scale for value in mark.box)
        axis.add_patch(Rectangle((x - 0.5, y - 0.5), width, height, fill=False, lw=1,
                                 edgecolor="purple", linestyle=":"))


def draw_result(axis, result: Recognition, inputs_axis=None) -> None:
    """One image with a box around every digit found, titled with what was read; the digits'
    28x28 network inputs in ``inputs_axis`` when given."""
    if result.preview is not None:
        axis.imshow(result.preview, cmap="gray", vmin=0, vmax=1)
        _draw_boxes(axis, result)
    title, colour = _title(result)
    axis.set_title(f"{Path(result.path).name}\n{title}", color=colour, fontsize=8)
    strip = _input_strip(result) if inputs_axis is not None else None
    if strip is not None:
        inputs_axis.imshow(strip, cmap="gray", vmin=0, vmax=1)
        inputs_axis.set_title("network input", fontsize=7)


def result_png(result: Recognition) -> bytes:
    """One image drawn as in the grid, as PNG bytes: how a result shows itself in Jupyter."""
    from matplotlib.figure import Figure  # no pyplot: a notebook's own figures are left alone

    figure = Figure(figsize=CELL_SIZE)
    axis = figure.subplots()
    axis.axis("off")
    draw_result(axis, result)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=150)
    return buffer.getvalue()
