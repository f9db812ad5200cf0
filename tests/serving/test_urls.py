"""URL inputs: fetched by the input layer under the SSRF guard; an operator allow-list lets the
service reach a file server on 127.0.0.1, and without it the same URL is refused."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from support.serving import running

from pagefix import DocPreprocessor
from pagefix.serving import create_app
from pagefix.serving.settings import ServingSettings

URL = "/document-preprocessing"


class FileServer:
    """A file server on 127.0.0.1 that records the paths it was asked for."""

    def __init__(self, files: dict[str, bytes]) -> None:
        self.files = files
        self.seen: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
                outer.seen.append(self.path)
                if self.path.startswith("/redirect-to/"):
                    self.send_response(302)
                    self.send_header("Location", self.path[len("/redirect-to/"):])
                    self.end_headers()
                elif self.path == "/loop":
                    self.send_response(302)
                    self.send_header("Location", "/loop")
                    self.end_headers()
                elif self.path in outer.files:
                    data = outer.files[self.path]
                    self.send_response(200)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                else:
                    self.send_error(404)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> FileServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def files(page_jpeg: bytes) -> Iterator[FileServer]:
    with FileServer({"/page.jpg": page_jpeg, "/big.jpg": page_jpeg + b"\0" * 300_000}) as server:
        yield server


def test_url_through_the_allow_list_is_processed(client: httpx.Client, files: FileServer) -> None:
    response = client.post(URL, json={"file": files.base + "/page.jpg", "fileType": 1, "visualize": False})
    assert response.status_code == 200, response.text
    result = response.json()["result"]
    assert result["dataInfo"] == {"width": 596, "height": 794, "type": "image"}
    assert result["docPreprocessingResults"][0]["prunedResult"]["angle"] == 0


def test_redirects_are_followed_and_capped(client: httpx.Client, files: FileServer) -> None:
    ok = client.post(URL, json={"file": files.base + "/redirect-to//page.jpg", "visualize": False,
                                "useDocUnwarping": False})
    assert ok.status_code == 200, ok.text
    looping = client.post(URL, json={"file": files.base + "/loop"})
    assert looping.status_code == 422
    assert "more than 3 redirects" in looping.json()["errorMsg"]


def test_non_2xx_answer_is_422_with_its_status(client: httpx.Client, files: FileServer) -> None:
    response = client.post(URL, json={"file": files.base + "/missing.jpg"})
    assert response.status_code == 422
    assert response.json() == {**response.json(), "errorCode": 422, "errorMsg": "could not fetch file: HTTP 404"}


def test_redirect_to_a_private_address_is_refused(client: httpx.Client, files: FileServer) -> None:
    target = "http://169.254.169.254/latest/meta-data/"
    response = client.post(URL, json={"file": files.base + "/redirect-to/" + target})
    assert response.status_code == 422
    assert "address is not allowed" in response.json()["errorMsg"]


@pytest.fixture(scope="module")
def guarded() -> Iterator[str]:
    """The service's default guard (no allow-list), a 200 kB download cap, no models."""
    pipeline = DocPreprocessor(use_doc_orientation_classify=False, use_doc_unwarping=False,
                               paddlex_config={"Limits": {"max_file_bytes": 200_000}})
    with running(create_app(pipeline)) as url:
        yield url


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "[::1]", "[::ffff:127.0.0.1]", "10.0.0.1", "169.254.169.254"])
def test_private_addresses_are_refused_without_the_allow_list(guarded: str, files: FileServer, host: str) -> None:
    port = files.base.rsplit(":", 1)[1]
    before = len(files.seen)
    response = httpx.post(guarded + URL, json={"file": f"http://{host}:{port}/page.jpg"}, timeout=60)
    assert response.status_code == 422
    assert response.json()["errorMsg"] == (
        "could not fetch file: the address is not allowed (loopback, private, link-local or reserved)"
    )
    assert len(files.seen) == before  # refused before connecting


def test_download_cap_is_enforced(files: FileServer, page_jpeg: bytes) -> None:
    pipeline = DocPreprocessor(use_doc_orientation_classify=False, use_doc_unwarping=False,
                               paddlex_config={"Limits": {"max_file_bytes": 200_000}})
    with running(create_app(pipeline, settings=ServingSettings(allowed_hosts=("127.0.0.0/8",)))) as url:
        small = httpx.post(url + URL, json={"file": files.base + "/page.jpg", "visualize": False}, timeout=60)
        big = httpx.post(url + URL, json={"file": files.base + "/big.jpg"}, timeout=60)
    assert small.status_code == 200, small.text
    assert big.status_code == 422 and "over the limit of 200000 bytes" in big.json()["errorMsg"]
