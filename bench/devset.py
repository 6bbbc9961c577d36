"""The real-handwriting dev sets (``../shared/devset``), read in place: internal data, never
copied into the repository, never trained, fitted or calibrated on. Each reader returns ``None``
(with a note printed) when its set is absent."""

import csv
from pathlib import Path

DEVSET = Path(__file__).resolve().parent.parent.parent / "shared" / "devset"
NUMBER_SOURCES = {"Fzkuji/Labeled_ORAND-CAR-A": "cheque", "coastalcph/mgr-birthdates": "register",
                  "lilong-wen/hdsr": "cheque-crop"}


def _present(path: Path) -> bool:
    if not path.exists():
        print(f"dev set: {path} not found, skipped")
        return False
    return True


def single_digits() -> tuple[list[Path], list[str]] | None:
    """The photographed and drawn single digits' files and labels."""
    if not _present(DEVSET / "labels.csv"):
        return None
    rows = list(csv.DictReader((DEVSET / "labels.csv").open()))
    return [DEVSET / "images" / row["file"] for row in rows], [row["label"] for row in rows]


def scans() -> tuple[list[Path], list[str]] | None:
    """The low-resolution scanned digits (USPS, shown at 16-96 px): label = first character."""
    if not _present(DEVSET / "scans" / "images"):
        return None
    paths = sorted((DEVSET / "scans" / "images").glob("*.png"))
    return paths, [path.name[0] for path in paths]


def numbers() -> tuple[list[Path], list[str], list[str]] | None:
    """The real handwritten numbers, the number each holds (its name up to ``_``) and its
    source (cheque, register, cheque-crop)."""
    if not _present(DEVSET / "numbers" / "provenance.csv"):
        return None
    rows = list(csv.DictReader((DEVSET / "numbers" / "provenance.csv").open()))
    paths = [DEVSET / "numbers" / row["file"] for row in rows]
    return (paths, [path.name.split("_")[0] for path in paths],
            [NUMBER_SOURCES.get(row["repo"], row["repo"]) for row in rows])


def nondigits() -> tuple[list[Path], list[str]] | None:
    """The real hand-drawn non-digits and their family (omniglot, letter, doodle)."""
    if not _present(DEVSET / "nondigits" / "images"):
        return None
    paths = sorted((DEVSET / "nondigits" / "images").glob("*.png"))
    return paths, [path.name.split("_")[0] for path in paths]
