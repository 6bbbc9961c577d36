"""The page and HTTP API behind ``mnist-draw``: one ``Recognizer``, every way in.

The page (Gradio) reads a sketchpad drawing while it is drawn, an uploaded photo or scan, or a
webcam snapshot; ``POST /api/recognize`` reads an uploaded file for scripts and answers with the
record ``mnist-recognize --json`` prints for it. All of them go through ``Recognizer.read`` (as
scripts and notebooks do), so the page reads exactly what the command line would. Nothing the
page needs comes from outside the server: the theme's fonts ship with Gradio and analytics are
off.
"""

import asyncio
import base64
import html
import io
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import gradio as gr
import numpy as np
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from PIL import Image
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException

from mnist_cnn.reading.recognizer import Recognizer
from mnist_cnn.reading.results import Recognition

API_PATH = "/api/recognize"
API_FIELD = "image"
DEFAULT_MAX_UPLOAD_MB = 20.0
"""A 24-megapixel JPEG is about 10 MB; the recognizer's pixel limit refuses bigger pictures
anyway, so a larger body can only be a mistake or an attack."""
CANVAS_SIDE = 280
"""The sketchpad's pixels: ten times MNIST's 28, so the pen's width in canvas pixels matches
MNIST's strokes in proportion."""
PEN_RADIUS = 9
"""Draws strokes 18 px wide: MNIST's are about 2 px of 28 (20 of 280) in the middle of a digit."""
CACHE_SECONDS = 3600
"""Gradio keeps every stroke's and upload's pictures in its temporary folder; older ones are
deleted (and all of them when the server stops)."""
IDLE_HINT = "Draw a digit, or a number, on the white square."


class Reader:
    """The recognizer on a thread of its own, timed: every reading, the page's and the API's,
    runs there one at a time, so they take turns on the CPU cores instead of slowing each other
    down, and the API reports how long each reading took.

    One thread, not the server's pool of up to 40: glibc gives each new thread a malloc arena
    of its own (up to 8 per core), and each arena keeps the peak of the pictures decoded on its
    thread. Measured on 2 cores, 2,600 readings from the pool left 16 arenas holding 560 MB, and
    the server's memory still grew under load; from one thread, 3 arenas holding 220 MB, which
    the next readings reuse."""

    def __init__(self, recognizer: Recognizer) -> None:
        self.recognizer = recognizer
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mnist-reader")

    def _timed(self, picture: Image.Image | bytes, name: str) -> tuple[Recognition, float]:
        start = time.perf_counter()
        result = self.recognizer.read(picture, name)
        return result, time.perf_counter() - start

    def read(self, picture: Image.Image | bytes, name: str) -> tuple[Recognition, float]:
        """Read ``picture`` on the reader's thread and wait for it (from a page handler)."""
        return self._thread.submit(self._timed, picture, name).result()

    async def read_async(self, picture: Image.Image | bytes,
                         name: str) -> tuple[Recognition, float]:
        """Read ``picture`` on the reader's thread while the event loop serves others."""
        return await asyncio.get_running_loop().run_in_executor(
            self._thread, self._timed, picture, name)


# ---------------------------------------------------------------------------------------------
# The result panel: plain HTML, so several digits, their bars and inputs lay out as one block.

