"""Untrusted input over real HTTP: every refusal is a 4xx with errorCode == status and a message
that names the problem; a server-side failure is a bare 500 whose detail is only in the log."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import httpx
import pytest
from PIL import Image
from support.serving import b64, encode, running

from pagefix import DocPreprocessor
from pagefix.serving import create_app

URL = "/document-preprocessing"
FAST = {"visualize": False, "useDocOrientationClassify": False, "useDocUnwarping": False}


def encrypted_pdf() -> bytes:
    """A one-page PDF under the standard security handler with a user password (not the empty one)."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] >>",
        b"<< /Filter /Standard /V 1 /R 2 /O <" + b"ab" * 32 + b"> /U <" + b"cd" * 32 + b"> /P -4 >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R /Encrypt 4 0 R /ID [<%s> <%s>] >>\n" % (
        len(objects) + 1, b"01" * 16, b"01" * 16)
    out += b"startxref\n%d\n%%%%EOF\n" % xref
    return bytes(out)


def png_bomb() -> bytes:
    """121 MP of 1-bit pixels in 15 KB: over the 100 MP default."""
    return encode(Image.new("1", (11000, 11000)), "PNG")


def expect(response: httpx.Response, status: int, *needles: str) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"logId", "errorCode", "errorMsg"}
    assert body["errorCode"] == status
    message = body["errorMsg"]
    for needle in needles:
        assert needle.lower() in message.lower(), message
    assert "Traceback" not in message and 'File "' not in message
    return message


@pytest.mark.parametrize(
    ("body", "needles"),
    [
        ({}, ["file", "Field required"]),
        ({"file": 12}, ["file", "string"]),
        ({"file": "aGk=", "fileType": 2}, ["fileType", "0 or 1"]),
        ({"file": "aGk=", "visualize": "sometimes"}, ["visualize", "bool"]),
        ([1, 2], ["request body"]),
    ],
)
def test_body_schema_errors_are_422_with_a_readable_message(client: httpx.Client, body, needles) -> None:  # type: ignore[no-untyped-def]
    expect(client.post(URL, json=body), 422, *needles)


def test_not_json_is_422(client: httpx.Client) -> None:
    expect(client.post(URL, content=b"{not json", headers={"content-type": "application/json"}),
           422, "not valid JSON")


def test_json_nested_too_deep_is_400(client: httpx.Client) -> None:
    body = b"[" * 200_000 + b"]" * 200_000
    expect(client.post(URL, content=body, headers={"content-type": "application/json"}), 400, "parsing the body")


@pytest.mark.parametrize(
    ("file", "needles"),
    [
        ("", ["file is empty"]),
        ("   \n", ["file is empty"]),
        ("this is not base64!", ["not valid base64"]),
        ("aGVsbG8", ["not valid base64"]),  # padding missing
        ("héllo", ["non-ASCII"]),
        ("data:text/plain,hello", ["data URI", "base64"]),
        ("ftp://example.com/page.jpg", ["http"]),
        ("file:///etc/passwd", ["http"]),
        ("http://", ["http"]),
    ],
)
def test_unusable_file_field_is_422(client: httpx.Client, file: str, needles: list[str]) -> None:
    expect(client.post(URL, json={"file": file, **FAST}), 422, *needles)


def test_data_uri_prefix_is_accepted(client: httpx.Client, page_jpeg: bytes) -> None:
    response = client.post(URL, json={"file": "data:image/jpeg;base64," + b64(page_jpeg), **FAST})
    assert response.status_code == 200, response.text
    assert response.json()["result"]["dataInfo"]["type"] == "image"


def test_base64_with_line_breaks_is_accepted(client: httpx.Client, page_jpeg: bytes) -> None:
    text = b64(page_jpeg)
    wrapped = "\n".join(text[i:i + 76] for i in range(0, len(text), 76))
    assert client.post(URL, json={"file": wrapped, **FAST}).status_code == 200


