"""The per-request pixel budget (`Serving.max_request_pixels`): the pages of one request may add
up to 200 MP by default; a file over it is refused with 413 and a message naming the setting,
from its headers and page boxes, before any page is decoded or rendered."""

from __future__ import annotations

import asyncio
import base64
import io
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from PIL import Image

from pagefix import DocPreprocessor
from pagefix.errors import ConfigError
from pagefix.inputs import iter_page_sizes
from pagefix.limits import Limits
from pagefix.serving import create_app
from pagefix.serving import inference as inference_module
from pagefix.serving.settings import ServingSettings

URL = "/document-preprocessing"
FAST = {"visualize": False, "useDocOrientationClassify": False, "useDocUnwarping": False}


def pdf(pages: int, inches: int) -> bytes:
    """`pages` pages of `inches` x `inches` (a 100-pixel image at 100/inches DPI): tiny files whose
    pages render large."""
    images = [Image.new("RGB", (100, 100), (255, 255, 255)) for _ in range(pages)]
    buffer = io.BytesIO()
    images[0].save(buffer, "PDF", save_all=True, append_images=images[1:], resolution=100 / inches)
    return buffer.getvalue()


def tiff(frames: int, side: int) -> bytes:
    images = [Image.new("L", (side, side)) for _ in range(frames)]
    buffer = io.BytesIO()
    images[0].save(buffer, "TIFF", save_all=True, append_images=images[1:], compression="tiff_deflate")
    return buffer.getvalue()


def png(side: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("1", (side, side)).save(buffer, "PNG")
    return buffer.getvalue()


def test_page_sizes_come_from_headers_and_page_boxes() -> None:
    limits = Limits()
    # 10 inches at the default scale 2.0 (144 DPI): 1440 x 1440 pixels a page
    assert list(iter_page_sizes(pdf(3, 10), limits)) == [(1440, 1440)] * 3
    assert list(iter_page_sizes(pdf(3, 10), limits, max_pages=2)) == [(1440, 1440)] * 2
    # a 100-inch page is rendered lowered to the PDF page limit of 50 MP
    ((width, height),) = iter_page_sizes(pdf(1, 100), limits)
    assert width * height <= limits.max_pdf_page_pixels == 50_000_000 and width > 7000
    assert list(iter_page_sizes(tiff(3, 64), limits)) == [(64, 64)] * 3
    assert list(iter_page_sizes(png(300), limits)) == [(300, 300)]
    assert list(iter_page_sizes(b"not an image", limits)) == []


@pytest.fixture(scope="module")
def pipeline() -> DocPreprocessor:
    return DocPreprocessor(use_doc_orientation_classify=False, use_doc_unwarping=False)


def post(app: Any, data: bytes) -> httpx.Response:
    async def go() -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://service.test") as client:
            return await client.post(URL, json={"file": base64.b64encode(data).decode(), **FAST})

    return asyncio.run(go())


@pytest.fixture
def decoded(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[bytes]]:
    """Records every file the service starts decoding."""
    calls: list[bytes] = []
    real = inference_module.pages_from_bytes

    def recording(data: bytes, *args: Any, **kwargs: Any) -> Any:
        calls.append(data)
        return real(data, *args, **kwargs)

    monkeypatch.setattr(inference_module, "pages_from_bytes", recording)
    yield calls


def test_default_budget_refuses_five_pages_of_50_megapixels(pipeline: DocPreprocessor, decoded: list[bytes]) -> None:
    assert ServingSettings().max_request_pixels == 200_000_000
    app = create_app(pipeline)
    try:
        answer = post(app, pdf(5, 100))
    finally:
        app.state.pool.shutdown()
    assert answer.status_code == 413, answer.text
    message = answer.json()["errorMsg"]
    assert "pixel budget of 200 MP (Serving.max_request_pixels): pages 0 to 4 add up to" in message, message
    assert decoded == []  # refused before the first page was rendered


@pytest.mark.parametrize(("data", "budget", "needle"), [
    (lambda: pdf(4, 10), 5_000_000, "pages 0 to 2 add up to 6.2 MP"),
    (lambda: tiff(5, 1000), 2_500_000, "pages 0 to 2 add up to 3.0 MP"),
    (lambda: png(2000), 1_000_000, "its first page (2000x2000) is 4.0 MP"),
])
def test_budget_setting_is_applied_before_decoding(pipeline: DocPreprocessor, decoded: list[bytes],
                                                   data: Any, budget: int, needle: str) -> None:
    app = create_app(pipeline, settings=ServingSettings(max_request_pixels=budget))
    try:
        answer = post(app, data())
    finally:
        app.state.pool.shutdown()
    assert answer.status_code == 413, answer.text
    assert needle in answer.json()["errorMsg"] and "Serving.max_request_pixels" in answer.json()["errorMsg"]
    assert decoded == []


def test_within_the_budget_or_without_one_the_pages_are_processed(pipeline: DocPreprocessor) -> None:
    for settings in (ServingSettings(max_request_pixels=3 * 1440 * 1440), ServingSettings(max_request_pixels=None)):
        app = create_app(pipeline, settings=settings)
        try:
            answer = post(app, pdf(3, 10))
        finally:
            app.state.pool.shutdown()
        assert answer.status_code == 200, answer.text
        assert answer.json()["result"]["dataInfo"]["numPages"] == 3


@pytest.mark.parametrize("value", [0, -5, True, 1.5, "many"])
def test_budget_setting_is_checked(value: Any) -> None:
    with pytest.raises(ConfigError, match="max_request_pixels"):
        ServingSettings.from_config({"max_request_pixels": value})
