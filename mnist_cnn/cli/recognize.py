"""``mnist-recognize``: print the digit in each image file and draw them in a grid."""

import argparse
import gc
import glob
import json
import os
import re
import sys
from collections.abc import Sequence
from pathlib import Path

from mnist_cnn.cli.common import (
    add_common_arguments,
    finite_float,
    number_type,
    positive_int,
    run_command,
)
from mnist_cnn.errors import UsageError
from mnist_cnn.reading.pipeline import PREPROCESS_MODES
from mnist_cnn.reading.recognizer import MAX_TOP_K, Recognizer, digit_count
from mnist_cnn.reading.results import Recognition, describe

PROGRAM = "mnist-recognize"
EXIT_FILE_FAILED = 1
IMAGE_SUFFIXES = frozenset({
    ".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".pgm", ".ppm", ".pbm",
})
"""The files of a folder given on the command line that are read."""


top_k = number_type(int, 1, MAX_TOP_K)
probability = number_type(float, 0, 1)


def length_type(text: str) -> tuple[int, int]:
    """``--length``: ``N`` or ``N-M`` digits, checked as ``Recognizer.load`` checks a length."""
    match = re.fullmatch(r"(\d+)(?:-(\d+))?", text.strip())
    if not match:
        raise argparse.ArgumentTypeError(f"{text!r} is not a count of digits, N or N-M")
    try:
        return digit_count((int(match[1]), int(match[2] or match[1])))
    except UsageError:
        raise argparse.ArgumentTypeError(f"must be at least 1, and N <= M in N-M; got {text}"
                                         ) from None


def expand_inputs(patterns: Sequence[str]) -> list[Path]:
    """Files as given, directories' image files (sorted), and glob patterns the shell left alone.

    A name that matches nothing is kept, so the user gets a per-file error for it.
    Raises ``UsageError`` when nothing at all was given or matched.
    """
    paths: list[Path] = []
    for pattern in patterns:
        path = Path(pattern)
        if path.is_dir() and path.suffix.lower() not in IMAGE_SUFFIXES:
            try:
                children = sorted(path.iterdir())
            except OSError as error:
                raise UsageError(f"{path}: cannot list the folder ({error.strerror})") from error
            paths.extend(child for child in children if child.suffix.lower() in IMAGE_SUFFIXES)
        elif os.path.lexists(pattern) or not glob.has_magic(pattern):
            paths.append(path)
        else:
            paths.extend(Path(match) for match in sorted(glob.glob(pattern)))
    if not paths:
        raise UsageError(f"no image files matched {' '.join(patterns)}")
    return paths


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROGRAM,
        description="Read the handwritten digits and numbers in image files with a trained "
                    "ConvNet.",
    )
    parser.add_argument("paths", nargs="+", metavar="PATH",
                        help="image files, folders of images, or glob patterns")
    parser.add_argument("--checkpoint", type=Path, default=None,
                        help="weights written by mnist-train (default ./model.ckpt, or the "
                             "model that ships with mnist-cnn when there is none)")
    parser.add_argument("--preprocess", choices=PREPROCESS_MODES, default="mnist",
                        help="mnist: find the ink, crop, scale and centre it like MNIST (default); "
                             "plain: the reference's resize-invert-scale, for comparison")
    parser.add_argument("--one-digit", action="store_true",
                        help="read each image as exactly one digit (no search for several)")
    parser.add_argument("--length", type=length_type, metavar="N[-M]",
                        help="each picture holds N digits (or N to M): read its likeliest "
                             "reading of that many (a zip code, an id, a meter)")
    parser.add_argument("--top-k", type=top_k, default=1,
                        help=f"also list the K most likely digits (1-{MAX_TOP_K}, default 1)")
    parser.add_argument("--threshold", type=probability, default=0.5,
                        help="below this confidence an answer is marked uncertain (default 0.5)")
    parser.add_argument("--reject-threshold", type=finite_float, metavar="S", default=None,
                        help="digit score (log-odds) below which a mark is not a digit "
                             "(default: the one fitted by mnist-train; lower rejects less)")
    parser.add_argument("--no-reject", action="store_true",
                        help="read every mark as a digit, as a plain 10-class network would")
    parser.add_argument("--json", action="store_true",
                        help="print one JSON document with every result instead of lines")
    parser.add_argument("--show", action="store_true", help="open a window with the grid")
    parser.add_argument("--grid", type=Path, metavar="FILE.png", help="save the grid to a file")
    parser.add_argument("--no-grid", action="store_true",
                        help="draw nothing (the default shows the grid only when a display exists)")
    parser.add_argument("--show-input", action="store_true",
                        help="draw the 28x28 network input under each image in the grid")
    parser.add_argument("--grid-max", type=positive_int, default=50,
                        help="draw at most this many images in the grid (default 50)")
    parser.add_argument("--workers", type=positive_int, default=None,
                        help="processes that decode images (default: one per CPU core)")
    add_common_arguments(parser)
    return parser


def grid_plan(args: argparse.Namespace) -> tuple[bool, bool]:
    """Whether to draw the grid, and whether to open a window with it.

    By default a window opens only where there is a display, so a headless run never hangs.
    """
    if args.no_grid:
        return False, False
    from mnist_cnn.plotting import display_available

    can_show = display_available()
    if args.show and not can_show:
        print(f"{PROGRAM}: no display here, so no window; --grid FILE.png saves the grid",
              file=sys.stderr)
    show = can_show and (args.show or not (args.grid or args.json))
    return show or args.grid is not None, show


def run(args: argparse.Namespace) -> int:
    paths = expand_inputs(args.paths)
    recognizer = Recognizer.load(args.checkpoint, device=args.device, reject=not args.no_reject,
                                 reject_threshold=args.reject_threshold, top_k=args.top_k,
                                 threshold=args.threshold, one_digit=args.one_digit,
                                 preprocess=args.preprocess, length=args.length)
    for note in recognizer.notes:
        print(f"{PROGRAM}: note: {note}", file=sys.stderr)
    draw, show = grid_plan(args)
    results = recognizer.read_paths(paths, keep_images=args.grid_max if draw else 0,
                                    workers=args.workers)
    drawn: list[Recognition] = []
    records = []
    failed = 0
    for index, result in enumerate(results):
        failed += result.error is not None
        if draw and index < args.grid_max:
            drawn.append(result)
        if args.json:
            records.append(result.as_json())
        elif result.error:
            print(f"{PROGRAM}: error: {result.error}", file=sys.stderr)
        else:
            print(describe(result), flush=True)
    if args.json:
        json.dump(records, sys.stdout, indent=1)
        print()
    if drawn:
        from mnist_cnn.plotting import prediction_grid

        if len(paths) > len(drawn):
            print(f"{PROGRAM}: the grid shows the first {len(drawn)} of {len(paths)} images "
                  "(--grid-max)", file=sys.stderr)
        prediction_grid(drawn, path=args.grid, show=show, with_inputs=args.show_input)
    return EXIT_FILE_FAILED if failed else 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    code = run_command(PROGRAM, lambda: run(args), args.debug)
    if argv is None:
        # The process ends next: spare the interpreter's shutdown its garbage-collector walks
        # over everything torch and its imports created.
        gc.freeze()
    return code


if __name__ == "__main__":
    sys.exit(main())
