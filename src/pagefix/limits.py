"""Every input limit of pagefix, with its default, in one place.

A `Limits` travels from the front end into the input layer. Defaults are chosen so that one page
stays well under 2 GiB of peak memory through the whole pipeline; each can be changed with the
constructor, a pipeline YAML (`Limits:` section) or the environment variable named below.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from .errors import ConfigError

__all__ = ["FALSE_WORDS", "Limits", "TRUE_WORDS", "did_you_mean", "parse_bool"]

#: The spellings of a boolean everywhere pagefix reads one from text (command-line flags,
#: PAGEFIX_* variables, quoted YAML values), any case: the reference's command line takes these.
TRUE_WORDS = ("true", "yes", "t", "y", "1")
FALSE_WORDS = ("false", "no", "f", "n", "0")


def did_you_mean(name: str, known: Iterable[str]) -> str:
    """"; did you mean 'keep_margin'?" when `name` is close to one of `known`, else "": the ending
    of every message that refuses an unknown key, setting, limit, flag or variable value."""
    match = difflib.get_close_matches(name, [str(k) for k in known], n=1)
    return f"; did you mean {match[0]!r}?" if match else ""


def parse_bool(text: str, what: str) -> bool:
    """`text` as a boolean, or a ConfigError naming `what` (a setting or a variable) and the word
    it is closest to: PAGEFIX_ALLOW_PRIVATE_URLS='ture' is not true or false; did you mean 'true'?"""
    value = text.strip().lower()
    if value in TRUE_WORDS:
        return True
    if value in FALSE_WORDS:
        return False
    raise ConfigError(f"{what}={text!r} is not true or false (nor yes/no, 1/0)"
                      + did_you_mean(value, ("true", "false", "yes", "no")))

_MiB = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    """Every input limit, with its default; `Limits.from_env()` reads `PAGEFIX_<FIELD>` overrides.

    An input over a limit raises `LimitExceededError` with the field's name in its `limit`; the
    fetch timeouts raise `FetchError` (`reason="timeout"`), and pages past `max_pdf_pages` or frames
    past `max_frames` are skipped with a warning.

    >>> Limits(max_pixels=50_000_000).replace(max_file_bytes=64 * 1024 * 1024).max_pixels
    50000000
    """

    #: Pixels per decoded image or rendered PDF page (width x height). Checked from the header,
    #: before any decoder allocates; the peak memory it allows is measured in docs/limits.md.
    max_pixels: int = 100_000_000
    #: Bytes per input file, local or downloaded.
    max_file_bytes: int = 512 * _MiB
    #: Frames read from one multi-frame TIFF; later frames are skipped with a warning, as later
    #: PDF pages are. GIF and WebP animations give their first frame only.
    max_frames: int = 1000
    #: Scans in one JPEG. A progressive JPEG has about 10; each scan costs a pass over the whole
    #: image, so a file that repeats its scans thousands of times is a CPU bomb.
    max_jpeg_scans: int = 100
    #: Pages rendered from one PDF (None: no limit). The HTTP service lowers this to 10.
    max_pdf_pages: int | None = 10_000
    #: PDF render scale; 2.0 = 144 DPI like the reference. Raised for a page whose scanned images
    #: are sharper (to their resolution: `inputs/pdf.embedded_image_dpi`), so the rendering is not
    #: blurrier than the file; lowered (with a warning) for a page whose rendered size would exceed
    #: `max_pixels`, which is the cap to set to bound the cost.
    pdf_render_scale: float = 2.0
    #: Pixels of a rendered PDF page: its scale is lowered (with a warning) to stay under this or
    #: `max_pixels`, whichever is smaller. Below `max_pixels` because a page box may claim any size
    #: at no cost in the file; 50 MP holds an A0 sheet (32 MP) at the default scale.
    max_pdf_page_pixels: int = 50_000_000
    #: Smallest scale a PDF page may be lowered to before it is refused.
    pdf_min_render_scale: float = 0.1
    #: Seconds to connect, and between two reads, when fetching a URL.
    fetch_timeout: float = 10.0
    #: Seconds for a whole download (resolving, connecting, every redirect, the first byte and the
    #: whole body), however the server trickles. The same in every front end.
    fetch_deadline: float = 30.0
    #: Characters in a URL given as input (a browser's limit is about 2 MB, a server's 8 KiB).
    max_url_length: int = 8192
    #: Redirects followed per download (each is re-checked).
    max_redirects: int = 3
    #: Whether URLs may resolve to loopback/private/link-local addresses. True for the CLI and
    #: the Python API (your own network); the HTTP service sets False.
    allow_private_urls: bool = True
    #: Hosts (names or addresses) a URL may reach even when private addresses are refused.
    allowed_hosts: tuple[str, ...] = ()

    #: Environment variables that override a default: PAGEFIX_MAX_PIXELS, ...
    ENV_PREFIX = "PAGEFIX_"

    @classmethod
    def from_env(cls, **overrides: Any) -> Limits:
        """Defaults, then `PAGEFIX_<FIELD>` environment variables, then `overrides`."""
        _refuse_unknown(overrides)
        values: dict[str, Any] = {}
        for field in dataclasses.fields(cls):
            raw = os.environ.get(cls.ENV_PREFIX + field.name.upper())
            if raw is not None:
                values[field.name] = _parse(field.name, field.type, raw)
        values.update({k: v for k, v in overrides.items() if v is not None or k == "max_pdf_pages"})
        return cls(**values).validated()

    def replace(self, **changes: Any) -> Limits:
        _refuse_unknown(changes)
        return dataclasses.replace(self, **changes).validated()

    def validated(self) -> Limits:
        for name in ("max_pixels", "max_file_bytes", "max_frames", "max_jpeg_scans", "max_redirects", "max_url_length",
                     "max_pdf_page_pixels"):
            if int(getattr(self, name)) < 0:
                raise ConfigError(f"limit {name} must be >= 0")
        if self.max_pdf_pages is not None and self.max_pdf_pages < 1:
            raise ConfigError("limit max_pdf_pages must be >= 1 or null")
        if not (self.fetch_deadline > 0 and self.fetch_timeout > 0):
            raise ConfigError("fetch_deadline and fetch_timeout must be a number of seconds > 0")
        if not 0 < self.pdf_min_render_scale <= self.pdf_render_scale:
            raise ConfigError("pdf_render_scale must be > 0 and >= pdf_min_render_scale")
        return self


def _refuse_unknown(names: Any) -> None:
    known = [f.name for f in dataclasses.fields(Limits)]
    unknown = sorted(set(names) - set(known))
    if unknown:
        raise ConfigError(f"unknown limit {unknown[0]!r}" + did_you_mean(unknown[0], known))


def _parse(name: str, annotation: Any, raw: str) -> Any:
    text = str(annotation)
    try:
        if text.startswith("bool"):
            return parse_bool(raw, f"environment variable PAGEFIX_{name.upper()}")
        if text.startswith("tuple"):
            return tuple(h.strip() for h in raw.split(",") if h.strip())
        if raw.strip().lower() in {"none", "null", ""} and "None" in text:
            return None
        if text.startswith("float"):
            return float(raw)
        return int(raw)
    except ValueError as exc:
        raise ConfigError(f"environment variable PAGEFIX_{name.upper()}={raw!r} is not valid") from exc
