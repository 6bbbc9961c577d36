"""mnist-draw's HTTP API against a real server on 127.0.0.1, the page's result panel, and the
thread every reading runs on."""

import asyncio
import io
import json
import os
import re
import subprocess
import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
import numpy as np
import pytest
from PIL import Image

from mnist_cnn.app import API_PATH, Reader, idle_panel, render_result
from mnist_cnn.reading.images import MAX_PIXELS
from mnist_cnn.reading.results import DigitReading, Recognition, RejectedMark

from conftest import REPO, cli

DRAFTS = REPO / "num-draft"
LIMIT = 2_000_000
"""The ``--max-upload-mb 2`` the ``draw_server`` fixture runs with."""


def post(server, upload: bytes | None = None, name: str = "digit.png", **request
         ) -> httpx.Response:
    if upload is not None:
        request["files"] = {"image": (name, upload)}
    return httpx.post(server.url.rstrip("/") + API_PATH, timeout=60, **request)


def draft(digit: int) -> bytes:
    return (DRAFTS / f"num{digit}.png").read_bytes()


def assert_still_serving(server) -> None:
    answer = post(server, draft(7), "num7.png")
    assert answer.status_code == 200
    assert answer.json()["number"] == "7"
    assert server.process.poll() is None


@pytest.mark.slow
def test_the_ten_num_draft_digits_are_read_right(draw_server):
    for digit in range(10):
        answer = post(draw_server, draft(digit), f"num{digit}.png")
        assert answer.status_code == 200, answer.text
        record = answer.json()
        assert (record["digit"], record["number"], record["error"]) == (digit, str(digit), None)
        assert len(record["top_k"]) == 3
        timing = re.fullmatch(r"recognize;dur=([\d.]+)", answer.headers["server-timing"])
        assert timing and float(timing[1]) > 0


def rounded(record: object) -> object:
    """``record`` with every float to 4 decimals: the server's threads may sum in another order
    than the CLI's, which moves the last bits of a float32 score."""
    if isinstance(record, float):
        return round(record, 4)
    if isinstance(record, dict):
        return {key: rounded(value) for key, value in record.items()}
    if isinstance(record, list):
        return [rounded(value) for value in record]
    return record


@pytest.mark.slow
def test_the_api_answers_what_mnist_recognize_json_prints(draw_server, trained_checkpoint):
    done = subprocess.run(
        cli("mnist_cnn.cli.recognize", "num4.png", "--json", "--top-k", "3", "--device", "cpu",
            "--checkpoint", str(trained_checkpoint)),
        capture_output=True, text=True, timeout=300, cwd=DRAFTS)
    assert done.returncode == 0, done.stderr
    [printed] = json.loads(done.stdout)
    assert rounded(post(draw_server, draft(4), "num4.png").json()) == rounded(printed)


@pytest.mark.slow
def test_an_upload_over_the_limit_gets_413_and_the_server_keeps_serving(draw_server):
    too_big = os.urandom(LIMIT + 1000)
    answer = post(draw_server, too_big, "huge.png")
    assert answer.status_code == 413
    assert answer.json() == {"error": "upload over the limit of 2 MB"}

    def chunks():  # no Content-Length: the limit is enforced while reading
        for start in range(0, len(too_big), 100_000):
            yield too_big[start:start + 100_000]

    answer = post(draw_server, content=chunks(),
                  headers={"content-type": "multipart/form-data; boundary=b"})
    assert answer.status_code == 413
    assert_still_serving(draw_server)


@pytest.mark.slow
@pytest.mark.parametrize(("data", "reason"), [
    (b"", "upload.png: empty file (0 bytes)"),
    (b"%PDF-1.4 not a picture", "upload.png: not an image format Pillow can read"),
    (b"\x89PNG\r\n\x1a\n truncated", "upload.png: truncated or corrupt image"),
])
def test_empty_and_non_image_uploads_get_400_with_the_reason(draw_server, data, reason):
    answer = post(draw_server, data, "upload.png")
    assert answer.status_code == 400
    record = answer.json()
    assert record["error"].startswith(reason) and "\n" not in record["error"]
    assert (record["number"], record["digits"]) == ("", [])
    assert_still_serving(draw_server)


