"""API keys for `pagefix serve`: where they come from (a keys file reloaded on SIGHUP, the
`PAGEFIX_API_KEYS` variable), the ASGI middleware that refuses a request without a valid key
before its body is read, and the start-up check for a service exposed without a key.

Keys are held as SHA-256 digests only and compared in constant time; logs name a key by the
first characters of its digest (`key_id`), never by the key.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import ipaddress
import logging
import os
import socket
from collections.abc import Iterable
from pathlib import Path

from starlette.types import ASGIApp, Receive, Scope, Send

from ..errors import ConfigError
from .metrics import ServiceMetrics
from .responses import error_response, log_id_of

__all__ = [
    "API_KEYS_ENV",
    "ApiKeyMiddleware",
    "ApiKeys",
    "PUBLIC_PATHS",
    "PUBLIC_PREFIXES",
    "exposure_warning",
    "is_loopback",
    "is_public",
    "key_id",
    "presented_keys",
]

logger = logging.getLogger(__name__)

#: Environment variable with comma-separated keys, added to those of the keys file.
API_KEYS_ENV = "PAGEFIX_API_KEYS"

#: Paths a GET (or HEAD) may reach without a key: the probes of a load balancer or orchestrator,
#: and the web page. The page's own files are public; the page asks its user for the key and
#: sends it with its API calls, which are not exempt. `--metrics_public` adds "/metrics".
PUBLIC_PATHS: frozenset[str] = frozenset({"/health", "/ready", "/"})
#: Path prefixes under which every GET (or HEAD) is public: the web page's static files.
PUBLIC_PREFIXES: tuple[str, ...] = ("/ui/", "/static/")

_EXPECTED = "send the key as 'Authorization: Bearer <key>' (or 'X-API-Key: <key>')"


def key_id(key: str | bytes) -> str:
    """The name of a key in logs: the first 8 hex digits of its SHA-256."""
    data = key.encode("utf-8") if isinstance(key, str) else key
    return hashlib.sha256(data).hexdigest()[:8]


class ApiKeys:
    """The keys a service accepts. Those of the file are read again by `reload()` (SIGHUP);
    those of the environment are fixed at start-up.

    >>> keys = ApiKeys(env_keys=["s3cret-key"])
    >>> keys.accepts(b"s3cret-key"), keys.accepts(b"s3cret-kez")
    (True, False)
    """

    def __init__(self, file: str | os.PathLike[str] | None = None, env_keys: Iterable[str] = ()) -> None:
        self.file = Path(file) if file is not None else None
        self._env = _digests(_checked((key, API_KEYS_ENV) for key in env_keys))
        self._in_use = self._env
        if self.file is not None:
            # A named file must hold a key, whatever the environment gives: the same rule as reload().
            file_keys = _read_keys_file(self.file)
            if not file_keys:
                raise ConfigError(f"no API key found in {self.file}: give at least one key, one a line")
            self._in_use = tuple(dict.fromkeys(self._env + _digests(file_keys)))
        if not self._in_use:
            raise ConfigError(f"no API key given (file or {API_KEYS_ENV})")

    @classmethod
    def from_sources(cls, file: str | os.PathLike[str] | None, environ: dict[str, str] | None = None) -> ApiKeys | None:
        """The keys of `file` and of `PAGEFIX_API_KEYS`; None when neither gives any (no keys: an open
        service, as without this feature)."""
        environ = dict(os.environ) if environ is None else environ
        env_keys = [k.strip() for k in environ.get(API_KEYS_ENV, "").split(",") if k.strip()]
        if file is None and not env_keys:
            return None
        return cls(file, env_keys)

    def __len__(self) -> int:
        return len(self._in_use)

    def __repr__(self) -> str:  # never the keys
        return f"ApiKeys({len(self)} key(s), file={str(self.file) if self.file else None!r})"

    @property
    def ids(self) -> list[str]:
        """The keys in use, by `key_id`."""
        return [digest.hex()[:8] for digest in self._in_use]

    def accepts(self, presented: bytes) -> bool:
        """Whether `presented` is one of the keys. Digests of equal length are compared against every
        key, so the time taken says nothing about how much of a key was right, nor which key matched."""
        digest = hashlib.sha256(presented).digest()
        found = False
        for known in self._in_use:  # one tuple, replaced whole by reload(): no lock needed
            found |= hmac.compare_digest(digest, known)
        return found

    def reload(self) -> bool:
        """Read the keys file again. On a missing, unreadable, invalid or empty file the keys in use
        stay (an operator's slip must neither open the service nor lock every client out)."""
        if self.file is None:
            logger.warning("SIGHUP: no API keys file to reload (keys come from %s only)", API_KEYS_ENV)
            return False
        try:
            keys = _read_keys_file(self.file)
            if not keys:
                raise ConfigError(f"{self.file} holds no key")
        except ConfigError as exc:
            logger.error("API keys not reloaded, the %d key(s) in use stay: %s", len(self), exc)
            return False
        before = set(self.ids)
        self._in_use = tuple(dict.fromkeys(self._env + _digests(keys)))
        after = set(self.ids)
        logger.info("API keys reloaded from %s: %d key(s) (added %s; removed %s)", self.file, len(self),
                    ", ".join(sorted(after - before)) or "none", ", ".join(sorted(before - after)) or "none")
        return True


def _read_keys_file(path: Path) -> list[str]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read API keys file {path}: {exc.__class__.__name__}: "
                          f"{getattr(exc, 'strerror', None) or exc}") from None
    lines = ((number, line.strip()) for number, line in enumerate(text.splitlines(), 1))
    return _checked((line, f"{path} line {number}") for number, line in lines if line and not line.startswith("#"))


