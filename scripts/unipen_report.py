"""Write ``docs/unipen.md`` and its contact sheets: what of UNIPEN was kept and dropped, per
category and site, and what was set apart.

Reads the folder as fitting does (``handwriting.load_handwriting``: format, label checks,
look-alikes, writers' sides), then draws for each category one row of characters per site,
each as reading normalizes it with its label under it, and one sheet of the files dropped.

    python scripts/unipen_report.py FOLDER   # a UNIPEN folder: data/, include/
"""

import argparse
import io
from collections import Counter, defaultdict
from dataclasses import replace
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from PIL import Image

from mnist_cnn.fitting.handwriting import (
    FEWEST_TO_JUDGE,
    LOOK_ALIKES,
    MARGIN,
    SIDES,
    Handwriting,
    by_file,
    check_labels,
    load_handwriting,
    shape_votes,
)
from mnist_cnn.fitting.unipen import CATEGORIES

DOCS = Path(__file__).resolve().parent.parent / "docs"
PER_ROW = 24


def sheet(handwriting: Handwriting, rows: dict[str, list[int]], title: str, path: Path) -> None:
    """One row of characters per key (dark on white, 28x28, the label under each)."""
    figure = Figure(figsize=(PER_ROW * 0.42 + 0.9, len(rows) * 0.55 + 0.4))
    for row, (name, indices) in enumerate(rows.items()):
        for column, index in enumerate(indices[:PER_ROW]):
            axis = figure.add_axes((0.9 / figure.get_figwidth() + column / (PER_ROW + 2.2),
                                    1 - (row + 1) / (len(rows) + 0.7), 0.95 / (PER_ROW + 2.2),
                                    0.75 / (len(rows) + 0.7)))
            axis.imshow(255 - handwriting.images[index], cmap="gray", vmin=0, vmax=255)
            axis.set_axis_off()
            axis.set_title(handwriting.characters[index].label, fontsize=6, y=-0.42)
        figure.text(0.005, 1 - (row + 0.6) / (len(rows) + 0.7), name, fontsize=7)
    figure.suptitle(title, fontsize=8, y=0.995)
    buffer = io.BytesIO()
    figure.savefig(buffer, dpi=80)
    Image.open(buffer).convert("L").save(path, optimize=True)


def moved_labels_found(handwriting: Handwriting) -> dict[str, float]:
    """Per category: the share of labels the checks find when every file's labels are moved
    by one segment, as when a file's segments are misaligned with its labels (the labels a
    move leaves as they were, in runs of one label, are not counted)."""
    characters = handwriting.characters
    moved = list(characters)
    for indices in by_file(characters).values():
        labels = [characters[i].label for i in indices]
        for index, label in zip(indices, labels[1:] + labels[:1], strict=True):
            moved[index] = replace(characters[index], label=label)
    votes = shape_votes(handwriting.images, characters)
    verdict = {check.file: check.misaligned for check in check_labels(moved, votes)}
    found = defaultdict(list)
    for before, after in zip(characters, moved, strict=True):
        if before.label != after.label:
            found[before.category].append(verdict[before.file])
    return {category: float(np.mean(values)) for category, values in sorted(found.items())}


def code(label: str) -> str:
    """A label as Markdown code, a backtick too."""
    return f"`` {label} ``" if "`" in label else f"`{label}`"