@pytest.mark.slow
def test_the_cli_pixel_limit_applies_to_uploads(draw_server):
    side = int(MAX_PIXELS ** 0.5) + 100  # a small file that would decode to too many pixels
    buffer = io.BytesIO()
    Image.new("1", (side, side), 1).save(buffer, format="PNG", optimize=True)
    assert len(buffer.getvalue()) < LIMIT
    answer = post(draw_server, buffer.getvalue(), "bomb.png")
    assert answer.status_code == 400
    assert f"{side}x{side} pixels is over the limit" in answer.json()["error"]
    assert_still_serving(draw_server)


@pytest.mark.slow
@pytest.mark.parametrize("request_", [
    {"files": {"picture": ("num7.png", b"...")}},
    {"data": {"image": "not a file"}},
    {"content": b"\x89PNG raw body", "headers": {"content-type": "image/png"}},
], ids=["other-field", "text-field", "raw-body"])
def test_a_request_without_a_file_in_the_image_field_gets_400(draw_server, request_):
    answer = post(draw_server, **request_)
    assert answer.status_code == 400
    assert "no file in the multipart field 'image'" in answer.json()["error"]
    assert_still_serving(draw_server)


# The result panel, without a server.

def reading(digit: int, confidence: float, x: int = 0) -> DigitReading:
    top_k = [(digit, confidence), ((digit + 1) % 10, 1 - confidence), ((digit + 2) % 10, 0.0)]
    return DigitReading(digit=digit, confidence=confidence, top_k=top_k,
                        uncertain=confidence < 0.5, box=(x, 0, 20, 28),
                        network_input=np.zeros((28, 28), np.float32))


def test_the_panel_shows_the_number_each_digits_top_3_and_its_network_input():
    result = Recognition("drawing", digits=[reading(4, 0.9), reading(2, 0.4, 30)], lines=["42"])
    panel = render_result(result)
    assert 'data-state="digits"' in panel and 'data-number="42"' in panel
    assert panel.count('class="mnist-bar ') == 6
    assert panel.count("<img") == 2 and panel.count("data:image/png;base64,") == 2
    assert "90.0%" in panel and "40.0%" in panel
    assert "uncertain" in panel and "or perhaps" not in panel
    result.alternatives = [("47", 0.25), ("12", 0.05)]
    assert "or perhaps: 47 (25%), 12 (5%)" in render_result(result)


def test_the_panel_shows_no_digit_found_not_a_digit_and_errors():
    assert "no digit found" in render_result(Recognition("drawing", blank=True))

    not_a_digit = Recognition("drawing", rejected=[RejectedMark((0, 0, 20, 20), 9, -7.5)])
    assert 'data-state="not-digit"' in render_result(not_a_digit)
    panel = render_result(Recognition("<b>x</b>.png", error="<b>x</b>.png: not an image"))
    assert 'data-state="error"' in panel and "&lt;b&gt;x&lt;/b&gt;.png: not an image" in panel
    assert 'data-state="idle"' in idle_panel()


# The reader's thread, without a server.

class ThreadRecorder:
    """Stands in for the recognizer: notes the thread each reading runs on."""

    def __init__(self) -> None:
        self.threads: list[int] = []

    def read(self, picture: bytes, name: str) -> Recognition:
        self.threads.append(threading.get_ident())
        return Recognition(name)


def test_the_page_and_the_api_read_on_one_thread_of_the_readers():
    """Readings spread over the server's thread pool grew its memory (a malloc arena per
    thread, each keeping its own peak): whoever asks, every reading runs on the same thread."""
    recognizer = ThreadRecorder()
    reader = Reader(recognizer)
    with ThreadPoolExecutor(8) as page_handlers:
        list(page_handlers.map(lambda index: reader.read(b"", f"page{index}"), range(16)))

    async def api_requests() -> list[tuple[Recognition, float]]:
        return await asyncio.gather(*(reader.read_async(b"", f"api{index}")
                                      for index in range(16)))

    answers = asyncio.run(api_requests())
    assert [result.path for result, _ in answers] == [f"api{index}" for index in range(16)]
    assert len(recognizer.threads) == 32 and len(set(recognizer.threads)) == 1
    assert recognizer.threads[0] != threading.get_ident()
