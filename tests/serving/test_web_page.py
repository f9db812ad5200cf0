"""The web page of `pagefix serve`: served under a strict Content-Security-Policy, made only of its own
files, off with --no-ui; and, in a real Chromium (web_page_support.py), it turns dropped photos and
PDFs into corrected pages to download, shows a failed file's message, and asks nothing of another
origin."""

from __future__ import annotations

import base64
import io
import json
import re
import threading
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import cv2
import httpx
import numpy as np
import pytest
from PIL import Image

pytest.importorskip("fastapi")

from support.serving import b64, running
from support.web_page import (
    browser_missing,
    choose_files,
    drop_files,
    jpeg,
    open_page,
    pdf,
    rendered_page,
)

from pagefix.cli.main import main  # noqa: E402
from pagefix.errors import ConfigError  # noqa: E402
from pagefix.models import DEFAULT_MODELS  # noqa: E402
from pagefix.serving import create_app  # noqa: E402
from pagefix.serving.page import UI_ASSETS  # noqa: E402
from pagefix.serving.settings import ServingSettings  # noqa: E402

API = "/document-preprocessing"


@pytest.fixture(scope="module")
def page_server(pipeline) -> Iterator[str]:  # type: ignore[no-untyped-def]
    settings = ServingSettings(max_request_bytes=32 * 1024 * 1024, max_num_input_imgs=2)
    with running(create_app(pipeline, settings=settings)) as url:
        yield url


def _directives(policy: str) -> dict[str, list[str]]:
    parts = (part.split() for part in policy.split(";") if part.strip())
    return {words[0]: words[1:] for words in parts}


# ---- without a browser ----


def test_page_is_served_with_a_strict_policy(page_server: str) -> None:
    answer = httpx.get(page_server + "/")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/html")
    assert answer.headers["x-content-type-options"] == "nosniff"
    policy = _directives(answer.headers["content-security-policy"])
    assert policy["default-src"] == ["'self'"]
    assert policy["script-src"] == ["'self'"]
    assert policy["object-src"] == ["'none'"]
    assert policy["base-uri"] == ["'none'"]
    assert policy["frame-ancestors"] == ["'none'"]
    assert set(policy["img-src"]) <= {"'self'", "blob:", "data:"}
    assert not any("unsafe" in source for sources in policy.values() for source in sources)
    assert '<input type="file"' in answer.text
    head = httpx.head(page_server + "/")
    assert head.status_code == 200 and head.headers["content-security-policy"] == answer.headers["content-security-policy"]


def test_assets_are_served_by_name_only(page_server: str) -> None:
    for name, media_type in UI_ASSETS.items():
        answer = httpx.get(f"{page_server}/ui/{name}")
        assert answer.status_code == 200, name
        assert answer.headers["content-type"] == media_type
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert answer.content == (resources.files("pagefix.serving") / "ui" / name).read_bytes()
    for path in ("/ui/nothing.js", "/ui/..%2Fpage.py", "/ui/%2e%2e/app.py", "/ui/"):
        answer = httpx.get(page_server + path)
        assert answer.status_code == 404, path
        assert answer.json()["errorCode"] == 404


def test_page_settings_tell_the_servers_stages_and_limits(page_server: str, pipeline) -> None:  # type: ignore[no-untyped-def]
    settings = httpx.get(page_server + "/ui/settings.json").json()
    assert settings["useDocOrientationClassify"] is bool(pipeline.config.use_doc_orientation_classify)
    assert settings["useDocUnwarping"] is bool(pipeline.config.use_doc_unwarping)
    assert settings["skipFlatPages"] is bool(pipeline.config.skip_flat_pages)
    assert settings["maxRequestBytes"] == 32 * 1024 * 1024
    assert settings["maxPages"] == 2


def _asset_text(name: str) -> str:
    return (resources.files("pagefix.serving") / "ui" / name).read_text(encoding="utf-8")


def test_assets_name_no_other_origin_and_hold_no_inline_script() -> None:
    # The SVG namespace is a name, never fetched; it is the one absolute URL allowed.
    namespace = 'xmlns="http://www.w3.org/2000/svg"'
    for name in UI_ASSETS:
        text = _asset_text(name).replace(namespace, "")
        assert not re.search(r"(?i)\b(https?:|wss?:|ftp:)?//[a-z0-9.-]+\.[a-z]{2,}", text), name
    page = _asset_text("index.html")
    scripts = re.findall(r"<script\b([^>]*)>(.*?)</script>", page, re.S | re.I)
    assert scripts and all('src="' in attributes and not body.strip() for attributes, body in scripts)
    assert not re.search(r"(?i)\s(on[a-z]+|style)\s*=", page), "inline handlers or styles"
    assert "javascript:" not in page.lower()
    for name in ("app.js", "pdf.js"):
        code = _asset_text(name)
        # File names and server messages reach the page as text, never as markup or code.
        for unsafe in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"):
            assert unsafe not in code, (name, unsafe)