def _checked(keys: Iterable[tuple[str, str]]) -> list[str]:
    """The keys of (key, where) pairs, refusing any a client could not send as a header value (named
    by where it is, never shown)."""
    checked = []
    for key, place in keys:
        if not all(0x21 <= ord(c) <= 0x7E for c in key):
            raise ConfigError(f"API key in {place} has a space or a character outside printable ASCII")
        checked.append(key)
    return checked


def _digests(keys: Iterable[str]) -> tuple[bytes, ...]:
    return tuple(dict.fromkeys(hashlib.sha256(k.encode("ascii")).digest() for k in keys))


def presented_keys(scope: Scope) -> list[bytes]:
    """The keys a request carries, in `Authorization: Bearer <key>` and `X-API-Key: <key>`. Either may
    hold the key: a proxy in front may use `Authorization` for its own token, and the client then
    sends the key in `X-API-Key`."""
    keys = []
    for name, value in scope.get("headers", ()):
        if name == b"authorization":
            scheme, _, token = value.strip().partition(b" ")
            if scheme.lower() == b"bearer":
                keys.append(token.strip())
        elif name == b"x-api-key":
            keys.append(value.strip())
    return keys


def is_public(scope: Scope, public_paths: frozenset[str]) -> bool:
    """Whether a request may go without a key: a GET or HEAD of a public path, or a CORS preflight
    (browsers send those without credentials by design)."""
    method, path = scope["method"], scope["path"]
    if method == "OPTIONS":
        return any(name == b"access-control-request-method" for name, _ in scope.get("headers", ()))
    if method not in ("GET", "HEAD"):
        return False
    if path in public_paths:
        return True
    return path.startswith(PUBLIC_PREFIXES) and "/../" not in path and not path.endswith("/..")


class ApiKeyMiddleware:
    """Answers 401 (the error envelope, `WWW-Authenticate: Bearer`) to a request without a valid key,
    deciding on the headers alone. A client still sending its body has it read and dropped (up to
    `max_body` bytes, within `body_timeout` seconds) first, so it reads the 401 instead of meeting a
    reset connection; a client waiting for `100 Continue` is answered at once and sends nothing."""

    def __init__(self, app: ASGIApp, keys: ApiKeys, metrics: ServiceMetrics, *, public_paths: frozenset[str],
                 max_body: int, body_timeout: float) -> None:
        self.app = app
        self.keys = keys
        self.metrics = metrics
        self.public_paths = public_paths
        self.max_body = max_body
        self.body_timeout = body_timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or is_public(scope, self.public_paths):
            await self.app(scope, receive, send)
            return
        presented = presented_keys(scope)
        if any([self.keys.accepts(key) for key in presented]):  # a list: every key is checked alike
            await self.app(scope, receive, send)
            return
        log_id = log_id_of(scope)
        reason = "invalid" if presented else "missing"
        self.metrics.unauthorized.labels(reason).inc()
        client = scope.get("client") or ("?", 0)
        if presented:
            logger.info("logId %s: 401 on %s %s from %s: key %s not accepted", log_id, scope["method"],
                        scope["path"], client[0], ", ".join(key_id(key) for key in presented))
        else:
            logger.info("logId %s: 401 on %s %s from %s: no API key", log_id, scope["method"], scope["path"], client[0])
        message = "API key not accepted" if presented else "API key required"
        headers = {"WWW-Authenticate": 'Bearer realm="pagefix"'}
        if not await self._drain(scope, receive):
            headers["Connection"] = "close"
        await error_response(log_id, 401, f"{message}: {_EXPECTED}", headers)(scope, receive, send)

    async def _drain(self, scope: Scope, receive: Receive) -> bool:
        """Read and drop the body; False when it was left unread (the connection must then close)."""
        headers = dict(scope.get("headers", ()))
        if headers.get(b"expect", b"").lower() == b"100-continue":
            return False  # the client sends its body only once told to continue: it never will
        length = headers.get(b"content-length", b"").strip()
        if length and (not length.isdigit() or int(length) > self.max_body):
            return False
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.body_timeout
        size = 0
        while True:
            try:
                message = await asyncio.wait_for(receive(), max(0.0, deadline - loop.time()))
            except asyncio.TimeoutError:
                return False
            if message["type"] != "http.request":
                return False
            size += len(message.get("body", b""))
            if size > self.max_body:
                return False
            if not message.get("more_body", False):
                return True


def exposure_warning(host: str, keys: ApiKeys | None, allow_anonymous: bool) -> str | None:
    """The start-up warning for a service reachable from other machines with no key, or None."""
    if keys is not None or allow_anonymous or is_loopback(host):
        return None
    return (f"serving on {host} with no API key: anyone who can reach this address can use the service "
            f"and make it fetch URLs; set --api_keys_file or {API_KEYS_ENV}, or pass --allow_anonymous "
            "if this is on purpose")


def is_loopback(host: str) -> bool:
    """Whether every address `host` names is a loopback one (a name that does not resolve is not)."""
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except (OSError, UnicodeError):
        return False
    addresses = {info[4][0] for info in infos}
    return bool(addresses) and all(ipaddress.ip_address(str(a).split("%")[0]).is_loopback for a in addresses)
