"""Benchmark: the ``mnist-draw`` server under load, and how long it takes to read one drawing.

1. Starts the real server (``python -m mnist_cnn.cli.draw --port 0``) and posts a 280x280 drawing
   (drawn the way the sketchpad hands it over: black strokes of the page's pen width on a
   transparent canvas, PNG) one request at a time: the server's reading time (its
   ``Server-Timing`` header) and the client's round trip.
2. Load: 8 client threads, each on its own connection, post 1,000 uploads each to
   ``POST /api/recognize``, cycling through the num-draft drawings, the dev-set pictures
   (``../shared/devset``, read in place; left out with a note when absent), garbage bytes (not
   an image) and empty files. Reports the statuses per kind (a picture: 200; garbage and empty:
   400; never a 5xx), dropped connections and other exceptions, the p50/p99 round trip, answers
   per second, and the server's resident memory (``VmRSS``) after a warm-up and after each
   quarter of the run: the last quarter must grow it by less than 32 MB, or memory is leaking.

    python bench/bench_app.py --checkpoint model.ckpt

Exits with 1 when a check fails: a 5xx, a dropped connection, or memory that keeps growing.
"""

import argparse
import io
import math
import os
import random
import re
import select
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path

import httpx
from PIL import Image, ImageDraw

from mnist_cnn.app import API_PATH, CANVAS_SIDE, PEN_RADIUS
from mnist_cnn.cli.draw import CPU_THREADS
from mnist_cnn.networks import registry

import devset
from machine import describe

DRAFTS = Path(__file__).resolve().parent.parent / "num-draft"
SERVING = re.compile(r"serving (http://\S+/) ")
TIMING = re.compile(r"recognize;dur=([\d.]+)")
CYCLE = ("num-draft", "dev set", "dev set", "garbage", "num-draft", "dev set", "dev set",
         "empty")
"""The kinds of upload each client posts in turn: mostly pictures, which cost the server a
reading, with a refused upload of each kind among them."""
GARBAGE_FILES = 16
CLIENT_STRIDE = 997
"""How far apart in each list of files the clients start: a prime, so that no two clients post
the same picture at the same time."""
GROWTH_LIMIT_MB = 32.0
"""The most the last quarter of the run may grow the server's memory: after the warm-up every
picture size, batch shape and connection has been seen, so what still grows is a leak."""


def drawing() -> bytes:
    """A "3" drawn with the page's pen on its transparent 280x280 canvas, as PNG."""
    image = Image.new("RGBA", (CANVAS_SIDE, CANVAS_SIDE), (0, 0, 0, 0))
    pen = ImageDraw.Draw(image)

    def arc(x: float, y: float, radius: float, start: float, stop: float) -> list:
        angles = [math.radians(start + (stop - start) * step / 24) for step in range(25)]
        return [(CANVAS_SIDE * (x + radius * math.cos(angle)),
                 CANVAS_SIDE * (y + radius * math.sin(angle))) for angle in angles]

    points = arc(0.5, 0.36, 0.13, 210, 450) + arc(0.5, 0.62, 0.15, 270, 500)
    pen.line(points, fill=(0, 0, 0, 255), width=2 * PEN_RADIUS, joint="curve")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def percentile(values: Sequence[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(math.ceil(fraction * len(ordered)) - 1, 0))]


def uploads_by_kind() -> dict[str, list[tuple[str, bytes]]]:
    """Every upload the clients cycle through, by kind: (file name, contents)."""
    dev_paths = [path for found in (devset.single_digits(), devset.scans(), devset.numbers(),
                                    devset.nondigits()) if found is not None
                 for path in found[0]]
    noise = random.Random(0)
    kinds = {
        "num-draft": [(path.name, path.read_bytes()) for path in sorted(DRAFTS.glob("*.png"))],
        "dev set": [(path.name, path.read_bytes()) for path in dev_paths],
        "garbage": [(f"garbage{index}.png", noise.randbytes(noise.randrange(100, 100_000)))
                    for index in range(GARBAGE_FILES)],
        "empty": [("empty.png", b"")],
    }
    return {kind: files for kind, files in kinds.items() if files}