def test_no_ui_turns_the_page_off(pipeline) -> None:  # type: ignore[no-untyped-def]
    with running(create_app(pipeline, settings=ServingSettings(ui=False))) as url:
        for path in ("/", "/ui/app.js", "/ui/settings.json"):
            answer = httpx.get(url + path)
            assert answer.status_code == 404, path
            assert answer.json()["errorCode"] == 404
        assert httpx.get(url + "/health").status_code == 200


@pytest.fixture
def served(monkeypatch):  # type: ignore[no-untyped-def]
    import pagefix.serving.server as server

    calls: list = []
    monkeypatch.setattr(server, "serve", lambda app, host, port, log_level: calls.append(app))
    return calls


def test_no_ui_flag_and_config_key_reach_the_settings(served, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    config = tmp_path / "pipeline.yaml"
    config.write_text("Serving:\n  ui: false\n")
    assert main(["serve", "--port", "9"]) == 0
    assert main(["serve", "--port", "9", "--no-ui"]) == 0
    assert main(["serve", "--port", "9", "--config", str(config)]) == 0
    assert [app.state.settings.ui for app in served] == [True, False, False]
    paths = [{getattr(route, "path", None) for route in app.routes} for app in served]
    assert "/" in paths[0] and "/" not in paths[1]
    with pytest.raises(ConfigError, match="Serving.ui must be true or false"):
        ServingSettings.from_config({"ui": "no"})


# ---- in Chromium ----

needs_browser = pytest.mark.skipif(browser_missing() is not None, reason=browser_missing() or "")


def _api_answer(server: str, data: bytes, file_type: int | None, **switches: object) -> httpx.Response:
    body = {"file": b64(data), "fileType": file_type, "visualize": True, **switches}
    return httpx.post(server + API, json=body, timeout=120)


def _card(page, name: str):  # type: ignore[no-untyped-def]
    return page.locator("li.card").filter(has=page.get_by_role("heading", name=name, exact=True))


def _download(page, link) -> tuple[bytes, str]:  # type: ignore[no-untyped-def]
    with page.expect_download() as info:
        link.click()
    download = info.value
    assert download.failure() is None
    return Path(download.path()).read_bytes(), download.suggested_filename


def _rgb(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as image:
        return np.asarray(image.convert("RGB")).astype(np.int16)


@needs_browser
def test_dropped_photo_and_pdf_come_back_corrected(page_server: str) -> None:
    upright = rendered_page(1)  # 900 x 1240, portrait
    photo = jpeg(cv2.rotate(upright, cv2.ROTATE_90_CLOCKWISE))  # stored a quarter turn clockwise
    pages = [rendered_page(2, 700), cv2.rotate(rendered_page(3, 700), cv2.ROTATE_180)]
    document = pdf(pages)
    not_an_image = b"Minutes of the meeting, typed, not scanned.\n"
    with open_page(page_server) as (page, watch):
        choose_files(page, [("receipt scan.jpg", "image/jpeg", photo)])
        drop_files(page, [("book.pdf", "application/pdf", document), ("minutes.txt", "text/plain", not_an_image)])
        page.locator("[data-page]").nth(2).wait_for(timeout=180_000)
        page.locator("[data-error]").wait_for(timeout=180_000)
        _card(page, "book.pdf").locator(".all-pages a[download]").wait_for()

        assert page.locator("[data-page]").count() == 3
        for index in range(3):
            holder = page.locator("[data-page]").nth(index)
            assert holder.locator("img").count() == 1 and holder.locator("a[download]").count() == 1
            assert holder.locator("img").evaluate("(image) => image.complete && image.naturalWidth > 0")

        # The photo's page: upright, and byte for byte what the API gives any other client.
        card = _card(page, "receipt scan.jpg")
        assert "90° clockwise" in card.inner_text()
        data, name = _download(page, card.locator("[data-page] a[download]"))
        assert name == "receipt_scan_page1.png"
        api = _api_answer(page_server, photo, 1, useDocOrientationClassify=True, useDocUnwarping=True,
                          skipFlatPages=True, keepMargin=0.0)
        api_page = api.json()["result"]["docPreprocessingResults"][0]
        assert data == base64.b64decode(api_page["outputImage"])
        got = _rgb(data)
        want = cv2.cvtColor(upright, cv2.COLOR_BGR2RGB).astype(np.int16)
        assert got.shape == want.shape  # portrait again
        assert np.abs(got - want).mean() < 4 < np.abs(got - want[::-1, ::-1]).mean()

        # The PDF: two pages, and one PDF of both, page for page the PNGs shown.
        card = _card(page, "book.pdf")
        assert "180° clockwise" in card.locator("[data-page]").nth(1).inner_text()
        assert "at most 2 pages of a file" in card.inner_text()  # the server's page limit is said
        pngs = [_download(page, card.locator("[data-page]").nth(i).locator("a[download]")) for i in range(2)]
        assert [name for _, name in pngs] == ["book_page1.png", "book_page2.png"]
        combined, name = _download(page, card.locator(".all-pages a[download]"))
        assert name == "book_corrected.pdf"
        import pypdfium2 as pdfium

        document_out = pdfium.PdfDocument(combined)
        try:
            assert len(document_out) == 2
            for index, (png, _) in enumerate(pngs):
                shown = _rgb(png)
                bitmap = document_out[index].render(scale=300 / 72).to_pil()
                rendered = np.asarray(bitmap.convert("RGB").resize(shown.shape[1::-1])).astype(np.int16)
                assert np.abs(rendered - shown).mean() < 3
        finally:
            document_out.close()

        # The file that is not an image: the server's own message, on its card, and nothing else broke.
        message = _api_answer(page_server, not_an_image, None).json()["errorMsg"]
        assert _card(page, "minutes.txt").locator("[data-error]").inner_text() == message
        assert "Traceback" not in page.content()

        assert watch.foreign == []
        assert watch.errors == []
        assert watch.failed_loads == [(page_server + API, 422)]


class HeldPipeline:
    """The real pipeline, except that every page waits for `release`: a job holds its worker."""

    def __init__(self, pipeline) -> None:  # type: ignore[no-untyped-def]
        self.pipeline = pipeline
        self.config = pipeline.config
        self.limits = pipeline.limits
        self.release = threading.Event()

    def process_pages(self, pages, settings):  # type: ignore[no-untyped-def]
        if not self.release.wait(120):
            raise RuntimeError("the test never released the pipeline")
        return self.pipeline.process_pages(pages, settings)


@needs_browser
def test_a_busy_server_is_asked_again_after_retry_after(pipeline) -> None:  # type: ignore[no-untyped-def]
    held = HeldPipeline(pipeline)
    # One worker and no queue: while the first file holds the worker, the second is shed (503).
    app = create_app(held, settings=ServingSettings(workers=1, max_queue=0, retry_after=1))
    photos = [jpeg(cv2.resize(rendered_page(seed), (450, 620))) for seed in (5, 6)]
    with running(app) as url, open_page(url) as (page, watch):
        statuses: list[int] = []
        page.on("response", lambda response: statuses.append(response.status) if response.url.endswith(API) else None)
        choose_files(page, [("first.jpg", "image/jpeg", photos[0]), ("second.jpg", "image/jpeg", photos[1])])
        page.get_by_text(re.compile("Server busy; trying again in")).wait_for(timeout=60_000)
        held.release.set()
        page.locator("[data-page]").nth(1).wait_for(timeout=120_000)
        assert page.locator("[data-error]").count() == 0
        assert statuses.count(200) == 2 and statuses.count(503) >= 1 and set(statuses) == {200, 503}
        assert watch.foreign == [] and watch.errors == []
        assert {status for _, status in watch.failed_loads} == {503}


class Gate:
    """In front of the service, as issue 21's keys: a call without `Authorization: Bearer sesame`
    is refused with 401 and a Bearer challenge."""

    def __init__(self, app, seen: list[tuple[str, int]]) -> None:  # type: ignore[no-untyped-def]
        self.app = app
        self.seen = seen

    async def __call__(self, scope, receive, send) -> None:  # type: ignore[no-untyped-def]
        if scope["type"] != "http" or scope["path"] != API:
            await self.app(scope, receive, send)
            return
        key = dict(scope["headers"]).get(b"authorization", b"").decode()
        if key == "Bearer sesame":
            self.seen.append((key, 200))
            await self.app(scope, receive, send)
            return
        self.seen.append((key, 401))
        body = json.dumps({"logId": "-", "errorCode": 401, "errorMsg": "send the key"}).encode()
        await send({"type": "http.response.start", "status": 401, "headers": [
            (b"content-type", b"application/json"), (b"www-authenticate", b"Bearer")]})
        await send({"type": "http.response.body", "body": body})


@needs_browser
def test_api_key_and_settings_on_a_phone_screen(pipeline) -> None:  # type: ignore[no-untyped-def]
    app = create_app(pipeline, settings=ServingSettings())
    seen: list[tuple[str, int]] = []
    app.add_middleware(Gate, seen=seen)
    photo = jpeg(cv2.resize(rendered_page(4), (450, 620)))
    with running(app) as url, open_page(url, width=390, height=844) as (page, watch):
        # Every control is labelled; the settings are remembered across visits.
        for label in ("Turn pages upright", "Flatten curved pages", "Leave flat pages alone",
                      "Margin kept around a flattened page (%)"):
            assert page.get_by_label(label, exact=True).count() == 1, label
        page.get_by_label("Flatten curved pages", exact=True).uncheck()
        page.reload()
        assert not page.get_by_label("Flatten curved pages", exact=True).is_checked()
        assert page.get_by_label("Leave flat pages alone", exact=True).is_disabled()

        # The file input is reached with the keyboard.
        page.keyboard.press("Tab")
        assert page.evaluate("() => document.activeElement.type") == "file"

        choose_files(page, [("note.jpg", "image/jpeg", photo)])
        key = page.get_by_label("API key", exact=True)
        key.wait_for(timeout=60_000)
        assert key.get_attribute("type") == "password"
        key.fill("open-sesame")
        key.press("Enter")
        page.get_by_text("did not accept").wait_for(timeout=60_000)
        key.fill("sesame")
        page.get_by_role("button", name="Use this key").click()
        page.locator("[data-page]").wait_for(timeout=120_000)

        assert seen == [("", 401), ("Bearer open-sesame", 401), ("Bearer sesame", 200)]
        assert page.evaluate("() => sessionStorage.getItem('pagefix.apiKey')") == "sesame"
        stored = page.evaluate("() => Object.values(localStorage).join(' ')")  # settings only, never the key
        assert '"unwarping":false' in stored and "sesame" not in stored
        text = page.locator("[data-page]").inner_text()
        assert re.search(r"Stages run\s+orientation\s+Size", text), text  # unwarping was not asked for
        assert re.search(rf"Orientation model\s+{DEFAULT_MODELS['orientation']}\s", text), text
        # Nothing is wider than the phone's screen.
        assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")
        assert watch.foreign == [] and watch.errors == []
        assert [status for _, status in watch.failed_loads] == [401, 401]
        page.get_by_role("button", name="Clear finished").click()
        assert page.locator("li.card").count() == 0 and page.get_by_text("No files yet.").is_visible()


@needs_browser
def test_pdf_writer_takes_pngs_it_cannot_embed_as_they_are(page_server: str) -> None:
    """A PNG with alpha (which the service does not send today) is drawn on white and embedded as JPEG."""
    import pypdfium2 as pdfium

    with open_page(page_server) as (page, watch):
        encoded = page.evaluate("""async () => {
            const { pdfFromPngs } = await import("./ui/pdf.js");
            const canvas = new OffscreenCanvas(40, 30);
            const context = canvas.getContext("2d");
            context.fillStyle = "rgb(200, 30, 30)";
            context.fillRect(0, 0, 20, 30);  // the right half stays transparent
            const png = await canvas.convertToBlob({ type: "image/png" });
            const bytes = new Uint8Array(await (await pdfFromPngs([png, png])).arrayBuffer());
            return btoa(Array.from(bytes, (b) => String.fromCharCode(b)).join(""));
        }""")
        assert watch.errors == []
    data = base64.b64decode(encoded)
    pikepdf = pytest.importorskip("pikepdf")
    with pikepdf.open(io.BytesIO(data)) as strict:  # qpdf finds no fault in the structure (xref, lengths)
        assert strict.check_pdf_syntax() == [] and strict.get_warnings() == []
    document = pdfium.PdfDocument(data)
    try:
        assert len(document) == 2
        pixels = np.asarray(document[1].render(scale=300 / 72).to_pil().convert("RGB")).astype(int)
    finally:
        document.close()
    assert abs(pixels.shape[0] - 30) <= 1 and abs(pixels.shape[1] - 40) <= 1  # 300 dpi, rounded by pdfium
    assert np.abs(pixels[15, 5] - (200, 30, 30)).max() < 12 and pixels[15, 35].min() > 240