@pytest.mark.parametrize(
    ("data", "needles"),
    [
        (b"hello world, not an image", ["unsupported file format"]),
        (b"<svg xmlns='http://www.w3.org/2000/svg'/>", ["SVG"]),
        (b"%!PS-Adobe-3.0\n", ["PostScript"]),
        (b"\xff\xd8\xff\xe0" + b"\x00" * 64, ["cannot decode", "JPEG"]),
        (b"%PDF-1.4\nnot really a pdf", ["not a readable PDF"]),
    ],
)
def test_undecodable_or_unsupported_files_are_422_naming_the_problem(client: httpx.Client, data: bytes, needles) -> None:  # type: ignore[no-untyped-def]
    expect(client.post(URL, json={"file": b64(data), **FAST}), 422, *needles)


def test_truncated_jpeg_is_422(client: httpx.Client, page_jpeg: bytes) -> None:
    expect(client.post(URL, json={"file": b64(page_jpeg[: len(page_jpeg) // 3]), **FAST}), 422, "truncated")


def test_encrypted_pdf_is_422(client: httpx.Client) -> None:
    expect(client.post(URL, json={"file": b64(encrypted_pdf()), "fileType": 0, **FAST}), 422, "password protected")


def test_decompression_bomb_is_refused_from_the_header(client: httpx.Client) -> None:
    expect(client.post(URL, json={"file": b64(png_bomb()), **FAST}), 422, "121.0 MP", "over the limit")


@pytest.mark.parametrize(
    ("file_type", "pdf", "needles"),
    [(1, True, ["fileType is 1", "is a PDF"]), (0, False, ["fileType is 0", "JPEG"])],
)
def test_wrong_file_type_is_422(client: httpx.Client, page_jpeg: bytes, make_pdf, file_type, pdf, needles) -> None:  # type: ignore[no-untyped-def]
    data = make_pdf(1) if pdf else page_jpeg
    expect(client.post(URL, json={"file": b64(data), "fileType": file_type, **FAST}), 422, *needles)


def test_unknown_route_and_method_use_the_envelope(client: httpx.Client) -> None:
    expect(client.get("/nope"), 404, "Not Found")
    expect(client.get(URL), 405, "Method Not Allowed")


@pytest.fixture(scope="module")
def no_models_server() -> Iterator[str]:
    """A real pipeline started with both stages off (no model loaded) and a 0.1 MP pixel limit."""
    pipeline = DocPreprocessor(use_doc_orientation_classify=False, use_doc_unwarping=False,
                               paddlex_config={"Limits": {"max_pixels": 100_000}})
    with running(create_app(pipeline)) as url:
        yield url


def test_stage_switched_off_at_startup_cannot_be_asked_for(no_models_server: str, page_jpeg: bytes) -> None:
    response = httpx.post(no_models_server + URL, json={"file": b64(page_jpeg), "useDocUnwarping": True})
    expect(response, 422, "useDocUnwarping is not available")


def test_pixel_limit_comes_from_the_limits_section(no_models_server: str, page_jpeg: bytes) -> None:
    response = httpx.post(no_models_server + URL, json={"file": b64(page_jpeg)})
    expect(response, 422, "596x794", "over the limit of 0.1 MP")
    small = encode(Image.open(io.BytesIO(page_jpeg)).resize((200, 266)))
    ok = httpx.post(no_models_server + URL, json={"file": b64(small), "visualize": False})
    assert ok.status_code == 200
    assert ok.json()["result"]["docPreprocessingResults"][0]["prunedResult"]["angle"] == -1


class BrokenPipeline:
    """The real pipeline's settings, but processing fails the way a bug would."""

    def __init__(self, real: DocPreprocessor) -> None:
        self.config = real.config
        self.limits = real.limits

    def process_pages(self, pages, settings):  # type: ignore[no-untyped-def]
        raise RuntimeError("secret detail: /srv/models/model.onnx")


def test_server_failure_is_a_bare_500_with_the_detail_in_the_log(pipeline, page_jpeg: bytes, caplog) -> None:  # type: ignore[no-untyped-def]
    with caplog.at_level(logging.ERROR, logger="pagefix.serving"), running(create_app(BrokenPipeline(pipeline))) as url:
        response = httpx.post(url + URL, json={"file": b64(page_jpeg)})
        assert httpx.get(url + "/health").status_code == 200  # still serving
    message = expect(response, 500)
    assert message == "Internal server error"
    assert "secret" not in response.text
    log_id = response.json()["logId"]
    logged = [r for r in caplog.records if log_id in r.getMessage()]
    assert logged and logged[0].exc_info and "secret detail" in str(logged[0].exc_info[1])
