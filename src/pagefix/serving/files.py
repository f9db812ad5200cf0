"""The request's `file` field to file bytes: base64 (a `data:` URI prefix allowed) or an http(s) URL
fetched by the input layer under the service's limits; and the `fileType` check against the content."""

from __future__ import annotations

import base64
import binascii
import re

from ..errors import InputError
from ..inputs import fetch_url, is_url, sniff_format
from ..limits import Limits

__all__ = ["FILE_TYPES", "check_file_type", "read_file_field"]

#: The API's fileType values.
FILE_TYPES = {0: "PDF", 1: "image"}

# Bounded so a long string without a comma is not scanned twice.
_DATA_URI = re.compile(r"data:[^,;]{0,100}(?:;[^,;]{1,100}){0,8}?;base64,", re.IGNORECASE)
_ANY_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]{0,30}://")
_WHITESPACE = b" \t\r\n"
_STEP = 4 * 1024 * 1024  # a multiple of 4: base64 decodes chunk by chunk


def read_file_field(file: str, limits: Limits) -> tuple[bytes, str | None]:
    """Return (the file's bytes, the URL it came from or None for base64)."""
    if is_url(file):
        return fetch_url(file, limits), file
    if _ANY_SCHEME.match(file):
        raise InputError(
            "file is a URL that cannot be fetched: only http:// and https:// URLs with a host are accepted"
        )
    return decode_base64(file), None


def decode_base64(text: str) -> bytes:
    """Standard base64 (padding required; line breaks allowed), optionally behind `data:...;base64,`.

    Done a few megabytes at a time: each step holds the GIL, and one step over a 60 MB field would
    keep the event loop (and health checks) waiting for a second or more.
    """
    head = _DATA_URI.match(text)
    if head:
        text = text[head.end():]
    elif text[:5].lower() == "data:":
        raise InputError("file is a data URI without ';base64,': only base64 data URIs are accepted")
    if not text.isascii():
        raise InputError("file is not valid base64 (nor an http(s) URL): it has non-ASCII characters")
    raw = b"".join(text[i:i + _STEP].encode("ascii").translate(None, _WHITESPACE)
                   for i in range(0, len(text), _STEP))
    del text
    padding = raw.find(b"=")
    if padding != -1 and padding < len(raw) - 2:
        raise InputError("file is not valid base64 (nor an http(s) URL)")  # '=' only at the very end
    try:
        data = b"".join(base64.b64decode(raw[i:i + _STEP], validate=True) for i in range(0, len(raw), _STEP))
    except (binascii.Error, ValueError):
        raise InputError("file is not valid base64 (nor an http(s) URL)") from None
    if not data:
        raise InputError("file is empty")
    return data


def check_file_type(data: bytes, file_type: int | None) -> str:
    """The file's format from its bytes (`inputs.sniff_format`), refused when `fileType` says otherwise."""
    fmt = sniff_format(data[:1024])
    if file_type == 0 and fmt != "pdf":
        raise InputError(f"fileType is 0 (PDF) but the file is a {fmt.upper()} image")
    if file_type == 1 and fmt == "pdf":
        raise InputError("fileType is 1 (image) but the file is a PDF")
    return fmt
