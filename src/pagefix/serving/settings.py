"""The service's settings: the `Serving:` section of a pipeline YAML, with every default in one place.

    Serving:
      visualize: true                  # reference: return docPreprocessingImage/inputImage by default
      extra:
        max_num_input_imgs: 10         # reference: PDF pages / TIFF frames per request; null = all
        max_output_img_size: null      # reference key; pagefix default: full resolution
      # pagefix's own keys
      workers: 2                       # inference threads
      max_queue: 8                     # admitted requests waiting for a worker
      request_timeout: 120             # seconds from admission to answer
      body_timeout: 60                 # seconds to receive the request body
      max_request_bytes: 67108864      # request body cap (64 MiB)
      max_request_pixels: 200000000    # pixels of all pages of one request (200 MP); null = no budget
      retry_after: 5                   # seconds, in the Retry-After header of a 503
      allow_private_urls: false        # let URL inputs reach private/loopback addresses
      allowed_hosts: []                # hosts or networks URL inputs may reach even so
      api_keys_file: null              # one API key a line; when set, requests need a key (SIGHUP reloads)
      metrics_public: false            # let /metrics answer without a key
      allow_anonymous: false           # no key on a non-loopback address is on purpose: no warning
      cors_origins: []                 # browser origins allowed to call the API (CORS); none by default
      ui: true                         # the web page at / (pagefix serve --no-ui: off)
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from typing import Any

from ..errors import ConfigError
from ..limits import Limits, did_you_mean

__all__ = ["ServingSettings"]

logger = logging.getLogger(__name__)

_MiB = 1024 * 1024

# Reference keys that select features pagefix does not have (object storage, URLs instead of base64).
_IGNORED_EXTRA = {"file_storage", "url_expires_in"}


def _refuse_unknown(where: str, section: dict[str, Any], known: list[str]) -> None:
    """The pipeline YAML's wording for a key nobody reads (`pagefix.pipeline.settings`)."""
    for key in sorted(map(str, section)):
        if key not in known:
            path = where + key
            hint = did_you_mean(path, [where + k for k in known]) or f" (known here: {', '.join(known)})"
            raise ConfigError(f"unknown key {path!r} in the pipeline configuration{hint}")


