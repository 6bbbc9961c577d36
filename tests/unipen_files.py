"""Small UNIPEN folders written by the tests: pen files, ``.dat`` files and their segments, and
characters drawn as strokes (a 0 as a ring, a 1 as a bar, a 7 as a bar and a slope) with each
writer's own size, slant and wobble."""

from pathlib import Path

import numpy as np

Strokes = list[np.ndarray]
"""A character as strokes of (x, y) points, y pointing down as in a picture."""


def glyph(label: str, rng: np.random.Generator) -> Strokes:
    """One handwritten-looking 0, 1 or 7, about 100 units tall."""
    if label == "0":
        angle = np.linspace(0, 2 * np.pi, 30)
        strokes = [np.stack([35 * np.sin(angle), -50 * np.cos(angle)], 1)]
    elif label == "1":
        strokes = [np.stack([np.zeros(12), np.linspace(-50, 50, 12)], 1)]
    else:
        strokes = [np.stack([np.linspace(-35, 35, 10), np.full(10, -50.0)], 1),
                   np.stack([np.linspace(35, -10, 12), np.linspace(-50, 50, 12)], 1)]
    slant, size = rng.uniform(-0.3, 0.3), rng.uniform(0.8, 1.2)
    return [np.stack([size * (s[:, 0] - slant * s[:, 1]), size * s[:, 1]], 1)
            + rng.normal(0, 1.5, s.shape) for s in strokes]


def pen_text(strokes: list[Strokes], writer: str | None, pen_up_points: bool) -> tuple[str, list]:
    """A pen file's text holding the characters' strokes one after another, and each
    character's component range: components are the pen blocks that hold points, so where the
    pen's path in the air is recorded (``pen_up_points``) every ``.PEN_UP`` block counts too."""
    lines = [".VERSION 1.0", ".COORD X Y"]
    if writer is not None:
        lines.append(f".WRITER_ID {writer}")
    component, ranges = 0, []
    for character in strokes:
        first = component
        for stroke in character:
            lines.append(".PEN_DOWN")
            lines += [f"  {x:.0f} {-y:.0f}" for x, y in stroke]  # the tablet's y points up
            component += 1
            lines.append(".PEN_UP")
            if pen_up_points:
                lines += [f"  {x:.0f} {-y + 20:.0f}" for x, y in stroke[-2:]]
                component += 1
        last = component - 1 - pen_up_points
        ranges.append(f"{first}-{last}" if last > first else str(first))
    return "\n".join(lines) + "\n", ranges


def write_file(root: Path, category: str, site: str, name: str, writer: str | None,
               characters: list[tuple[str, Strokes]], pen_up_points: bool = False,
               ranges: list[str] | None = None) -> Path:
    """``data/<category>/<site>/<name>.dat`` and the pen file it includes; ``ranges``: the
    segments' ranges as written (default: each character's own)."""
    text, own = pen_text([strokes for _, strokes in characters], writer, pen_up_points)
    pen = root / "include" / site / "data" / f"{name}.dat"
    pen.parent.mkdir(parents=True, exist_ok=True)
    pen.write_text(text)
    data = root / "data" / category / site / f"{name}.dat"
    data.parent.mkdir(parents=True, exist_ok=True)
    segments = [f'.SEGMENT CHARACTER {span} ? "{label}"'
                for span, (label, _) in zip(ranges or own, characters, strict=True)]
    data.write_text("\n".join([".VERSION 1.0", f".INCLUDE {site}/data/{name}.dat", *segments])
                    + "\n")
    return data


def write_writers(root: Path, writers: list[str], labels: str = "017", per_label: int = 4,
                  seed: int = 0) -> Path:
    """A UNIPEN folder of digits: one file per writer at site ``abc``, each writer writing
    every label ``per_label`` times in turn, in a hand of their own."""
    rng = np.random.default_rng(seed)
    for writer in writers:
        characters = [(label, glyph(label, rng)) for _ in range(per_label) for label in labels]
        write_file(root, "1a", "abc", writer, writer, characters)
    return root
