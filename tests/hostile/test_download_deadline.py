"""One download deadline in every front end: a server on 127.0.0.1 that answers at once and then
drips its body one byte a second is given up at `Limits.fetch_deadline` (set to 2 s here, through
the configuration or its environment variable) by the Python API, the CLI and the service, each
with an error naming the deadline; the batch runner takes no URLs and says so."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from pagefix import DocPreprocessor
from pagefix.errors import FetchError
from pagefix.serving import create_app
from pagefix.serving.settings import ServingSettings

DEADLINE = 2.0
NEEDLE = "exceeded the 2 s deadline (Limits.fetch_deadline"
NO_MODELS = {"use_doc_orientation_classify": False, "use_doc_unwarping": False}
# What a front end may take beyond the deadline: a process start and imports for the CLI, the
# thread hand-offs for the others. Far below the 1 byte/s x 100 kB the server would take.
SLACK = 25.0


@pytest.fixture(scope="module")
def drip() -> Iterator[str]:
    """A server that sends its headers (Content-Length 100000) at once, then one byte a second."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.settimeout(0.2)
    stop = threading.Event()

    def serve(connection: socket.socket) -> None:
        with connection:
            connection.settimeout(5)
            try:
                connection.recv(65536)
                connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: image/png\r\nContent-Length: 100000\r\n\r\n")
                for _ in range(120):  # bounded: two minutes at most
                    if stop.is_set():
                        return
                    connection.sendall(b"\x89")
                    time.sleep(1.0)
            except OSError:
                return

    def accept() -> None:
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except (TimeoutError, OSError):
                continue
            threading.Thread(target=serve, args=(connection,), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/drip.png"
    finally:
        stop.set()
        thread.join(timeout=5)
        listener.close()


def test_python_api_gives_up_at_the_deadline(drip: str) -> None:
    pipeline = DocPreprocessor(**NO_MODELS, paddlex_config={"Limits": {"fetch_deadline": DEADLINE}})
    started = time.monotonic()
    with pytest.raises(FetchError) as caught:
        pipeline.predict(drip)
    elapsed = time.monotonic() - started
    assert NEEDLE in str(caught.value) and drip in str(caught.value)
    assert DEADLINE - 0.5 <= elapsed < DEADLINE + SLACK, elapsed


def test_cli_gives_up_at_the_deadline(drip: str, tmp_path: Path) -> None:
    env = {**os.environ, "PAGEFIX_FETCH_DEADLINE": str(DEADLINE), "PYTHONPATH": os.pathsep.join(sys.path)}
    started = time.monotonic()
    run = subprocess.run(
        [sys.executable, "-m", "pagefix", "doc_preprocessor", "-i", drip, "--save_path", str(tmp_path),
         "--use_doc_orientation_classify", "False", "--use_doc_unwarping", "False"],
        capture_output=True, text=True, env=env, timeout=DEADLINE + 60,
    )
    elapsed = time.monotonic() - started
    assert run.returncode != 0, run.stdout
    assert NEEDLE in run.stderr, run.stderr
    assert elapsed < DEADLINE + SLACK, elapsed


def test_service_gives_up_at_the_deadline(drip: str) -> None:
    pipeline = DocPreprocessor(**NO_MODELS, paddlex_config={"Limits": {"fetch_deadline": DEADLINE}})
    app = create_app(pipeline, settings=ServingSettings(allowed_hosts=("127.0.0.1",)))

    async def post() -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://service.test") as client:
            return await client.post("/document-preprocessing", json={"file": drip, "visualize": False})

    started = time.monotonic()
    try:
        answer = asyncio.run(post())
    finally:
        app.state.pool.shutdown()
    elapsed = time.monotonic() - started
    assert answer.status_code == 422, answer.text
    assert NEEDLE in answer.json()["errorMsg"]
    assert elapsed < DEADLINE + SLACK, elapsed


def test_batch_refuses_urls_saying_so(drip: str, tmp_path: Path) -> None:
    listing = tmp_path / "inputs.txt"
    listing.write_text(drip + "\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    run = subprocess.run(
        [sys.executable, "-m", "pagefix", "batch", str(listing), "--save_path", str(tmp_path / "out"),
         "--use_doc_orientation_classify", "False", "--use_doc_unwarping", "False"],
        capture_output=True, text=True, env=env, timeout=120,
    )
    assert run.returncode != 0
    assert "http(s) URLs are not batch inputs" in run.stderr, run.stderr
