"""Driving the web page of `pagefix serve` in a real Chromium with Playwright: shared by
test_web_page.py and docs/make_screenshot.py, so the screenshot in the docs comes from the same code
the tests run. The browser is Debian's Chromium (`apt-get install chromium`), never one that
Playwright downloads."""

from __future__ import annotations

import base64
import importlib.util
import io
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import cv2
import numpy as np
from PIL import Image

CHROMIUM = "/usr/bin/chromium"
# Headless, and quiet: no first-run pages, no update or sync traffic that would count as foreign requests.
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]


_FAILED_LOAD = re.compile(r"Failed to load resource: the server responded with a status of (\d+)")


def browser_missing() -> str | None:
    """One line naming what to install, or None when Chromium and Playwright are both here."""
    if importlib.util.find_spec("playwright") is None:
        return "the web page tests need Playwright: pip install playwright"
    if not (shutil.which(CHROMIUM) or shutil.which("chromium")):
        return "the web page tests need Chromium: apt-get install chromium"
    return None


@dataclass
class PageWatch:
    """What the page did that it should not: requests to other origins, console errors, uncaught errors."""

    origin: str
    foreign: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    #: (url, status) of answers the browser itself logs as "Failed to load resource" (any 4xx/5xx):
    #: a test that provokes one on purpose checks it here; every other console error is in `errors`.
    failed_loads: list[tuple[str, int]] = field(default_factory=list)

    def request(self, request: Any) -> None:
        url = urlsplit(request.url)
        if url.scheme in ("data", "blob", "about"):
            return
        if f"{url.scheme}://{url.netloc}" != self.origin:
            self.foreign.append(request.url)

    def console(self, message: Any) -> None:
        if message.type != "error":
            return
        failed = _FAILED_LOAD.match(message.text)
        if failed:
            self.failed_loads.append((message.location.get("url", ""), int(failed.group(1))))
        else:
            self.errors.append(f"console: {message.text}")

    def page_error(self, error: Any) -> None:
        self.errors.append(f"pageerror: {error}")


@contextmanager
def open_page(base_url: str, width: int = 1280, height: int = 900) -> Iterator[tuple[Any, PageWatch]]:
    """The web page at `base_url`, loaded in a fresh headless Chromium, and its watch."""
    from playwright.sync_api import sync_playwright

    origin = "{0.scheme}://{0.netloc}".format(urlsplit(base_url))
    executable = CHROMIUM if shutil.which(CHROMIUM) else shutil.which("chromium")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(accept_downloads=True, viewport={"width": width, "height": height})
            page = context.new_page()
            watch = PageWatch(origin)
            page.on("request", watch.request)
            page.on("console", watch.console)
            page.on("pageerror", watch.page_error)
            page.goto(base_url + "/")
            page.wait_for_load_state("networkidle")
            yield page, watch
        finally:
            browser.close()


def choose_files(page: Any, files: list[tuple[str, str, bytes]]) -> None:
    """Pick `(name, media type, bytes)` files with the page's file input."""
    page.set_input_files("input[type=file]", [
        {"name": name, "mimeType": mime, "buffer": data} for name, mime, data in files
    ])


def drop_files(page: Any, files: list[tuple[str, str, bytes]], target: str = "#drop-zone") -> None:
    """Drop `(name, media type, bytes)` files on `target` as a drag from the desktop would."""
    payload = [{"name": name, "type": mime, "data": base64.b64encode(data).decode()} for name, mime, data in files]
    page.evaluate(
        """([selector, files]) => {
            const transfer = new DataTransfer();
            for (const file of files) {
                const bytes = Uint8Array.from(atob(file.data), (c) => c.charCodeAt(0));
                transfer.items.add(new File([bytes], file.name, { type: file.type }));
            }
            const zone = document.querySelector(selector);
            for (const type of ["dragenter", "dragover", "drop"]) {
                zone.dispatchEvent(new DragEvent(type, { dataTransfer: transfer, bubbles: true, cancelable: true }));
            }
        }""",
        [target, payload],
    )


def rendered_page(seed: int, width: int = 900) -> np.ndarray:
    """An upright text page (BGR), rendered by pagefix's own synthetic page maker."""
    from pagefix.train.synthetic import PageStyle, render_page, word_source

    rng = np.random.default_rng(seed)
    style = PageStyle(width=(width, width + 1), font_px=(20, 26))
    return render_page(word_source("latin", rng), [None], False, rng, style, "text", "ragged")


def jpeg(image: np.ndarray, quality: int = 92) -> bytes:
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    return data.tobytes()


def pdf(pages: list[np.ndarray], dpi: float = 100.0) -> bytes:
    """A PDF with one image per page, written by Pillow."""
    images = [Image.fromarray(cv2.cvtColor(page, cv2.COLOR_BGR2RGB)) for page in pages]
    buffer = io.BytesIO()
    images[0].save(buffer, "PDF", save_all=True, append_images=images[1:], resolution=dpi)
    return buffer.getvalue()