def kinds_in_turn(uploads: dict[str, list[tuple[str, bytes]]]) -> list[str]:
    """``CYCLE`` without the kinds there are no files of (the dev set, where it is absent)."""
    return [kind for kind in CYCLE if kind in uploads]


@dataclass
class Tally:
    """What the clients saw, shared between their threads."""

    statuses: Counter = field(default_factory=Counter)
    """(kind, status) -> answers."""
    failures: Counter = field(default_factory=Counter)
    """Exception name -> requests that got no answer (a dropped connection, a timeout)."""
    milliseconds: dict[str, list[float]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answered(self, kind: str, status: int, milliseconds: float) -> None:
        with self.lock:
            self.statuses[kind, status] += 1
            self.milliseconds.setdefault(kind, []).append(milliseconds)

    def failed(self, exception: Exception) -> None:
        with self.lock:
            self.failures[type(exception).__name__] += 1


def post_uploads(client: httpx.Client, uploads: dict[str, list[tuple[str, bytes]]],
                 client_index: int, indices: range, tally: Tally) -> None:
    """Post this client's uploads number ``indices``: the kind in turn from ``CYCLE``, the next
    file of that kind, each client starting at its own place in every list of files."""
    cycle = kinds_in_turn(uploads)
    for index in indices:
        kind = cycle[index % len(cycle)]
        files = uploads[kind]
        name, data = files[(client_index * CLIENT_STRIDE + index // len(cycle)) % len(files)]
        started = time.perf_counter()
        try:
            answer = client.post(API_PATH, files={"image": (name, data)})
        except httpx.HTTPError as error:
            tally.failed(error)
            continue
        tally.answered(kind, answer.status_code, 1000 * (time.perf_counter() - started))


def run_phase(url: str, uploads: dict[str, list[tuple[str, bytes]]], clients: int,
              first: int, stop: int, tally: Tally) -> float:
    """Every client posts its uploads ``first`` to ``stop`` at once; the seconds it took."""

    def client_thread(client_index: int) -> None:
        with httpx.Client(base_url=url.rstrip("/"), timeout=120) as client:
            post_uploads(client, uploads, client_index, range(first, stop), tally)

    threads = [threading.Thread(target=client_thread, args=(index,)) for index in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started


def resident_mb(pid: int) -> float:
    """The process's resident memory (``VmRSS``), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def start_server(checkpoint: Path, stderr: io.TextIOBase) -> tuple[subprocess.Popen, str]:
    server = subprocess.Popen(
        [sys.executable, "-m", "mnist_cnn.cli.draw", "--checkpoint", str(checkpoint), "--port", "0",
         "--device", "cpu"], stdout=subprocess.PIPE, stderr=stderr, text=True)
    ready, _, _ = select.select([server.stdout], [], [], 180)
    line = server.stdout.readline() if ready else ""
    match = SERVING.search(line)
    if not match:
        server.kill()
        stderr.seek(0)
        sys.exit(f"the server did not start: {line!r}\n{stderr.read()}")
    url = match[1]
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=5).status_code == 200:
                return server, url
        except httpx.TransportError:
            time.sleep(0.2)
    server.kill()
    sys.exit(f"{url} did not answer")


def one_at_a_time(url: str, count: int) -> None:
    """The drawing, posted ``count`` times one after another (after 10 to warm up)."""
    png = drawing()
    served, round_trips = [], []
    with httpx.Client(base_url=url.rstrip("/"), timeout=60) as client:
        for index in range(10 + count):
            started = time.perf_counter()
            answer = client.post(API_PATH, files={"image": ("drawing.png", png)})
            elapsed = 1000 * (time.perf_counter() - started)
            answer.raise_for_status()
            if index >= 10:
                round_trips.append(elapsed)
                served.append(float(TIMING.search(answer.headers["server-timing"])[1]))
    print(f"one {CANVAS_SIDE}x{CANVAS_SIDE} drawing ({len(png):,} byte PNG, read as "
          f"{answer.json()['number']!r}) at a time, n={count}: server-side (Server-Timing) "
          f"median {statistics.median(served):.1f} ms, p95 {percentile(served, 0.95):.1f} ms; "
          f"round trip median {statistics.median(round_trips):.1f} ms, "
          f"p95 {percentile(round_trips, 0.95):.1f} ms")


def report(tally: Tally, seconds: float, memory: list[tuple[str, float]]) -> bool:
    """Print what the load run measured; whether every check passed."""
    for kind, latencies in tally.milliseconds.items():
        statuses = ", ".join(f"{status}: {answers}" for (of, status), answers
                             in sorted(tally.statuses.items()) if of == kind)
        print(f"  {kind:<10} {statuses:<22} p50 {percentile(latencies, 0.5):6.1f} ms   "
              f"p99 {percentile(latencies, 0.99):6.1f} ms")
    everything = [value for latencies in tally.milliseconds.values() for value in latencies]
    answers, server_errors = len(everything), sum(
        answers for (_, status), answers in tally.statuses.items() if status >= 500)
    dropped = sum(tally.failures.values())
    failures = ", ".join(f"{name}: {count}" for name, count in tally.failures.items()) or "none"
    print(f"  all        {answers:,} answers in {seconds:.1f} s: {answers / seconds:.1f} answers/s"
          f"   p50 {percentile(everything, 0.5):.1f} ms   p99 {percentile(everything, 0.99):.1f} "
          f"ms\n  5xx: {server_errors}; requests without an answer: {dropped} ({failures})")
    print("server memory (VmRSS): " + ", ".join(f"{label} {mb:,.0f} MB" for label, mb in memory))
    growth = memory[-1][1] - memory[-2][1]
    grows = growth >= GROWTH_LIMIT_MB
    print(f"{'FAIL' if grows else 'pass'}: the last quarter grew it by {growth:+.1f} MB "
          f"(limit < {GROWTH_LIMIT_MB:g} MB)")
    print(f"{'FAIL' if server_errors or dropped else 'pass'}: {server_errors} 5xx, "
          f"{dropped} dropped")
    return not (grows or server_errors or dropped)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", type=Path, default=registry.MODEL.shipped,
                        help="default: the shipped model")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--uploads", type=int, default=1000,
                        help="uploads per client, after the warm-up (default 1000)")
    parser.add_argument("--warmup", type=int, default=100,
                        help="uploads per client before memory is first measured (default 100)")
    parser.add_argument("--drawings", type=int, default=100,
                        help="the drawing posted this many times one at a time (0: skipped)")
    args = parser.parse_args()

    print(f"machine: {describe()}; load average {os.getloadavg()[0]:.2f}; the server uses "
          f"{CPU_THREADS} torch thread(s)")
    uploads = uploads_by_kind()
    print("uploads: " + ", ".join(f"{kind} {len(files)} files" for kind, files in uploads.items())
          + f"; each client posts them in the order {', '.join(kinds_in_turn(uploads))}")

    with tempfile.TemporaryFile("w+") as server_log:
        server, url = start_server(args.checkpoint, server_log)
        try:
            memory = [("idle", resident_mb(server.pid))]
            if args.drawings:
                one_at_a_time(url, args.drawings)
            tally = Tally()
            run_phase(url, uploads, args.clients, -args.warmup, 0, tally)
            memory.append((f"after {args.clients * args.warmup:,} to warm up",
                           resident_mb(server.pid)))
            tally, seconds = Tally(), 0.0
            quarters = [args.uploads * quarter // 4 for quarter in range(5)]
            for quarter, (first, stop) in enumerate(pairwise(quarters), start=1):
                seconds += run_phase(url, uploads, args.clients, first, stop, tally)
                memory.append((f"Q{quarter}", resident_mb(server.pid)))
        finally:
            server.send_signal(signal.SIGINT)
            server.wait(30)
        print(f"{args.clients} clients x {args.uploads:,} uploads:")
        passed = report(tally, seconds, memory)
        server_log.seek(0)
        logged = server_log.read().splitlines()
    if logged:
        print(f"server stderr, {len(logged)} lines; the last ones:", *logged[-10:], sep="\n  ")
    sys.exit(0 if passed else 1)


if __name__ == "__main__":
    main()
