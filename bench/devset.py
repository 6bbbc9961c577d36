"""The real-handwriting dev sets (``../shared/devset``), read in place: internal data, never
copied into the repository, never trained, fitted or calibrated on. Each reader returns ``None``
(with a note printed) when its set is absent."""

import csv
from pathlib import Path

import cv2
import numpy as np

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


def binarized_scans(stretched: bool) -> tuple[list[np.ndarray], list[str], list[str]] | None:
    """The scans as binarized 16x16 scans come, made from the dev scans for measuring only:
    reduced to 16x16 (``stretched``: the ink cropped and stretched to fill the field, as some
    scanners' forms do; else the field as it is), binarized at half grey, shown at 16, 32, 48
    and 96 px in turn (nearest neighbour). Pictures, labels and names."""
    found = scans()
    if found is None:
        return None
    pictures = []
    for index, path in enumerate(found[0]):
        ink = 255 - cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
        if stretched:
            rows, cols = np.flatnonzero(ink.max(1) > 60), np.flatnonzero(ink.max(0) > 60)
            ink = ink[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
        low = cv2.resize(ink, (16, 16), interpolation=cv2.INTER_AREA)
        scan = np.where(low > 127, 0, 255).astype(np.uint8)
        side = (16, 32, 48, 96)[index % 4]
        pictures.append(cv2.resize(scan, (side, side), interpolation=cv2.INTER_NEAREST))
    return pictures, found[1], [path.name for path in found[0]]


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
