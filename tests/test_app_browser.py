"""The drawing page in a real browser: headless Chromium draws digits on the sketchpad with the
mouse and reads the number the page shows; no request may leave 127.0.0.1.

Needs Debian's ``chromium`` (``.ci/run`` installs it); Playwright drives it, since Playwright's
own browser downloads are not possible here. Without it the test is skipped, except in CI
(``CI`` or ``MNIST_CNN_REQUIRE_BROWSER`` set), where a missing browser is a failure.
``MNIST_DRAW_SCREENSHOT=docs/app.png`` also saves the screenshot the README shows.
"""

import itertools
import math
import os
import re
from pathlib import Path
from urllib.parse import urlparse

import pytest
from playwright.sync_api import Page, expect, sync_playwright

from mnist_cnn.app import CANVAS_SIDE

from conftest import REPO

pytestmark = pytest.mark.slow

CHROMIUM = Path(os.environ.get("MNIST_CNN_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync",
                 # a synthetic camera (a moving test pattern), allowed without asking
                 "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"]
LOCAL_HOSTS = {"127.0.0.1"}
READ_S = 30
"""How long the page may take to show a reading (it takes well under a second)."""

Stroke = list[tuple[float, float]]
"""Points in fractions of the white square's side, (0, 0) its top left."""


def arc(x: float, y: float, radius: float, start: float, stop: float, steps: int = 12) -> Stroke:
    return [(x + radius * math.cos(math.radians(start + (stop - start) * i / steps)),
             y + radius * math.sin(math.radians(start + (stop - start) * i / steps)))
            for i in range(steps + 1)]


SEVEN = [[(0.15, 0.3), (0.45, 0.3), (0.28, 0.75)]]
LETTER_K = [[(0.35, 0.25), (0.35, 0.75)], [(0.65, 0.25), (0.36, 0.52), (0.66, 0.76)]]
ONE_AT_RIGHT = [[(0.72, 0.28), (0.72, 0.75)]]
THREE = [arc(0.5, 0.36, 0.13, 210, 450) + arc(0.5, 0.62, 0.15, 270, 500)]


@pytest.fixture(scope="module")
def browser_context(tmp_path_factory):
    if not CHROMIUM.is_file():
        message = f"no Chromium at {CHROMIUM} (apt-get install chromium)"
        if os.environ.get("CI") or os.environ.get("MNIST_CNN_REQUIRE_BROWSER"):
            pytest.fail(message)
        pytest.skip(message)
    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            tmp_path_factory.mktemp("chromium-profile"), executable_path=CHROMIUM,
            headless=True, args=CHROMIUM_ARGS, viewport={"width": 1200, "height": 720},
            permissions=["camera"])
        yield context
        context.close()


@pytest.fixture
def page(browser_context, draw_server):
    """The page, with every request recorded and any that would leave this machine refused."""
    outside: list[str] = []

    def only_local(route):
        if urlparse(route.request.url).hostname in LOCAL_HOSTS:
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    browser_context.route("**/*", only_local)
    page = browser_context.new_page()
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(draw_server.url)
    yield page
    page.close()
    browser_context.unroute("**/*")
    assert outside == []
    assert {urlparse(url).hostname for url in requested if url.startswith("http")} <= LOCAL_HOSTS


def white_square(page: Page) -> tuple[float, float, float]:
    """Where the sketchpad's drawing area is on screen: left, top, side (CSS pixels).

    The editor's canvas fills its box and centres the drawing area in it at the zoom it shows.
    """
    box = page.locator("#mnist-sketchpad canvas").first.bounding_box()
    zoom = float(page.locator("#mnist-sketchpad .zoom-number").inner_text().strip(" %")) / 100
    side = CANVAS_SIDE * zoom
    return (box["x"] + (box["width"] - side) / 2, box["y"] + (box["height"] - side) / 2, side)