@dataclass(frozen=True)
class ServingSettings:
    #: Return the visualisation and the input page when a request leaves `visualize` null.
    visualize: bool = True
    #: PDF pages (or TIFF frames) processed per request; None: all. The reference's default is 10.
    max_num_input_imgs: int | None = 10
    #: (width, height) every returned image is shrunk to fit, or None for full resolution. The
    #: reference shrinks to 2000x2000; pagefix returns what it computed unless asked.
    max_output_img_size: tuple[int, int] | None = None
    #: Threads running requests (decode, models, encode). Model sessions are shared between them.
    workers: int = 2
    #: Admitted requests that may wait for a free worker; beyond them the service answers 503.
    max_queue: int = 8
    #: Seconds from admission to the answer (504 after that; the job stops at its next page).
    request_timeout: float = 120.0
    #: Seconds a client may take to send its request body (408 after that).
    body_timeout: float = 60.0
    #: Bytes of request body; counted while reading, before any JSON parsing (413 above it).
    max_request_bytes: int = 64 * _MiB
    #: Pixels of all the pages of one request together (width x height, PDF pages as rendered),
    #: read from the headers and page boxes before any page is decoded; 413 above it. None: no
    #: budget. 200 MP is two pages at the per-page limit (`Limits.max_pixels`), or ten 20 MP photos.
    max_request_pixels: int | None = 200_000_000
    #: Seconds suggested to a shed client in `Retry-After`.
    retry_after: int = 5
    #: Whether URL inputs may reach loopback, private, link-local or reserved addresses.
    allow_private_urls: bool = False
    #: Host names, addresses or networks (CIDR) URL inputs may reach even when private ones are refused.
    allowed_hosts: tuple[str, ...] = ()
    #: File of API keys, one a line (`#` comments); when set (or PAGEFIX_API_KEYS is), every request
    #: but the public ones (health, readiness, the web page) needs a key. Read again on SIGHUP.
    api_keys_file: str | None = None
    #: Whether /metrics answers without a key when keys are required.
    metrics_public: bool = False
    #: Whether serving on a non-loopback address without a key is on purpose (no start-up warning).
    allow_anonymous: bool = False
    #: Origins (`https://app.example.com`, or `*`) whose pages may call the API from a browser.
    cors_origins: tuple[str, ...] = ()
    #: Serve the web page at `/` (its files under `/ui/`); off for API-only deployments.
    ui: bool = True

    @classmethod
    def from_config(cls, serving: dict[str, Any] | None, **overrides: Any) -> ServingSettings:
        """Read a `Serving:` section; non-None `overrides` (command-line flags) win over it."""
        section = dict(serving or {})
        extra = section.pop("extra", None) or {}
        if not isinstance(extra, dict):
            raise ConfigError("Serving.extra must be a mapping")
        extra = dict(extra)  # popped from below: the caller's section stays as it was
        if section.pop("return_urls", False) or extra.get("return_img_urls"):
            raise ConfigError("Serving.return_urls is not supported: pagefix always returns images inline (base64)")
        values: dict[str, Any] = {}
        for key in ("max_num_input_imgs", "max_output_img_size"):
            if key in extra:
                values[key] = extra.pop(key)
        extra.pop("return_img_urls", None)
        for key in sorted(set(extra) & _IGNORED_EXTRA):
            logger.warning("Serving.extra.%s is not supported by pagefix and is ignored", key)
            extra.pop(key)
        _refuse_unknown("Serving.extra.", extra, ["max_num_input_imgs", "max_output_img_size", "return_img_urls",
                                                 *sorted(_IGNORED_EXTRA)])
        known = [f.name for f in dataclasses.fields(cls) if f.name not in ("max_num_input_imgs", "max_output_img_size")]
        _refuse_unknown("Serving.", section, [*known, "extra", "return_urls"])
        values.update(section)
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls._checked(values)

    @classmethod
    def _checked(cls, values: dict[str, Any]) -> ServingSettings:
        try:
            settings = cls(**values)
        except TypeError as exc:
            raise ConfigError(f"invalid Serving section: {exc}") from exc
        return settings._normalised()

    def _normalised(self) -> ServingSettings:
        size = self.max_output_img_size
        if size is not None:
            if isinstance(size, int) and not isinstance(size, bool):
                size = (size, size)
            if (not isinstance(size, (list, tuple)) or len(size) != 2
                    or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in size)):
                raise ConfigError("Serving.extra.max_output_img_size must be [width, height] in pixels, or null")
            size = (int(size[0]), int(size[1]))
        pages = self.max_num_input_imgs
        if pages is not None and (isinstance(pages, bool) or not isinstance(pages, int) or pages < 1):
            raise ConfigError("Serving.extra.max_num_input_imgs must be a positive integer, or null for no limit")
        hosts = self.allowed_hosts
        if isinstance(hosts, str):
            hosts = tuple(h.strip() for h in hosts.split(",") if h.strip())
        if not isinstance(hosts, (list, tuple)) or not all(isinstance(h, str) and h for h in hosts):
            raise ConfigError("Serving.allowed_hosts must be a list of host names, addresses or networks")
        origins = self.cors_origins
        if isinstance(origins, str):
            origins = (origins,)
        if not isinstance(origins, (list, tuple)) or not all(isinstance(o, str) for o in origins):
            raise ConfigError("Serving.cors_origins must be a list of origins (scheme://host[:port]) or *")
        origins = tuple(dict.fromkeys(_origin(o) for o in origins))
        keys_file = self.api_keys_file
        if keys_file is not None and (not isinstance(keys_file, str) or not keys_file.strip()):
            raise ConfigError("Serving.api_keys_file must be the path of a file of API keys, or null")
        budget = self.max_request_pixels
        if budget is not None and (isinstance(budget, bool) or not isinstance(budget, int) or budget < 1):
            raise ConfigError("Serving.max_request_pixels must be a positive integer, or null for no budget")
        for name in ("workers", "max_request_bytes", "retry_after"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ConfigError(f"Serving.{name} must be a positive integer")
        if isinstance(self.max_queue, bool) or not isinstance(self.max_queue, int) or self.max_queue < 0:
            raise ConfigError("Serving.max_queue must be an integer >= 0")
        for name in ("request_timeout", "body_timeout"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
                raise ConfigError(f"Serving.{name} must be a number of seconds > 0")
        for name in ("visualize", "allow_private_urls", "metrics_public", "allow_anonymous", "ui"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(f"Serving.{name} must be true or false")
        return dataclasses.replace(
            self, max_output_img_size=size, allowed_hosts=tuple(str(h) for h in hosts), cors_origins=origins,
            request_timeout=float(self.request_timeout), body_timeout=float(self.body_timeout),
        )

    def input_limits(self, base: Limits) -> Limits:
        """The pipeline's limits as the service applies them to strangers' inputs."""
        return base.replace(
            allow_private_urls=self.allow_private_urls,
            allowed_hosts=tuple(dict.fromkeys(base.allowed_hosts + self.allowed_hosts)),
            max_pdf_pages=self.max_num_input_imgs,
        )


def _origin(text: str) -> str:
    """A browser origin as browsers send it (`https://host[:port]`, no path), or `*`."""
    origin = text.strip().rstrip("/")
    if origin == "*":
        return origin
    scheme, sep, rest = origin.partition("://")
    if scheme.lower() not in ("http", "https") or not sep or not rest or any(c in rest for c in "/?#@ "):
        raise ConfigError(f"CORS origin {text!r} must be scheme://host[:port] (e.g. https://app.example.com) or *")
    return f"{scheme.lower()}://{rest.lower()}"
