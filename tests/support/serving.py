"""Helpers shared by the HTTP tests: the app served on 127.0.0.1 in a thread, base64 and image encoding."""

from __future__ import annotations

import base64
import io
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
from PIL import Image

from pagefix.serving.server import server_for

from .ports import free_port


@contextmanager
def running(app) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """Serve `app` on 127.0.0.1 in a thread; yield its base URL; stop it gracefully."""
    server = server_for(app, "127.0.0.1", free_port(), log_level="warning")
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("test server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{server.config.port}"
    finally:
        server.should_exit = True
        thread.join(timeout=60)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def encode(image: Image.Image, fmt: str = "JPEG", **options) -> bytes:  # type: ignore[no-untyped-def]
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def decode_png(text: str) -> np.ndarray:
    data = base64.b64decode(text)
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    with Image.open(io.BytesIO(data)) as image:
        return np.asarray(image.convert("RGB"))
