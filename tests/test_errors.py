"""The error tree's attributes, raised for real: the limit that was hit and by how much, why a URL
could not be fetched, and the HTTP status each error maps to. Front ends read these, not the
message, so the tests read them too."""

from __future__ import annotations

import io
import pickle
import socket
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler

import numpy as np
import pytest
from PIL import Image
from support.fetch_server import serving

import pagefix
from pagefix import errors
from pagefix.errors import FETCH_REASONS, FetchError, LimitExceededError, OutputError, PagefixError
from pagefix.geometry.resample import apply_grid
from pagefix.inputs import PageFailure, iter_pages
from pagefix.inputs.decode import decode_image
from pagefix.inputs.fetch import fetch_url
from pagefix.inputs.pdf import pdf_render_scale
from pagefix.inputs.probe import check_structure
from pagefix.limits import Limits

# The statuses `pagefix serve` answered with before errors carried them: InputError and its
# subclasses 422, every other PagefixError a bare 500.
STATUS_BEFORE = {
    "PagefixError": 500,
    "InputError": 422,
    "UnsupportedFormatError": 422,
    "LimitExceededError": 422,
    "PasswordProtectedError": 422,
    "FetchError": 422,
    "ModelStoreError": 500,
    "ChecksumError": 500,
    "ConfigError": 500,
    "DeviceError": 500,
    "OutputError": 500,
    "OcrError": 500,
}


def png(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("L", (width, height), 200).save(buffer, "PNG")
    return buffer.getvalue()


def test_every_error_class_has_the_status_the_service_answered_before() -> None:
    classes = {name: getattr(errors, name) for name in errors.__all__
               if isinstance(getattr(errors, name), type)}
    assert set(classes) == set(STATUS_BEFORE)
    assert {name: cls.http_status for name, cls in classes.items()} == STATUS_BEFORE


# -- LimitExceededError ---------------------------------------------------------------------------

def test_pixel_limit_names_itself_with_value_and_actual() -> None:
    with pytest.raises(LimitExceededError) as caught:
        list(decode_image(png(3000, 2000), Limits(max_pixels=5_000_000)))
    error = caught.value
    assert (error.limit, error.value, error.actual) == ("max_pixels", 5_000_000, 6_000_000)
    assert error.http_status == 422


def test_pixel_limit_through_the_public_api_keeps_its_attributes() -> None:
    pipeline = pagefix.DocPreprocessor(use_doc_orientation_classify=False, use_doc_unwarping=False,
                                       paddlex_config={"Limits": {"max_pixels": 100_000}})
    with pytest.raises(LimitExceededError) as caught:
        pipeline.predict(png(400, 300))
    assert (caught.value.limit, caught.value.value, caught.value.actual) == ("max_pixels", 100_000, 120_000)
    (failure,) = pipeline.predict(png(400, 300), errors="yield")
    assert isinstance(failure, PageFailure) and isinstance(failure.error, LimitExceededError)
    assert failure.error.limit == "max_pixels"


def test_file_size_limit_on_bytes_and_on_a_file(tmp_path) -> None:  # type: ignore[no-untyped-def]
    data = png(40, 30)
    limits = Limits(max_file_bytes=len(data) - 1)
    (from_bytes,) = iter_pages(data, limits)
    path = tmp_path / "page.png"
    path.write_bytes(data)
    (from_file,) = iter_pages(str(path), limits)
    for failure in (from_bytes, from_file):
        assert isinstance(failure, PageFailure)
        error = failure.error
        assert isinstance(error, LimitExceededError)
        assert (error.limit, error.value, error.actual) == ("max_file_bytes", len(data) - 1, len(data))


def test_jpeg_scan_limit_counts_the_scans() -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (64, 64), (90, 120, 200)).save(buffer, "JPEG", progressive=True)
    with pytest.raises(LimitExceededError) as caught:
        check_structure(buffer.getvalue(), "jpeg", Limits(max_jpeg_scans=2))
    assert caught.value.limit == "max_jpeg_scans" and caught.value.value == 2
    assert caught.value.actual is not None and caught.value.actual > 2


def test_pdf_page_too_large_even_at_the_smallest_scale() -> None:
    limits = Limits(max_pixels=1_000_000, pdf_min_render_scale=0.01)
    with pytest.raises(LimitExceededError) as caught:
        pdf_render_scale(1e7, 1e7, limits)
    error = caught.value
    assert error.limit == "pdf_min_render_scale" and error.value == 0.01
    assert error.actual is not None and 0 <= error.actual < 0.01


def test_remap_side_is_a_fixed_bound() -> None:
    image = np.zeros((8, 8, 3), np.uint8)
    grid = np.zeros((2, 3, 3), np.float32)
    with pytest.raises(LimitExceededError) as caught:
        apply_grid(image, grid, out_shape=(40_000, 8))
    assert (caught.value.limit, caught.value.value, caught.value.actual) == ("max_remap_side", 32767, 40_000)