RESULT_CSS = """
.mnist-result { font-size: 1rem; line-height: 1.4; }
.mnist-number { font-size: 4.5rem; font-weight: 700; line-height: 1.1; letter-spacing: 0.05em;
                font-variant-numeric: tabular-nums; min-height: 5rem; }
.mnist-state { font-size: 1.6rem; font-weight: 600; min-height: 5rem; display: flex;
               align-items: center; }
.mnist-hint { color: var(--body-text-color-subdued); font-size: 1.1rem; font-weight: 400; }
.mnist-note { color: var(--body-text-color-subdued); margin: 0.25rem 0 0.75rem; font-size: 0.9rem; }
.mnist-error { color: var(--error-text-color, #b91c1c); }
.mnist-digits { display: flex; flex-direction: column; gap: 0.75rem; }
.mnist-digit { display: flex; gap: 0.9rem; align-items: center; }
/* the 28x28 network inputs, three screen pixels per input pixel, unsmoothed */
.mnist-input { width: 84px; height: 84px; image-rendering: pixelated; flex: none;
               border: 1px solid var(--border-color-primary); border-radius: 4px; }
.mnist-bars { flex: 1; display: flex; flex-direction: column; gap: 0.3rem; min-width: 10rem; }
.mnist-bar { display: grid; grid-template-columns: 1.6rem 1fr 4.2rem; gap: 0.5rem;
             align-items: center; }
.mnist-bar-label { font-weight: 700; font-size: 1.15rem; text-align: center; }
.mnist-bar-track { height: 0.9rem; border-radius: 0.45rem; overflow: hidden;
                   background: var(--background-fill-secondary); }
.mnist-bar-fill { height: 100%; background: var(--color-accent); border-radius: 0.45rem; }
.mnist-bar.runner-up .mnist-bar-fill { background: var(--neutral-400); }
.mnist-bar-value { text-align: right; font-variant-numeric: tabular-nums; }
.mnist-uncertain { color: var(--color-accent); font-weight: 600; }
#mnist-sketchpad canvas { touch-action: none; }
"""

PEN_READY_JS = """
() => {
  // Gradio's editor opens, and comes back after "clear" or a tab switch, with no tool chosen;
  // whenever none is, choose the brush (the toolbar's first button), so drawing just works.
  const arm = () => {
    const pad = document.getElementById("mnist-sketchpad");
    if (!pad || pad.offsetParent === null || pad.querySelector("button.highlight")) return;
    const brush = pad.querySelector(".toolbar-wrap button");
    if (brush) brush.click();
  };
  let queued = false;
  new MutationObserver(() => {
    if (queued) return;
    queued = true;
    requestAnimationFrame(() => { queued = false; arm(); });
  }).observe(document.body, {childList: true, subtree: true, attributes: true,
                             attributeFilter: ["class", "style"]});
  arm();
}
"""


def _input_image(pixels: np.ndarray, label: str) -> str:
    """A 28x28 network input (white digit on black) as an inline PNG."""
    gray = (np.clip(pixels, 0.0, 1.0) * 255).round().astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(gray, mode="L").save(buffer, format="PNG")
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return (f'<img class="mnist-input" src="data:image/png;base64,{data}" '
            f'alt="{html.escape(label)}" title="{html.escape(label)}">')


def _bars(top_k: list[tuple[int, float]]) -> str:
    rows = []
    for rank, (digit, probability) in enumerate(top_k):
        kind = "best" if rank == 0 else "runner-up"
        rows.append(
            f'<div class="mnist-bar {kind}"><span class="mnist-bar-label">{digit}</span>'
            f'<span class="mnist-bar-track"><span class="mnist-bar-fill" style="display:block;'
            f'width:{100 * probability:.1f}%"></span></span>'
            f'<span class="mnist-bar-value">{100 * probability:.1f}%</span></div>')
    return f'<div class="mnist-bars">{"".join(rows)}</div>'


def _panel(state: str, headline: str, body: str = "", headline_class: str = "mnist-state",
           number: str = "") -> str:
    return (f'<div class="mnist-result" data-state="{state}" data-number="{html.escape(number)}">'
            f'<div class="{headline_class}" id="mnist-number">{headline}</div>{body}</div>')


def idle_panel() -> str:
    """What the page shows before anything is drawn or uploaded."""
    return _panel("idle", f'<span class="mnist-hint">{html.escape(IDLE_HINT)}</span>')


