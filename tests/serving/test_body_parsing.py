"""Request bodies are parsed off the event loop: while a 60 MB JSON body is being read into the
request model, `/health` keeps answering (within a second), and a body made of millions of tiny
JSON values, which no parser gets through quickly, is refused before parsing."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from support.serving import running

from pagefix import DocPreprocessor
from pagefix.serving import app as app_module
from pagefix.serving import create_app

URL = "/document-preprocessing"
SIZE = 60_000_000
BODIES = {
    # base64 of 45 MB of zeros: parsed, then refused as no image format
    "one long string": lambda: b'{"file": "' + b"A" * SIZE + b'", "visualize": false}',
    # 8.5 million tiny objects: seconds of json.loads with the GIL held, were it parsed
    "millions of values": lambda: b'{"file": "aGk=", "x": [' + b",".join([b'{"a":1}'] * (SIZE // 8)) + b"]}",
}


@pytest.fixture(scope="module")
def service() -> Iterator[str]:
    pipeline = DocPreprocessor(use_doc_orientation_classify=False, use_doc_unwarping=False)
    with running(create_app(pipeline)) as url:
        yield url


@pytest.mark.parametrize("kind", list(BODIES))
def test_health_answers_while_a_large_body_is_parsed(service: str, kind: str, monkeypatch: pytest.MonkeyPatch) -> None:
    body = BODIES[kind]()
    parsing: list[float] = []
    real_parse = app_module.parse_infer_request

    def timed_parse(*args: Any) -> Any:
        parsing.append(time.monotonic())
        try:
            return real_parse(*args)
        finally:
            parsing.append(time.monotonic())

    monkeypatch.setattr(app_module, "parse_infer_request", timed_parse)
    answer: dict[str, httpx.Response] = {}

    def upload() -> None:
        with httpx.Client(base_url=service, timeout=120) as client:
            answer["big"] = client.post(URL, content=body, headers={"content-type": "application/json"})

    uploader = threading.Thread(target=upload)
    probes: list[tuple[float, float]] = []
    with httpx.Client(base_url=service, timeout=10) as health:
        health.get("/health")  # connected before the upload starts
        uploader.start()
        for _ in range(2000):  # bounded: at most ~100 s of probing
            if not uploader.is_alive():
                break
            sent = time.monotonic()
            assert health.get("/health").status_code == 200
            probes.append((sent, time.monotonic()))
            time.sleep(0.02)
    uploader.join(timeout=120)
    assert len(parsing) == 2, "the body was never parsed"
    start, end = parsing
    slow = [(round(a - start, 2), round(b - a, 2)) for a, b in probes if b - a > 0.3]
    assert max(b - a for a, b in probes) < 1.0, (slow, end - start)
    if kind == "one long string":  # parsing it takes long enough for checks to overlap it
        assert any(a < end and b > start for a, b in probes), "no health check overlapped the parse"
    status = answer["big"].status_code
    assert status == (422 if kind == "one long string" else 400), answer["big"].text[:300]
    if status == 400:
        assert "JSON values" in answer["big"].json()["errorMsg"]
