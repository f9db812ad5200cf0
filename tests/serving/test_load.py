"""Load and lifecycle: the body cap (413) and body deadline (408), shedding with 503 + Retry-After
when the queue is full, the per-request timeout (504), concurrent requests sharing the model
sessions, a graceful SIGTERM, and the install hint when the server extra is missing."""

from __future__ import annotations

import base64
import io
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image
from support.ports import free_port
from support.serving import b64, encode, running

from pagefix import DocPreprocessor
from pagefix.cli.main import main
from pagefix.serving import create_app
from pagefix.serving.settings import ServingSettings

URL = "/document-preprocessing"
REPO = Path(__file__).resolve().parents[2]


def raw_request(port: int, head: bytes, body: bytes = b"", wait: float = 10) -> bytes:
    """Send bytes on a socket as they are (a lying Content-Length, a stalled upload) and read the answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=wait) as sock:
        sock.sendall(head + body)
        chunks = []
        try:
            while data := sock.recv(65536):
                chunks.append(data)
        except (ConnectionResetError, socket.timeout):
            pass
    return b"".join(chunks)


@pytest.fixture(scope="module")
def bare_pipeline() -> DocPreprocessor:
    """A real pipeline with both stages off: decoding and encoding only, no model."""
    return DocPreprocessor(use_doc_orientation_classify=False, use_doc_unwarping=False)


@pytest.fixture(scope="module")
def small_body_server(bare_pipeline: DocPreprocessor):  # type: ignore[no-untyped-def]
    settings = ServingSettings(max_request_bytes=1_000_000, body_timeout=1.0)
    with running(create_app(bare_pipeline, settings=settings)) as url:
        yield url


def test_body_over_the_cap_is_413(small_body_server: str) -> None:
    body = b'{"file": "' + b"A" * 2_000_000 + b'"}'
    response = httpx.post(small_body_server + URL, content=body, headers={"content-type": "application/json"})
    assert response.status_code == 413
    assert response.json()["errorCode"] == 413
    assert "larger than the limit of 1000000 bytes" in response.json()["errorMsg"]


def test_chunked_body_is_counted_while_reading(small_body_server: str) -> None:
    def chunks():  # no Content-Length: the cap must hold while streaming
        yield b'{"file": "'
        for _ in range(40):
            yield b"A" * 65536
        yield b'"}'

    response = httpx.post(small_body_server + URL, content=chunks(), headers={"content-type": "application/json"})
    assert response.status_code == 413


def test_huge_declared_length_is_refused_before_reading(small_body_server: str) -> None:
    port = int(small_body_server.rsplit(":", 1)[1])
    head = (b"POST /document-preprocessing HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 10000000000\r\n\r\n")
    answer = raw_request(port, head, b'{"file": "')
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert b'"errorCode":413' in answer


def test_stalled_body_is_408(small_body_server: str) -> None:
    port = int(small_body_server.rsplit(":", 1)[1])
    head = (b"POST /document-preprocessing HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 100\r\n\r\n")
    answer = raw_request(port, head, b'{"file": ')
    assert answer.startswith(b"HTTP/1.1 408"), answer[:200]
    assert b'"errorCode":408' in answer


def test_body_within_the_cap_is_served(small_body_server: str, page_jpeg: bytes) -> None:
    response = httpx.post(small_body_server + URL, json={"file": b64(page_jpeg), "visualize": False})
    assert response.status_code == 200, response.text


class GatedPipeline:
    """A real pipeline whose pages wait for the test to open a gate, so a test controls how long
    a request holds its worker (instead of sleeping and hoping)."""

    def __init__(self, real: DocPreprocessor) -> None:
        self.real = real
        self.config = real.config
        self.limits = real.limits
        self.gate = threading.Event()
        self.calls = 0

    def process_pages(self, pages, settings):  # type: ignore[no-untyped-def]
        self.calls += 1
        if not self.gate.wait(60):
            raise RuntimeError("the test never opened the gate")
        return self.real.process_pages(pages, settings)


def wait_until(condition, timeout: float = 30) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached")
        time.sleep(0.01)


def test_full_queue_sheds_with_503_and_admitted_requests_are_answered(bare_pipeline: DocPreprocessor, page_jpeg: bytes) -> None:
    gated = GatedPipeline(bare_pipeline)
    app = create_app(gated, settings=ServingSettings(workers=1, max_queue=1, retry_after=7))
    pool = app.state.pool
    payload = {"file": b64(page_jpeg), "visualize": False}
    with running(app) as url, ThreadPoolExecutor(2) as background:
        admitted = [background.submit(httpx.post, url + URL, json=payload, timeout=60) for _ in range(2)]
        wait_until(lambda: pool.admitted == 2 and pool.running == 1)
        shed = [httpx.post(url + URL, json=payload, timeout=60) for _ in range(4)]
        metrics = httpx.get(url + "/metrics").text
        gated.gate.set()
        answers = [f.result() for f in admitted]
        wait_until(lambda: pool.admitted == 0)
        after = httpx.post(url + URL, json=payload, timeout=60)
    for response in shed:
        assert response.status_code == 503
        assert response.headers["retry-after"] == "7"
        assert response.json()["errorCode"] == 503 and "busy" in response.json()["errorMsg"]
    assert "pagefix_requests_shed_total 4.0" in metrics
    assert "pagefix_jobs_admitted 2.0" in metrics
    for response in answers + [after]:
        assert response.status_code == 200, response.text
        assert response.json()["result"]["dataInfo"] == {"width": 596, "height": 794, "type": "image"}
    assert gated.calls == 3  # shed requests never reached the pipeline


def test_request_timeout_is_504_and_the_job_gives_its_place_back(bare_pipeline: DocPreprocessor, make_pdf) -> None:  # type: ignore[no-untyped-def]
    gated = GatedPipeline(bare_pipeline)
    app = create_app(gated, settings=ServingSettings(workers=1, max_queue=0, request_timeout=0.5))
    pool = app.state.pool
    with running(app) as url:
        response = httpx.post(url + URL, json={"file": b64(make_pdf(5)), "visualize": False}, timeout=60)
        assert pool.admitted == 1  # still running: its place is held until it stops
        busy = httpx.post(url + URL, json={"file": b64(make_pdf(1))}, timeout=60)
        gated.gate.set()
        wait_until(lambda: pool.admitted == 0)
    assert response.status_code == 504
    assert response.json()["errorCode"] == 504 and "Serving.request_timeout" in response.json()["errorMsg"]
    assert busy.status_code == 503
    assert gated.calls == 1  # told to stop, the job left the other four pages alone


def test_ready_and_inference_refuse_while_stopping(bare_pipeline: DocPreprocessor, page_jpeg: bytes) -> None:
    app = create_app(bare_pipeline)
    with running(app) as url:
        assert httpx.get(url + "/ready").status_code == 200
        app.state.pool.close()  # what SIGTERM does first
        ready = httpx.get(url + "/ready")
        refused = httpx.post(url + URL, json={"file": b64(page_jpeg)})
        health = httpx.get(url + "/health")
    assert ready.status_code == 503 and ready.json()["errorCode"] == 503
    assert refused.status_code == 503 and "shutting down" in refused.json()["errorMsg"]
    assert health.status_code == 200


def test_concurrent_requests_share_the_models_and_get_their_own_answers(pipeline, page_image: Image.Image) -> None:  # type: ignore[no-untyped-def]
    inputs = {angle: encode(page_image.resize((298, 397)).rotate(-angle, expand=True)) for angle in (0, 90, 180, 270)}
    payloads = {angle: {"file": b64(data), "visualize": False} for angle, data in inputs.items()}
    with running(create_app(pipeline, settings=ServingSettings(workers=2, max_queue=8))) as url:
        alone = {a: httpx.post(url + URL, json=p, timeout=120).json() for a, p in payloads.items()}
        with ThreadPoolExecutor(8) as clients:
            futures = [(a, clients.submit(httpx.post, url + URL, json=payloads[a], timeout=120))
                       for a in (0, 90, 180, 270) * 2]
            together = [(a, f.result()) for a, f in futures]
    for angle, response in together:
        assert response.status_code == 200, response.text
        (page,) = response.json()["result"]["docPreprocessingResults"]
        assert page["prunedResult"]["angle"] == angle
        (reference,) = alone[angle]["result"]["docPreprocessingResults"]
        assert _pixels(page["outputImage"]).shape == _pixels(reference["outputImage"]).shape
        assert np.abs(_pixels(page["outputImage"]).astype(int) - _pixels(reference["outputImage"])).max() <= 1


def _pixels(text: str) -> np.ndarray:
    with Image.open(io.BytesIO(base64.b64decode(text))) as image:
        return np.asarray(image.convert("RGB"))


def test_sigterm_finishes_the_request_in_flight_then_exits_zero(make_pdf, tmp_path) -> None:  # type: ignore[no-untyped-def]
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = tmp_path / "serve.log"
    with log.open("w") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "pagefix", "serve", "--port", str(port), "--workers", "1", "--cpu_threads", "1"],
            cwd=REPO, env={**os.environ, "PYTHONUNBUFFERED": "1"}, stdout=sink, stderr=subprocess.STDOUT,
        )
    try:
        wait_until(lambda: _ready(base) or process.poll() is not None, timeout=120)
        assert process.poll() is None, log.read_text()
        with ThreadPoolExecutor(1) as background:
            payload = {"file": b64(make_pdf(6)), "visualize": False}
            in_flight = background.submit(httpx.post, base + URL, json=payload, timeout=300)
            wait_until(lambda: "pagefix_jobs_running 1.0" in httpx.get(base + "/metrics").text, timeout=60)
            process.send_signal(signal.SIGTERM)
            response = in_flight.result()
        code = process.wait(timeout=120)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    output = log.read_text()
    assert response.status_code == 200, response.text
    assert response.json()["result"]["dataInfo"]["numPages"] == 6
    assert code == 0, output
    assert "finishing 1 request(s) in flight" in output
    with pytest.raises(httpx.ConnectError):
        httpx.get(base + "/health")


def _ready(base: str) -> bool:
    try:
        return httpx.get(base + "/ready", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def test_missing_server_extra_names_the_install_command(monkeypatch, capsys) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setitem(sys.modules, "uvicorn", None)
    assert main(["serve"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    assert 'pip install "pagefix[server]"' in err[0]