def render_result(result: Recognition) -> str:
    """The result panel for one reading: the number, each digit's likeliest classes with bars
    and its 28x28 network input, or the state the recognizer reported instead."""
    if result.error:
        return _panel("error", '<span class="mnist-error">could not read it</span>',
                      f'<div class="mnist-note mnist-error">{html.escape(result.error)}</div>')
    rejected = result.rejected
    marks = "".join(
        '<div class="mnist-digit">'
        + (_input_image(mark.network_input, "28x28 network input of a mark that is not a digit")
           if mark.network_input is not None else "")
        + f'<div class="mnist-note">not a digit (closest: {mark.closest})</div></div>'
        for mark in rejected)
    if result.not_digit:
        return _panel("not-digit", "not a digit",
                      '<div class="mnist-note">What is drawn does not look like a digit to the '
                      f'network.</div><div class="mnist-digits">{marks}</div>')
    if result.blank or not result.digits:
        return _panel("blank", "no digit found",
                      '<div class="mnist-note">Blank, or no ink that stands out from the '
                      "background.</div>")
    rows = []
    for index, reading in enumerate(result.digits, start=1):
        label = f"28x28 network input of digit {index}: read as {reading.digit}"
        picture = (_input_image(reading.network_input, label)
                   if reading.network_input is not None else "")
        rows.append(f'<div class="mnist-digit">{picture}{_bars(reading.top_k)}</div>')
    notes = []
    if result.uncertain:
        notes.append('<span class="mnist-uncertain">uncertain</span>: the best guess for at '
                     "least one digit is below the confidence threshold")
    if rejected:
        notes.append(f"{len(rejected)} mark{'s' if len(rejected) > 1 else ''} not read as "
                     "digits")
    if result.alternatives:
        others = ", ".join(f"{html.escape(number)} ({probability:.0%})"
                           for number, probability in result.alternatives)
        notes.append(f'<span class="mnist-alternatives">or perhaps: {others}</span>')
    notes.append("Each digit: the 28x28 picture the network saw, and its three likeliest "
                 "readings.")
    body = "".join(f'<div class="mnist-note">{note}</div>' for note in notes)
    body += f'<div class="mnist-digits">{"".join(rows)}{marks}</div>'
    return _panel("digits", html.escape(result.number), body, "mnist-number", result.number)


# ---------------------------------------------------------------------------------------------
# The page.

def _is_empty(image: Image.Image) -> bool:
    """A sketchpad with nothing on it: every pixel transparent."""
    return image.mode == "RGBA" and image.getchannel("A").getextrema()[1] == 0