# -- FetchError -------------------------------------------------------------------------------------

def test_blocked_address_is_a_reason_and_no_connection_is_made() -> None:
    with socket.socket() as listener:  # would see a connection if one were made
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        listener.settimeout(0.2)
        url = f"http://127.0.0.1:{listener.getsockname()[1]}/page.png"
        with pytest.raises(FetchError) as caught:
            fetch_url(url, Limits(allow_private_urls=False))
        with pytest.raises(socket.timeout):
            listener.accept()
    assert (caught.value.reason, caught.value.url, caught.value.status_code) == ("blocked_address", url, None)


def test_not_http_is_the_scheme_reason() -> None:
    with pytest.raises(FetchError) as caught:
        fetch_url("ftp://127.0.0.1/page.png", Limits())
    assert caught.value.reason == "scheme" and caught.value.url == "ftp://127.0.0.1/page.png"


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - the http.server hook
        if self.path == "/missing":
            self._answer(404)
        elif self.path.startswith("/hop/"):
            left = int(self.path.rsplit("/", 1)[1])
            self._answer(302, {"Location": f"/hop/{left - 1}" if left > 1 else "/ok"})
        elif self.path == "/brotli":
            self._answer(200, {"Content-Encoding": "br"}, b"\x00" * 16)
        elif self.path == "/huge":
            self._answer(200, {"Content-Length": str(10**12)})
        elif self.path == "/slow":
            time.sleep(1.0)
            self._answer(200, body=b"late")
        else:
            self._answer(200, body=png(4, 4))

    def _answer(self, status: int, headers: dict[str, str] | None = None, body: bytes = b"") -> None:
        self.send_response(status)
        headers = {"Content-Length": str(len(body)), **(headers or {})}
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        if body:
            self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def web() -> Iterator[str]:
    with serving(_Handler) as url:
        yield url


def test_http_status_is_a_reason_with_the_code(web: str) -> None:
    with pytest.raises(FetchError) as caught:
        fetch_url(f"{web}/missing", Limits())
    assert (caught.value.reason, caught.value.status_code, caught.value.url) == ("status", 404, f"{web}/missing")


def test_too_many_redirects_names_the_last_url(web: str) -> None:
    assert fetch_url(f"{web}/hop/2", Limits(max_redirects=2)) == png(4, 4)
    with pytest.raises(FetchError) as caught:
        fetch_url(f"{web}/hop/3", Limits(max_redirects=1))
    assert caught.value.reason == "redirects" and caught.value.url == f"{web}/hop/1"  # where it was sent next


def test_unsupported_content_encoding(web: str) -> None:
    with pytest.raises(FetchError) as caught:
        fetch_url(f"{web}/brotli", Limits())
    assert caught.value.reason == "encoding"


def test_slow_server_is_the_timeout_reason(web: str) -> None:
    with pytest.raises(FetchError) as caught:
        fetch_url(f"{web}/slow", Limits(fetch_timeout=0.2))
    assert caught.value.reason == "timeout" and caught.value.url == f"{web}/slow"


def test_nothing_listening_is_the_connect_reason() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again below: nothing listens there
    with pytest.raises(FetchError) as caught:
        fetch_url(f"http://127.0.0.1:{port}/page.png", Limits())
    assert caught.value.reason == "connect"


def test_an_oversized_download_is_the_file_size_limit(web: str) -> None:
    with pytest.raises(LimitExceededError) as caught:
        fetch_url(f"{web}/huge", Limits(max_file_bytes=1000))
    assert (caught.value.limit, caught.value.value, caught.value.actual) == ("max_file_bytes", 1000, 10**12)


def test_every_reason_is_documented() -> None:
    for reason in FETCH_REASONS:
        assert f'`"{reason}"`' in (errors.__doc__ or ""), reason


# -- attributes survive copies --------------------------------------------------------------------

def test_attributes_survive_pickling_with_message_and_raise_error() -> None:
    limit = LimitExceededError("too big", limit="max_pixels", value=10, actual=12)
    fetch = FetchError("refused", reason="blocked_address", url="http://10.0.0.1/", status_code=None)
    for error in (limit, fetch):
        for copy in (pickle.loads(pickle.dumps(error)), error.with_message("page.png: " + str(error))):
            assert type(copy) is type(error) and copy.__dict__ == error.__dict__
        with pytest.raises(type(error)) as caught:
            PageFailure("scan.pdf", 3, error).raise_error()
        assert caught.value.__dict__ == error.__dict__
        assert str(caught.value) == f"scan.pdf (page 3): {error}" and caught.value.__cause__ is error
    assert str(limit.with_message("other words")) == "other words" and str(limit) == "too big"


def test_existing_raise_sites_need_no_attributes() -> None:
    bare = LimitExceededError("over")
    assert (bare.limit, bare.value, bare.actual) == (None, None, None)
    assert (FetchError("no").reason, FetchError("no").url) == (None, None)
    assert isinstance(OutputError("disk full"), PagefixError)
