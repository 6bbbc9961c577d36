"""The real-handwriting dev set (``../shared/devset``), read in place: internal data, never
copied into the repository. Benchmarks that use it say so when it is absent."""

import csv
from pathlib import Path

DEVSET = Path(__file__).resolve().parent.parent.parent / "shared" / "devset"


def single_digits() -> tuple[list[Path], list[str]] | None:
    """The single digits' files and labels, or ``None`` (with a note printed) when absent."""
    if not (DEVSET / "labels.csv").is_file():
        print(f"dev set: not found at {DEVSET}, skipped")
        return None
    rows = list(csv.DictReader((DEVSET / "labels.csv").open()))
    return [DEVSET / "images" / row["file"] for row in rows], [row["label"] for row in rows]


def cheque_amounts() -> tuple[list[Path], list[str]]:
    """The scanned cheque amounts and the numbers they hold (a file's name up to ``_``)."""
    paths = sorted((DEVSET / "numbers").glob("*.png"))
    return paths, [path.name.split("_")[0] for path in paths]
