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


def _scan_form(ink: np.ndarray, form: str, index: int) -> np.ndarray:
    """One dev scan (ink white on black, uint8) as ``form`` comes, dark ink on white: a
    binarized 16x16 scan, the field as it is (``binarized``) or the ink cropped and stretched
    to fill it (``stretched``, as some scanners' forms do), shown at 16, 32, 48 or 96 px; an
    8x8 reduction in 17 grey levels (``8x8``, as the UCI/scikit-learn digits are), shown at 8,
    16, 32 or 64 px; or the scan as it is shown 2 to 5 times larger by repeating its pixels
    (``nearest``, as many viewers and digit-drawing apps save a small grid)."""
    if form == "nearest":
        factor = 2 + index % 4
        return cv2.resize(255 - ink, None, fx=factor, fy=factor, interpolation=cv2.INTER_NEAREST)
    if form == "stretched":
        rows, cols = np.flatnonzero(ink.max(1) > 60), np.flatnonzero(ink.max(0) > 60)
        ink = ink[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    if form == "8x8":
        low = cv2.resize(ink, (8, 8), interpolation=cv2.INTER_AREA)
        scan = 255 - (np.round(low / 255 * 16) * 255 / 16).astype(np.uint8)
        side = (8, 16, 32, 64)[index % 4]
    else:
        low = cv2.resize(ink, (16, 16), interpolation=cv2.INTER_AREA)
        scan = np.where(low > 127, 0, 255).astype(np.uint8)
        side = (16, 32, 48, 96)[index % 4]
    return cv2.resize(scan, (side, side), interpolation=cv2.INTER_NEAREST)


SCAN_FORMS = ("binarized", "stretched", "8x8", "nearest")


def scan_forms(form: str) -> tuple[list[np.ndarray], list[str], list[str]] | None:
    """The dev scans as other scanners hand digits over (``SCAN_FORMS``, see ``_scan_form``),
    made from them for measuring only: pictures, labels and names."""
    found = scans()
    if found is None:
        return None
    pictures = [_scan_form(255 - cv2.imread(str(path), cv2.IMREAD_GRAYSCALE), form, index)
                for index, path in enumerate(found[0])]
    return pictures, found[1], [path.name for path in found[0]]


def single_digit_files(scratch: Path) -> dict[str, tuple[list[Path], list[str]]]:
    """Every form of real single digit as files: the photos and canvases and the scans in
    place, the other scan forms written as PNGs under ``scratch`` (a temporary folder, never
    the repository). Forms whose set is absent are left out."""
    forms = {"photos and canvases": single_digits(), "scans": scans()}
    for form in SCAN_FORMS:
        made = scan_forms(form)
        if made is None:
            continue
        pictures, labels, names = made
        folder = scratch / form
        folder.mkdir(parents=True, exist_ok=True)
        paths = [folder / name for name in names]
        for picture, path in zip(pictures, paths, strict=True):
            cv2.imwrite(str(path), picture)
        forms[f"scans {form}"] = paths, labels
    return {form: found for form, found in forms.items() if found is not None}


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
