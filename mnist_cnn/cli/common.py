"""What both commands share: argparse types, and errors turned into one line and an exit code."""

import argparse
import math
import signal
import sys
import traceback
from collections.abc import Callable
from typing import TypeVar

from mnist_cnn.device import parse_device_name
from mnist_cnn.errors import MnistCnnError

EXIT_INTERRUPTED = 130
Number = TypeVar("Number", int, float)


def number_type(convert: Callable[[str], Number], low: Number | None = None,
                high: Number | None = None, above: Number | None = None
                ) -> Callable[[str], Number]:
    """An argparse ``type=``: ``convert`` the text, then require a finite value in range."""
    if above is not None:
        requirement = f"greater than {above}"
    elif low is None and high is None:
        requirement = "a finite number"
    elif high is None:
        requirement = f"at least {low}"
    else:
        requirement = f"between {low} and {high}"

    def parse(text: str) -> Number:
        try:
            value = convert(text)
        except ValueError:
            kind = "whole number" if convert is int else "number"
            raise argparse.ArgumentTypeError(f"{text!r} is not a {kind}") from None
        if not (math.isfinite(value)
                and (above is None or value > above)
                and (low is None or value >= low)
                and (high is None or value <= high)):
            raise argparse.ArgumentTypeError(f"must be {requirement}, got {text}")
        return value

    return parse


positive_int = number_type(int, low=1)
positive_float = number_type(float, above=0)
finite_float = number_type(float)


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