def samples(indices: list[int], rng: np.random.Generator) -> list[int]:
    return sorted(rng.choice(indices, size=min(PER_ROW, len(indices)), replace=False).tolist())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    args = parser.parse_args()
    handwriting = load_handwriting(args.folder)
    found = moved_labels_found(handwriting)
    rng = np.random.default_rng(0)
    (DOCS / "unipen").mkdir(exist_ok=True)
    characters = handwriting.characters
    files = defaultdict(Counter)
    for check in handwriting.checks:
        files[(check.category, check.site)]["files"] += 1
        files[(check.category, check.site)]["dropped files"] += check.misaligned
    segments = defaultdict(Counter)
    by_site = defaultdict(list)
    for index, character in enumerate(characters):
        key = (character.category, character.site)
        segments[key]["segments"] += 1
        segments[key]["kept"] += bool(handwriting.kept[index])
        segments[key]["set apart"] += bool(handwriting.kept[index]
                                           and handwriting.look_alike[index])
        segments[key][SIDES[handwriting.side[index]]] += bool(handwriting.kept[index])
        by_site[key].append(index)
    lines = [
        "# UNIPEN: what was read, kept, dropped and set apart",
        "",
        "Made by `python scripts/unipen_report.py FOLDER` from UNIPEN train_r01_v07, categories "
        "1a-1d (Guyon, Schomaker, Plamondon, Liberman and Janet, ICPR 1994; CC BY 4.0), read "
        "as fitting reads it (`mnist_cnn/fitting/unipen.py`, `handwriting.py`).",
        "",
        "**Reading.** Components are the pen blocks that hold points: the `.PEN_DOWN` blocks, "
        "and the `.PEN_UP` blocks at the four sites that record the pen's path in the air "
        "(cea, ceb, pri, tos; elsewhere `.PEN_UP` blocks are empty). Numbered that way, every "
        "segment of the four categories lies inside its pen file and draws its label; counting "
        "only `.PEN_DOWN` blocks puts most of those four sites' segments outside their files "
        "or on other strokes (words, dots, nothing).",
        "",
        "**Checks.** Each label is compared with what the nine characters of the same category "
        "most alike in shape, written by other writers, are labelled (`shape_votes`). A file "
        "is misaligned and dropped whole when its labels agree with those votes less than "
        f"{MARGIN:.2f} above what its own labels shuffled among its segments would; a file of "
        f"fewer than {FEWEST_TO_JUDGE} segments, or of labels mostly alike, is judged with the "
        "writer's other such files of the category, and kept when they cannot tell either. No "
        "single character is dropped for being hard to read. With every file's labels moved by "
        "one segment, as a misaligned file's are, the checks find this share of the labels "
        "moved: " + ", ".join(f"{category} {100 * share:.0f} %" for category, share in
                              found.items())
        + " (digits' files often repeat a digit, whose moves a writer's other files "
        "outvote).",
        "",
        "**Set apart** (kept, but neither digits nor non-digits): "
        + " ".join(code(label) for label in sorted(LOOK_ALIKES)) + ".",
        "",
        "**Sides.** A writer (keyed by site and `.WRITER_ID`) is on the side where the SHA-256 "
        "of the key falls: fit 80 %, validate 10 %, calibrate 10 % of the writers.",
        "",
        "| category | site | files | dropped files | segments | kept | set apart | "
        + " | ".join(SIDES) + " |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | " + " | ".join("---:" for _ in SIDES)
        + " |",
    ]
    for category, name in CATEGORIES.items():
        keys = sorted(key for key in segments if key[0] == category)
        total = sum((segments[key] for key in keys), Counter())
        total_files = sum((files[key] for key in keys), Counter())
        for key, counts, file_counts in [*((k, segments[k], files[k]) for k in keys),
                                         ((category, "**all**"), total, total_files)]:
            lines.append(
                f"| {category} {name} | {key[1]} | {file_counts['files']:,} | "
                f"{file_counts['dropped files']:,} | {counts['segments']:,} | "
                f"{counts['kept']:,} | {counts['set apart']:,} | "
                + " | ".join(f"{counts[side]:,}" for side in SIDES) + " |")
        rows = {key[1]: samples(by_site[key], rng) for key in keys}
        sheet(handwriting, rows, f"UNIPEN {category} ({name}): a sample of each site, as "
              "reading normalizes them", DOCS / "unipen" / f"{category}.png")
    dropped = [check for check in handwriting.checks if check.misaligned]
    lines += ["", "## Files dropped", "",
              "| file | segments | judged over | agreement | shuffled |",
              "| --- | ---: | ---: | ---: | ---: |"]
    lines += [f"| {check.file} | {check.segments} | {check.judged} | {check.agreement:.2f} | "
              f"{check.chance:.2f} |" for check in dropped]
    lines += ["", "## Contact sheets", ""]
    lines += [f"![{name}](unipen/{category}.png)" for category, name in CATEGORIES.items()]
    if dropped:
        rows = {check.file.split("/", 2)[2]: [i for i, c in enumerate(characters)
                                               if c.file == check.file] for check in dropped}
        sheet(handwriting, rows, "Files dropped as misaligned", DOCS / "unipen" / "dropped.png")
        lines.append("![dropped](unipen/dropped.png)")
    (DOCS / "unipen.md").write_text("\n".join(lines) + "\n")
    print(f"wrote {DOCS / 'unipen.md'} and its sheets in {DOCS / 'unipen'}")


if __name__ == "__main__":
    main()
