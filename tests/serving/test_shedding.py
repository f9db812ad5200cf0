"""A shed client (the pool is full) gets its 503 with Retry-After while it is still uploading, and
the connection then ends cleanly: the rest of its body is read and dropped, so the close is not a
reset that would lose the answer. Talked to over a raw socket on 127.0.0.1."""

from __future__ import annotations

import select
import socket
import time
from collections.abc import Iterator

import pytest
from support.serving import running

from pagefix import DocPreprocessor
from pagefix.serving import create_app
from pagefix.serving.settings import ServingSettings

CHUNK = 64 * 1024
CHUNKS = 40  # 2.5 MB, sent over about 2 s


@pytest.fixture(scope="module")
def full_server() -> Iterator[str]:
    """One worker, no queue, and its one place taken: every inference request is shed."""
    pipeline = DocPreprocessor(use_doc_orientation_classify=False, use_doc_unwarping=False)
    app = create_app(pipeline, settings=ServingSettings(workers=1, max_queue=0, retry_after=7))
    ticket = app.state.pool.try_admit()
    assert ticket is not None
    with running(app) as url:
        yield url
    ticket.release()


def test_shed_client_gets_503_while_uploading_and_a_clean_close(full_server: str) -> None:
    port = int(full_server.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(
            b"POST /document-preprocessing HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n" % (CHUNK * CHUNKS)
        )
        received = b""
        answered_at = None
        for index in range(CHUNKS):
            sock.sendall(b"x" * CHUNK)  # a reset here (BrokenPipe / ConnectionReset) fails the test
            time.sleep(0.05)
            if select.select([sock], [], [], 0)[0]:
                received += sock.recv(65536)
                if answered_at is None and received:
                    answered_at = index
        while True:
            piece = sock.recv(65536)  # ConnectionResetError here fails the test
            if not piece:
                break
            received += piece
    assert answered_at is not None and answered_at < CHUNKS - 1, "the 503 came only after the whole body"
    head, _, body = received.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 503"), head
    assert b"retry-after: 7" in head.lower() and b"connection: close" in head.lower(), head
    assert b'"errorCode":503' in body and b"busy" in body, body
