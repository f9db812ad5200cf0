"""The one error tree of pagefix; front ends translate it (CLI: a line and an exit code, HTTP: 4xx).

    PagefixError                   anything pagefix raises on purpose
    ├── InputError                 a source cannot be read, decoded or is not allowed
    │   ├── UnsupportedFormatError the bytes are not an allowed image or PDF format
    │   ├── LimitExceededError     a configured limit (pixels, bytes, pages, frames) was hit
    │   ├── PasswordProtectedError the PDF is encrypted
    │   └── FetchError             a URL could not be fetched (status, timeout, size, blocked address)
    ├── ModelStoreError            a model cannot be found, fetched or loaded
    │   └── ChecksumError          a model file does not match its pinned SHA-256
    ├── ConfigError                a setting or configuration file is invalid
    ├── DeviceError                a requested device or execution provider is not available
    ├── OutputError                a result could not be written (read-only or full disk, bad path)
    └── OcrError                   tesseract is missing or failed on a page (evaluation only)
"""

from __future__ import annotations

__all__ = [
    "ChecksumError",
    "ConfigError",
    "DeviceError",
    "FetchError",
    "InputError",
    "LimitExceededError",
    "ModelStoreError",
    "OcrError",
    "OutputError",
    "PagefixError",
    "PasswordProtectedError",
    "UnsupportedFormatError",
]


class PagefixError(Exception):
    """Base class of every error pagefix raises on purpose."""


class InputError(PagefixError):
    """A source could not be turned into pages."""


class UnsupportedFormatError(InputError):
    """The bytes are not one of the allowed formats."""


class LimitExceededError(InputError):
    """A configured limit was exceeded; the message names the limit and how to raise it."""


class PasswordProtectedError(InputError):
    """The PDF is encrypted."""


class FetchError(InputError):
    """A URL could not be fetched."""


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
