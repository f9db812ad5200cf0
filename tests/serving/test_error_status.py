"""The service maps pagefix's errors by type and attribute: each error's `http_status` is the
answer's status (422 with the message, 500 bare with the detail in the log), and a refused
address is recognised by `FetchError.reason`, never by the words of the message."""

from __future__ import annotations

import asyncio
import base64
import io
import logging
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from PIL import Image

from pagefix import DocPreprocessor, errors
from pagefix.errors import FetchError, PagefixError

pytest.importorskip("fastapi")

from fastapi import FastAPI  # noqa: E402

from pagefix.serving import create_app  # noqa: E402
from pagefix.serving.settings import ServingSettings  # noqa: E402

URL = "/document-preprocessing"
REFUSED = "could not fetch file: the address is not allowed (loopback, private, link-local or reserved)"


def _png() -> str:
    buffer = io.BytesIO()
    Image.new("RGB", (40, 30), (250, 250, 250)).save(buffer, "PNG")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


class RaisingPipeline:
    """A pipeline with no models whose processing raises `self.error`, as a failing stage would."""

    def __init__(self) -> None:
        real = DocPreprocessor(use_doc_orientation_classify=False, use_doc_unwarping=False)
        self.config, self.limits = real.config, real.limits
        self.error: BaseException = RuntimeError("unset")

    def process_pages(self, pages, settings):  # type: ignore[no-untyped-def]
        raise self.error


@pytest.fixture(scope="module")
def service() -> Iterator[tuple[FastAPI, RaisingPipeline]]:
    pipeline = RaisingPipeline()
    app = create_app(pipeline, settings=ServingSettings())
    try:
        yield app, pipeline
    finally:
        app.state.pool.shutdown()


async def _post(app: FastAPI, body: dict[str, Any]) -> httpx.Response:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)  # in process, no socket
    async with httpx.AsyncClient(transport=transport, base_url="http://pagefix.test") as client:
        return await client.post(URL, json=body)


def _answer(service: tuple[FastAPI, RaisingPipeline], error: BaseException) -> tuple[int, str, str]:
    app, pipeline = service
    pipeline.error = error
    response = asyncio.run(_post(app, {"file": _png(), "visualize": False}))
    body = response.json()
    assert body["errorCode"] == response.status_code
    return response.status_code, body["errorMsg"], body["logId"]


ERROR_CLASSES = sorted((cls for cls in vars(errors).values()
                        if isinstance(cls, type) and issubclass(cls, PagefixError)), key=lambda c: c.__name__)


@pytest.mark.parametrize("cls", ERROR_CLASSES, ids=lambda c: c.__name__)
def test_each_error_is_answered_with_its_http_status(service, cls, caplog) -> None:  # type: ignore[no-untyped-def]
    with caplog.at_level(logging.ERROR, logger="pagefix.serving"):
        status, message, log_id = _answer(service, cls("detail for the operator: /srv/models"))
    assert status == cls.http_status
    if status >= 500:
        assert message == "Internal server error"
        assert any(log_id in record.getMessage() and record.exc_info for record in caplog.records)
    else:
        assert message == "detail for the operator: /srv/models"


def test_a_refused_address_is_recognised_by_its_reason(service, caplog) -> None:  # type: ignore[no-untyped-def]
    error = FetchError("could not fetch file: 10.1.2.3 is private", reason="blocked_address", url="http://intra/")
    with caplog.at_level(logging.INFO, logger="pagefix.serving"):
        status, message, _ = _answer(service, error)
    assert (status, message) == (422, REFUSED)
    assert "10.1.2.3" in caplog.text  # the address is for the operator's log only


def test_message_words_do_not_decide_the_mapping(service) -> None:  # type: ignore[no-untyped-def]
    words = "could not fetch file: address not allowed (in this message only)"
    status, message, _ = _answer(service, FetchError(words, reason="status", status_code=403))
    assert (status, message) == (422, words)


def test_a_bug_is_still_a_bare_500(service) -> None:  # type: ignore[no-untyped-def]
    status, message, _ = _answer(service, RuntimeError("secret detail"))
    assert (status, message) == (500, "Internal server error")