def draw(page: Page, strokes: list[Stroke]) -> None:
    """Draw with the mouse: press, move in small steps along each stroke, release."""
    left, top, side = white_square(page)
    for stroke in strokes:
        page.mouse.move(left + side * stroke[0][0], top + side * stroke[0][1])
        page.mouse.down()
        for (x0, y0), (x1, y1) in itertools.pairwise(stroke):
            steps = max(2, round(40 * math.hypot(x1 - x0, y1 - y0)))
            for step in range(1, steps + 1):
                t = step / steps
                page.mouse.move(left + side * (x0 + (x1 - x0) * t),
                                top + side * (y0 + (y1 - y0) * t))
        page.mouse.up()


def shows(page: Page, number: str) -> None:
    result = page.locator("#mnist-result .mnist-result")
    expect(result).to_have_attribute("data-number", number, timeout=READ_S * 1000)
    expect(page.locator("#mnist-number")).to_have_text(number)


def shows_idle(page: Page) -> None:
    expect(page.locator("#mnist-result .mnist-result")).to_have_attribute(
        "data-state", "idle", timeout=READ_S * 1000)


def tool_button(page: Page, label: str):
    return page.locator(f'#mnist-sketchpad button[aria-label="{label}"]')


def test_drawing_with_the_mouse_is_read_as_it_is_drawn(page):
    brush = tool_button(page, "Brush")
    expect(brush).to_contain_class("highlight", timeout=READ_S * 1000)  # pen ready
    shows_idle(page)

    draw(page, SEVEN)
    shows(page, "7")
    assert page.locator("#mnist-result .mnist-bar").count() == 3
    assert page.locator("#mnist-result img.mnist-input").count() == 1

    draw(page, ONE_AT_RIGHT)
    shows(page, "71")
    assert page.locator("#mnist-result img.mnist-input").count() == 2

    tool_button(page, "Undo").click()
    shows(page, "7")

    tool_button(page, "Clear canvas").click()
    shows_idle(page)
    expect(brush).to_contain_class("highlight")  # still ready to draw after clearing

    draw(page, THREE)
    shows(page, "3")
    bars = page.locator("#mnist-result .mnist-bar-label")
    assert bars.first.inner_text() == "3"
    screenshot = os.environ.get("MNIST_DRAW_SCREENSHOT")
    if screenshot:
        page.mouse.move(0, 0)
        page.wait_for_timeout(500)  # let the brush cursor and the bars settle
        picture = page.screenshot(full_page=False, clip={"x": 0, "y": 0, "width": 1200,
                                                         "height": 560})
        Path(screenshot).write_bytes(picture)


def test_a_letter_drawn_with_the_mouse_is_not_a_digit(page):
    expect(tool_button(page, "Brush")).to_contain_class("highlight", timeout=READ_S * 1000)
    draw(page, LETTER_K)
    result = page.locator("#mnist-result .mnist-result")
    expect(result).to_have_attribute("data-state", "not-digit", timeout=READ_S * 1000)
    expect(result).to_have_attribute("data-number", "")
    expect(page.locator("#mnist-result")).to_contain_text("not a digit")


def test_an_uploaded_photo_is_read(page):
    page.get_by_role("tab", name="Photo or scan").click()
    page.locator("#mnist-upload input[type=file]").set_input_files(REPO / "num-draft" / "num5.png")
    shows(page, "5")


def test_a_webcam_snapshot_is_read(page):
    page.get_by_role("tab", name="Webcam").click()
    page.locator("#mnist-webcam").get_by_text("Click to Access Webcam").click()
    page.wait_for_function(  # the camera is streaming
        "() => document.querySelector('#mnist-webcam video')?.videoWidth > 0",
        timeout=READ_S * 1000)
    page.locator('#mnist-webcam button[aria-label="capture photo"]').click()
    result = page.locator("#mnist-result .mnist-result")
    expect(result).to_have_attribute("data-state", re.compile("digits|blank|not-digit"),
                                     timeout=READ_S * 1000)