def build_page(reader: Reader) -> gr.Blocks:
    """The Gradio page: a sketchpad read while drawing, a photo upload and a webcam snapshot,
    with one result panel beside them."""

    def read_drawing(value: dict[str, Any] | None) -> str:
        composite = value.get("composite") if value else None
        if composite is None or _is_empty(composite):
            return idle_panel()
        result, _ = reader.read(composite, "drawing")
        return render_result(result)

    def read_file(path: str | None) -> str:
        try:
            data = Path(path).read_bytes() if path else None
        except FileNotFoundError:  # an upload older than the cache keeps (CACHE_SECONDS)
            data = None
        if data is None:
            return idle_panel()
        result, _ = reader.read(data, Path(path).name)
        return render_result(result)

    live = {"trigger_mode": "always_last", "show_progress": "hidden", "queue": True,
            "api_visibility": "private"}
    with gr.Blocks(title="mnist-draw", analytics_enabled=False,
                   delete_cache=(CACHE_SECONDS // 4, CACHE_SECONDS)) as page:
        gr.Markdown("## Draw a digit, or photograph one, and watch it being read\n"
                    "Draw with the mouse, a pen or a finger; the reading updates after each "
                    "stroke. Undo and clear are above the white square.")
        with gr.Row(equal_height=False):
            with gr.Column(scale=1, min_width=320), gr.Tabs():
                with gr.Tab("Draw", id="draw") as draw_tab:
                    sketchpad = gr.Sketchpad(
                        elem_id="mnist-sketchpad", type="pil", image_mode="RGBA",
                        canvas_size=(CANVAS_SIDE, CANVAS_SIDE), fixed_canvas=True,
                        brush=gr.Brush(default_size=PEN_RADIUS, colors=["#000000"],
                                       default_color="#000000", color_mode="fixed"),
                        eraser=gr.Eraser(default_size=PEN_RADIUS * 2),
                        layers=False, transforms=(), show_label=False,
                        buttons=[], format="png")
                with gr.Tab("Photo or scan", id="upload") as upload_tab:
                    upload = gr.Image(
                        elem_id="mnist-upload", sources=["upload", "clipboard"],
                        type="filepath", image_mode=None, show_label=False,
                        buttons=[])
                with gr.Tab("Webcam", id="webcam") as webcam_tab:
                    webcam = gr.Image(
                        elem_id="mnist-webcam", sources=["webcam"], type="filepath",
                        image_mode=None, show_label=False, buttons=[],
                        webcam_options=gr.WebcamOptions(mirror=False))
            with gr.Column(scale=1, min_width=320):
                panel = gr.HTML(idle_panel(), elem_id="mnist-result")
        for tab, source, read in ((draw_tab, sketchpad, read_drawing),
                                  (upload_tab, upload, read_file),
                                  (webcam_tab, webcam, read_file)):
            source.change(read, source, panel, **live)
            tab.select(read, source, panel, **live)  # the panel shows what this tab holds
    return page


# ---------------------------------------------------------------------------------------------
# The HTTP API.

def _error(status: int, reason: str) -> JSONResponse:
    return JSONResponse({"error": reason}, status_code=status)


async def _read_limited(request: Request, limit: int) -> bytes | None:
    """The request body, or ``None`` as soon as it is known to be over ``limit`` bytes."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return None
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


async def _replay(body: bytes) -> dict:
    return {"type": "http.request", "body": body, "more_body": False}


def add_api(app: FastAPI, reader: Reader, max_upload_bytes: int) -> None:
    """``POST /api/recognize``: multipart field ``image`` in, ``mnist-recognize --json``'s record
    out; 400 with the reason for what is not a readable picture, 413 over the size limit."""
    limit_text = f"{max_upload_bytes / 1e6:g} MB"

    @app.post(API_PATH, include_in_schema=False)
    async def recognize(request: Request) -> JSONResponse:
        body = await _read_limited(request, max_upload_bytes)
        if body is None:
            return _error(413, f"upload over the limit of {limit_text}")
        try:
            async with Request(request.scope, lambda: _replay(body)).form(
                    max_files=1, max_fields=8) as form:
                upload = form.get(API_FIELD)
                if not isinstance(upload, UploadFile):
                    return _error(400, f"no file in the multipart field {API_FIELD!r} "
                                       f"(curl -F {API_FIELD}=@digit.png ...)")
                data = await upload.read()
                name = Path(upload.filename or "upload").name or "upload"
        except MultiPartException as error:
            return _error(400, f"not a multipart/form-data upload ({error.message})")
        result, seconds = await reader.read_async(data, name)
        return JSONResponse(result.as_json(), status_code=400 if result.error else 200,
                            headers={"Server-Timing": f"recognize;dur={1000 * seconds:.2f}"})


def build_app(recognizer: Recognizer, host: str = "127.0.0.1", port: int = 7860,
              max_upload_mb: float = DEFAULT_MAX_UPLOAD_MB) -> FastAPI:
    """The whole web app: the API at ``/api/recognize`` and the page at ``/``."""
    max_upload_bytes = int(max_upload_mb * 1_000_000)
    reader = Reader(recognizer)
    app = FastAPI(title="mnist-draw", docs_url=None, redoc_url=None, openapi_url=None)
    add_api(app, reader, max_upload_bytes)
    return gr.mount_gradio_app(
        app, build_page(reader), path="/", server_name=host, server_port=port,
        footer_links=[], run_history=False, max_file_size=max_upload_bytes, ssr_mode=False,
        mcp_server=False, pwa=False, css=RESULT_CSS, js=PEN_READY_JS,
        theme=gr.themes.Default(), show_error=True)
