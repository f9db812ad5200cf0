"""A misbehaving web server on 127.0.0.1 for the fetcher's tests: every route is one way a server
can be slow, large, redirecting or wrong."""

from __future__ import annotations

import io
import threading
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from PIL import Image


def png_bytes() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (40, 50), (200, 30, 30)).save(buffer, "PNG")
    return buffer.getvalue()


PNG = png_bytes()


def deflate_bomb(mebibytes: int) -> bytes:
    """A zlib stream of `mebibytes` MiB of zeros in about 1 KiB per MiB (one full-flushed block,
    repeated), built without ever holding the zeros; it ends without its checksum, which is
    never reached: the fetcher must stop at its byte cap first."""
    compressor = zlib.compressobj(9)
    block = compressor.compress(bytes(1 << 20)) + compressor.flush(zlib.Z_FULL_FLUSH)
    return block[:2] + block[2:] * mebibytes


BOMB = deflate_bomb(200)
TRICKLE_SECONDS = 2.0


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: object) -> None:  # quiet
        pass

    def send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if "Content-Length" not in (headers or {}):
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        path = self.path
        if path.startswith("http://"):  # asked as a proxy: answer for the target
            self.send(200, PNG, {"X-Via-Proxy": "yes"})
        elif path == "/ok.png":
            self.send(200, PNG)
        elif path == "/missing":
            self.send(404, b"not here")
        elif path == "/boom":
            self.send(500, b"oops")
        elif path.startswith("/hop/"):
            left = int(path.rsplit("/", 1)[1])
            self.send(302, headers={"Location": f"/hop/{left - 1}" if left > 1 else "/ok.png"})
        elif path == "/to-ftp":
            self.send(302, headers={"Location": "ftp://127.0.0.1/ok.png"})
        elif path == "/to-file":
            self.send(301, headers={"Location": "file:///etc/passwd"})
        elif path.startswith("/to/"):
            self.send(307, headers={"Location": path[len("/to/"):]})
        elif path == "/declared-huge":
            self.send(200, headers={"Content-Length": str(10**12)})
        elif path == "/undeclared-2mb":
            self.send_response(200)
            self.send_header("Connection", "close")
            self.end_headers()
            for _ in range(32):
                self.wfile.write(bytes(65536))
        elif path == "/gzip-bomb":
            self.send(200, BOMB, {"Content-Encoding": "deflate"})  # 200 MiB of zeros in ~200 KB
        elif path == "/gzip-png":
            compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
            body = compressor.compress(PNG) + compressor.flush()
            self.send(200, body, {"Content-Encoding": "gzip"})
        elif path == "/brotli":
            self.send(200, b"\x1b\x00", {"Content-Encoding": "br"})
        elif path == "/trickle-body":
            self.send_response(200)
            self.send_header("Content-Length", "100000")
            self.end_headers()
            self.trickle(b"x" * 100000)
        elif path == "/trickle-headers":
            self.trickle(b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 10000)
        else:
            self.send(404)

    def trickle(self, data: bytes) -> None:
        try:
            for byte in data:
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
                time.sleep(TRICKLE_SECONDS)
        except OSError:
            return


@contextmanager
def serving(handler: type[BaseHTTPRequestHandler] | None = None) -> Iterator[str]:
    """A threaded server on 127.0.0.1 with `handler` (default: the misbehaving `Handler`); its URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler or Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
