"""The one error tree of pagefix; front ends translate it by type and attributes, never by message.

    PagefixError                   anything pagefix raises on purpose                      HTTP 500
    ├── InputError                 a source cannot be read, decoded or is not allowed       HTTP 422
    │   ├── UnsupportedFormatError the bytes are not an allowed image or PDF format         HTTP 422
    │   ├── LimitExceededError     a limit (pixels, bytes, JPEG scans, sides) was hit       HTTP 422
    │   ├── PasswordProtectedError the PDF is encrypted                                     HTTP 422
    │   └── FetchError             a URL could not be fetched (status, timeout, address)    HTTP 422
    ├── ModelStoreError            a model cannot be found, fetched or loaded               HTTP 500
    │   └── ChecksumError          a model file does not match its pinned SHA-256           HTTP 500
    ├── ConfigError                a setting or configuration file is invalid               HTTP 500
    ├── DeviceError                a requested device or execution provider is not there    HTTP 500
    ├── OutputError                a result could not be written (read-only or full disk)   HTTP 500
    └── OcrError                   tesseract is missing or failed on a page (evaluation)    HTTP 500

Attributes a caller can rely on (the message is for people and may change):

- every error: `http_status`, a class attribute, the status `pagefix serve` answers with. 422
  means the request's file is the problem and the message is shown to the client; 500 means a
  server-side failure: the client reads "Internal server error" and the detail goes to the log.
- `LimitExceededError`: `limit`, the name of the limit that was hit: a `Limits` field
  (`"max_pixels"`, `"max_file_bytes"`, `"max_jpeg_scans"`, `"pdf_min_render_scale"`: a PDF page
  too large for `max_pixels` even at the smallest render scale) or a fixed bound that no setting
  changes (`"max_remap_side"`: the longest page side unwarping can resample, `"max_tiff_strips"`:
  strips or tiles in one TIFF frame, `"memory"`: the machine ran out of memory decoding); `value`,
  the limit's value (None for `"memory"`); `actual`, what the input needed in the same unit (pixels,
  bytes, scans, render scale, pixels of a side, strips), or None where it is not known. Pages past
  `max_pdf_pages` and frames past `max_frames` are skipped with a warning, not refused.
- `FetchError`: `reason`, one of `FETCH_REASONS`: `"scheme"` (not an http(s) URL),
  `"invalid_url"` (the URL cannot be read unambiguously: its host, port or length), `"status"`
  (the server answered an HTTP error; `status_code` holds it), `"blocked_address"` (the host
  resolves to a loopback, private, link-local or reserved address and those are refused),
  `"timeout"` (a read or the whole download took too long), `"connect"` (the name did not
  resolve, the connection failed or broke), `"redirects"` (more than `Limits.max_redirects`),
  `"encoding"` (an unsupported or corrupt Content-Encoding); `url`, the URL being fetched when it
  failed, after redirects (for `"redirects"`, the one it was sent to next; None where not known);
  `status_code`, the server's HTTP status for `"status"` (else None). A download over
  `Limits.max_file_bytes` raises `LimitExceededError` with `limit == "max_file_bytes"`, not
  `FetchError`.

Errors keep their attributes through pickling (the batch runner sends them between processes)
and through `PagefixError.with_message` (which `PageFailure.raise_error` uses).
"""

from __future__ import annotations

import copy
from typing import ClassVar, Literal, TypeVar

__all__ = [
    "FETCH_REASONS",
    "ChecksumError",
    "ConfigError",
    "DeviceError",
    "FetchError",
    "FetchReason",
    "InputError",
    "LimitExceededError",
    "ModelStoreError",
    "OcrError",
    "OutputError",
    "PagefixError",
    "PasswordProtectedError",
    "UnsupportedFormatError",
]

_E = TypeVar("_E", bound="PagefixError")

FetchReason = Literal["scheme", "invalid_url", "status", "blocked_address", "timeout", "connect", "redirects",
                      "encoding"]
#: Every value `FetchError.reason` takes.
FETCH_REASONS: tuple[FetchReason, ...] = (
    "scheme", "invalid_url", "status", "blocked_address", "timeout", "connect", "redirects", "encoding",
)


class PagefixError(Exception):
    """Base class of every error pagefix raises on purpose."""

    #: The HTTP status `pagefix serve` answers with; 500 is a server-side failure whose detail is
    #: logged, not shown.
    http_status: ClassVar[int] = 500

    def with_message(self: _E, message: str) -> _E:
        """A copy of this error with another message (e.g. the source named in front) and the same
        type and attributes; `type(error)(message)` would drop the attributes."""
        error = copy.copy(self)
        error.args = (message,)
        return error


class InputError(PagefixError):
    """A source could not be turned into pages."""

    http_status: ClassVar[int] = 422


class UnsupportedFormatError(InputError):
    """The bytes are not one of the allowed formats."""


class LimitExceededError(InputError):
    """A limit was exceeded; the message names the limit and how to raise it.

    `limit` names it (a `Limits` field, or a fixed bound: see the module docstring), `value` is
    the limit and `actual` what the input needed, where known.

    >>> LimitExceededError("too big", limit="max_pixels", value=100_000_000, actual=120_000_000).limit
    'max_pixels'
    """

    def __init__(self, message: str, *, limit: str | None = None, value: float | None = None,
                 actual: float | None = None) -> None:
        super().__init__(message)
        self.limit = limit
        self.value = value
        self.actual = actual


class PasswordProtectedError(InputError):
    """The PDF is encrypted."""


class FetchError(InputError):
    """A URL could not be fetched; `reason` says why (one of `FETCH_REASONS`), `url` which URL.

    >>> FetchError("could not fetch file: HTTP 404", reason="status", status_code=404).reason
    'status'
    """

    def __init__(self, message: str, *, reason: FetchReason | None = None, url: str | None = None,
                 status_code: int | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.url = url
        #: The server's HTTP status when `reason == "status"`.
        self.status_code = status_code


class ModelStoreError(PagefixError):
    """A model could not be resolved, fetched or loaded."""


class ChecksumError(ModelStoreError):
    """A model file does not match its pinned SHA-256 digest."""


class ConfigError(PagefixError):
    """A setting or a configuration file is invalid."""


class DeviceError(PagefixError):
    """The requested device or execution provider is not available."""


class OutputError(PagefixError):
    """A result could not be written (read-only or full disk, bad path)."""


class OcrError(PagefixError):
    """tesseract is missing or failed on a page (the unwarping evaluation's CER)."""
