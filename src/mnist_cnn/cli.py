"""What both commands share: argparse types, and errors turned into one line and an exit code."""

import argparse
import signal
import sys
import traceback
from collections.abc import Callable

from mnist_cnn.device import parse_device_name
from mnist_cnn.errors import MnistCnnError

EXIT_INTERRUPTED = 130


def positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive finite number, got {text}")
    return value


def device_name(text: str) -> str:
    try:
        return parse_device_name(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--device", type=device_name, default="auto",
                        help="auto (CUDA, then MPS, then CPU), cpu, cuda, cuda:N or mps")
    parser.add_argument("--debug", action="store_true",
                        help="show Python tracebacks for errors")


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


def run_command(program: str, body: Callable[[], int], debug: bool) -> int:
    """Run ``body``; turn known errors and interruptions into one stderr line and an exit code."""
    signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        return body()
    except MnistCnnError as error:
        if debug:
            traceback.print_exc()
        print(f"{program}: error: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt as interrupt:
        if debug:
            traceback.print_exc()
        cause = str(interrupt) or "Ctrl-C"
        print(f"{program}: interrupted ({cause}); no file was left half-written", file=sys.stderr)
        return EXIT_INTERRUPTED
