"""The `file` field: base64 in the forms clients send, and nothing else taken for a file."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pagefix.errors import InputError
from pagefix.limits import Limits
from pagefix.serving.files import check_file_type, decode_base64, read_file_field


@settings(max_examples=200, deadline=None)
@given(data=st.binary(min_size=1, max_size=512), wrap=st.integers(min_value=0, max_value=80),
       prefix=st.sampled_from(["", "data:image/png;base64,", "DATA:application/pdf;name=a.pdf;base64,"]))
def test_base64_round_trips_with_prefix_and_line_breaks(data: bytes, wrap: int, prefix: str) -> None:
    text = base64.b64encode(data).decode("ascii")
    if wrap:
        text = "\r\n".join(text[i:i + wrap] for i in range(0, len(text), wrap))
    assert decode_base64(prefix + text) == data


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=200))
def test_any_text_decodes_or_is_an_input_error(text: str) -> None:
    try:
        data = decode_base64(text)
    except InputError:
        return
    body = "".join(text.split()).split(",")[-1]  # what is left after a data: prefix and line breaks
    assert data and set(body) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=")
    assert len(data) == len(body) * 3 // 4 - body.count("=")


def test_url_like_strings_are_never_decoded_as_base64() -> None:
    for text in ("ftp://host/file", "file:///etc/passwd", "gopher://x/"):
        with pytest.raises(InputError, match="only http:// and https://"):
            read_file_field(text, Limits())
    with pytest.raises(InputError, match="invalid URL 'http://': it has no host"):
        read_file_field("http://", Limits())


def test_file_type_is_checked_against_the_bytes() -> None:
    assert check_file_type(b"%PDF-1.7\n", 0) == "pdf"
    assert check_file_type(b"\x89PNG\r\n\x1a\n....", None) == "png"
    with pytest.raises(InputError, match="fileType is 0"):
        check_file_type(b"\x89PNG\r\n\x1a\n....", 0)
    with pytest.raises(InputError, match="fileType is 1"):
        check_file_type(b"%PDF-1.7\n", 1)
