"""Benchmark: how long the ``mnist-draw`` server takes to read a 280x280 drawing.

1. Draws a digit the way the sketchpad hands it over: 280x280 RGBA, black strokes of the
   page's pen width on a transparent canvas, saved as PNG.
2. Starts the real server (``python -m mnist_cnn.draw --port 0``) and posts the drawing to
   ``POST /api/recognize`` one request at a time; the server reports the time it spent reading
   (decode, normalize, network) in its ``Server-Timing`` header, the client times the round
   trip (HTTP and multipart parsing included).
3. For comparison, the same reading in this process, ``Recognizer.read_image`` on the decoded
   drawing, which is what the page's sketchpad handler calls.

    python bench/bench_app.py --checkpoint model.ckpt
"""

import argparse
import io
import math
import os
import re
import select
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx
import torch
from PIL import Image, ImageDraw

from mnist_cnn.app import API_PATH, CANVAS_SIDE, PEN_RADIUS
from mnist_cnn.draw import CPU_THREADS
from mnist_cnn.recognition import Recognizer

from machine import describe

SERVING = re.compile(r"serving (http://\S+/) ")
TIMING = re.compile(r"recognize;dur=([\d.]+)")


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


def summary(label: str, milliseconds: list[float]) -> None:
    ordered = sorted(milliseconds)
    p95 = ordered[min(len(ordered) - 1, math.ceil(0.95 * len(ordered)) - 1)]
    print(f"{label:<58} median {statistics.median(ordered):6.1f} ms   p95 {p95:6.1f} ms   "
          f"mean {statistics.fmean(ordered):6.1f} ms   (n={len(ordered)})")


def start_server(checkpoint: Path) -> tuple[subprocess.Popen, str]:
    server = subprocess.Popen(
        [sys.executable, "-m", "mnist_cnn.draw", "--checkpoint", str(checkpoint), "--port", "0",
         "--device", "cpu"], stdout=subprocess.PIPE, text=True)
    ready, _, _ = select.select([server.stdout], [], [], 180)
    line = server.stdout.readline() if ready else ""
    match = SERVING.search(line)
    if not match:
        server.kill()
        sys.exit(f"the server did not start: {line!r}")
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", type=Path, default=Path("model.ckpt"))
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=20)
    args = parser.parse_args()

    print(f"machine: {describe()}; load average "
          f"{os.getloadavg()[0]:.2f}; the server and the in-process run use {CPU_THREADS} "
          "torch thread(s)")
    png = drawing()
    print(f"drawing: {CANVAS_SIDE}x{CANVAS_SIDE} RGBA PNG, {len(png):,} bytes")

    server, url = start_server(args.checkpoint)
    served, round_trips = [], []
    try:
        with httpx.Client(base_url=url.rstrip("/"), timeout=60) as client:
            for index in range(args.warmup + args.requests):
                started = time.perf_counter()
                answer = client.post(API_PATH, files={"image": ("drawing.png", png)})
                elapsed = 1000 * (time.perf_counter() - started)
                answer.raise_for_status()
                if index == 0:
                    print(f"read as: {answer.json()['number']!r}")
                if index >= args.warmup:
                    round_trips.append(elapsed)
                    served.append(float(TIMING.search(answer.headers["server-timing"])[1]))
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(30)
    summary("server-side, per prediction (Server-Timing)", served)
    summary("client round trip, per request (127.0.0.1, keep-alive)", round_trips)

    torch.set_num_threads(CPU_THREADS)
    recognizer = Recognizer.from_checkpoint(args.checkpoint, torch.device("cpu"), top_k=3)
    decoded = Image.open(io.BytesIO(png))
    decoded.load()
    in_process = []
    for index in range(args.warmup + args.requests):
        started = time.perf_counter()
        recognizer.read_image(decoded, "drawing")
        if index >= args.warmup:
            in_process.append(1000 * (time.perf_counter() - started))
    summary("in-process Recognizer.read_image (the sketchpad's call)", in_process)


if __name__ == "__main__":
    main()
