"""``mnist-draw``: serve a page to draw digits on and see them read, and its HTTP API.

The checkpoint is loaded and the port taken before the web stack is even imported, so a missing
checkpoint or a busy port is a one-line error in a second, not a traceback after a server start.
"""

import argparse
import contextlib
import errno
import importlib.util
import os
import socket
import sys
import threading
import time
import webbrowser
from pathlib import Path

import torch

from mnist_cnn.cli.common import add_common_arguments, number_type, positive_float, run_command
from mnist_cnn.errors import MnistCnnError, UsageError
from mnist_cnn.reading.recognizer import Recognizer

PROGRAM = "mnist-draw"
APP_MODULES = ("gradio", "fastapi", "uvicorn")
INSTALL_HINT = "pip install 'mnist-cnn[app]'"
DEFAULT_MAX_UPLOAD_MB = 20.0
"""Kept equal to ``mnist_cnn.app.DEFAULT_MAX_UPLOAD_MB``, which cannot be imported before the
extra is known to be installed."""

CPU_THREADS = 1
"""The server reads one small picture at a time: a second intra-op thread does not make that
faster, and when the cores are busy with other work the threads wait for each other (measured
on 2 cores: 8 ms per drawing with one thread, 66 ms with two while another process ran)."""

port_number = number_type(int, 0, 65535)


class MissingExtraError(UsageError):
    """The optional web dependencies are not installed (exit code 2)."""


class ServerError(MnistCnnError):
    """The server cannot listen where asked: the port is taken, or the address is not ours
    (exit code 1)."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROGRAM,
        description="Serve a local web page to draw, upload or photograph digits and see them "
                    "read, with an HTTP API (POST /api/recognize) beside it.",
    )
    parser.add_argument("--checkpoint", type=Path, default=None,
                        help="weights written by mnist-train (default ./model.ckpt, or the "
                             "model that ships with mnist-cnn when there is none)")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on (default 127.0.0.1: this machine only; "
                             "0.0.0.0 lets anyone on the network use it)")
    parser.add_argument("--port", type=port_number, default=7860,
                        help="port to listen on (default 7860; 0 picks a free one)")
    parser.add_argument("--open", action="store_true", help="open the page in a web browser")
    parser.add_argument("--max-upload-mb", type=positive_float, default=DEFAULT_MAX_UPLOAD_MB,
                        help="larger uploads are refused with HTTP 413 "
                             f"(default {DEFAULT_MAX_UPLOAD_MB:g})")
    add_common_arguments(parser)
    return parser


def require_app_extra() -> None:
    """Raise ``MissingExtraError`` naming the install command when the web stack is missing."""
    for module in APP_MODULES:
        if importlib.util.find_spec(module) is None:
            raise MissingExtraError(
                f"the app extra is not installed (no module named {module!r}); "
                f"install it with {INSTALL_HINT}")


def listen(host: str, port: int) -> socket.socket:
    """A listening socket on ``host``:``port``; ``ServerError`` with the reason if there is
    none to be had."""
    where = f"{host}:{port}"
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]
    except socket.gaierror as error:
        raise ServerError(f"cannot listen on {where}: unknown host ({error.strerror})") from error
    sock = socket.socket(family, kind, proto)
    try:
        # Lets a restarted server take its port back from connections still closing
        # (TIME_WAIT); on Linux it never lets two servers share a port.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(128)
    except OSError as error:
        sock.close()
        if error.errno == errno.EADDRINUSE:
            reason = "the port is in use (another mnist-draw?); choose another with --port"
        elif error.errno == errno.EACCES:
            reason = "permission denied (ports below 1024 need administrator rights)"
        elif error.errno == errno.EADDRNOTAVAIL:
            reason = "this machine has no such address"
        else:
            reason = error.strerror or str(error)
        raise ServerError(f"cannot listen on {where}: {reason}") from error
    return sock


def page_url(sock: socket.socket) -> str:
    """The address to open in a browser: the bound one, or this machine's for 0.0.0.0 / ::."""
    host, port = sock.getsockname()[:2]
    if host in ("0.0.0.0", "::"):
        host = "127.0.0.1" if host == "0.0.0.0" else "::1"
    return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"


def open_when_ready(server: object, url: str) -> None:
    """Open ``url`` in a browser once the server accepts connections."""

    def wait_and_open() -> None:
        deadline = time.monotonic() + 60
        while not getattr(server, "started", False) and time.monotonic() < deadline:
            time.sleep(0.05)
        webbrowser.open(url)

    threading.Thread(target=wait_and_open, daemon=True).start()


def run(args: argparse.Namespace) -> int:
    require_app_extra()
    recognizer = Recognizer.load(args.checkpoint, device=args.device, top_k=3)
    for note in recognizer.notes:
        print(f"{PROGRAM}: note: {note}", file=sys.stderr)
    sock = listen(args.host, args.port)
    try:
        if recognizer.device.type == "cpu":
            torch.set_num_threads(CPU_THREADS)
        os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"  # no calls home, before gradio loads
        import uvicorn

        from mnist_cnn.app import API_PATH, build_app

        port = sock.getsockname()[1]
        app = build_app(recognizer, host=args.host, port=port, max_upload_mb=args.max_upload_mb)
        server = uvicorn.Server(uvicorn.Config(
            app, log_level="info" if args.debug else "warning", access_log=args.debug,
            timeout_graceful_shutdown=2))
        url = page_url(sock)
        if args.host in ("0.0.0.0", "::"):
            print(f"{PROGRAM}: listening on every network interface: anyone who can reach "
                  "this machine can use the page and the API", file=sys.stderr)
        print(f"{PROGRAM}: serving {url} (API: POST {url.rstrip('/')}{API_PATH}); "
              "Ctrl-C stops it", flush=True)
        if args.open:
            open_when_ready(server, url)
        # Ctrl-C and SIGTERM are how a server is meant to stop: uvicorn finishes the requests
        # in flight, then hands the signal back, which arrives here as KeyboardInterrupt.
        with contextlib.suppress(KeyboardInterrupt):
            server.run(sockets=[sock])
        print(f"{PROGRAM}: stopped", file=sys.stderr)
        return 0
    finally:
        sock.close()


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return run_command(PROGRAM, lambda: run(args), args.debug)


if __name__ == "__main__":
    sys.exit(main())
