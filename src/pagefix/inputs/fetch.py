"""The one URL fetcher of pagefix: http(s) only, bounded in time and bytes, with an SSRF guard.

Every socket operation (name resolution, connect, TLS handshake, each read and write) runs under
the time left to the whole download, so a server that trickles one byte every two seconds is cut
off at the deadline, not at the next read timeout. When private addresses are refused (the HTTP
service), the guard runs inside the connection itself: the host is resolved once, every address
is checked, and the socket is opened to a checked address, so there is no gap between the check
and the connect (DNS rebinding), and every redirect goes through the same path.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import threading
import time
import urllib.request
import zlib
from collections.abc import Iterable, Iterator
from typing import Any
from urllib.parse import urljoin

import httpcore
import httpx

from ..errors import FetchError, LimitExceededError
from ..limits import Limits
from .urls import WebURL, is_url, parse_url

__all__ = ["address_is_public", "fetch_url", "is_url"]

logger = logging.getLogger(__name__)

# IPv6 ranges that carry an IPv4 address in their low 32 bits: NAT64 (RFC 6052, RFC 8215) and the
# deprecated IPv4-compatible form, which `ipaddress` does not unwrap for us.
_NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")
_REDIRECTS = frozenset({301, 302, 303, 307, 308})


def address_is_public(address: str) -> bool:
    """True when an IP address is globally routable unicast, once any IPv4 embedded in it
    (IPv4-mapped, IPv4-compatible, NAT64, 6to4, Teredo) is unwrapped and checked too.

    >>> address_is_public("::ffff:127.0.0.1"), address_is_public("93.184.216.34")
    (False, True)
    """
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    candidates: list[ipaddress.IPv4Address | ipaddress.IPv6Address] = [ip]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped:
            candidates.append(ip.ipv4_mapped)
        if ip.sixtofour:
            candidates.append(ip.sixtofour)
        if ip.teredo:
            candidates.extend(ip.teredo)
        if any(ip in net for net in _NAT64):
            candidates.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
        if ip in _IPV4_COMPATIBLE:
            return False
    return all(c.is_global and not c.is_multicast for c in candidates)


class _BlockedAddress(Exception):
    pass


class _AddressPolicy:
    def __init__(self, limits: Limits) -> None:
        self.allow_private = limits.allow_private_urls
        self.hosts = {h.lower() for h in limits.allowed_hosts if "/" not in h}
        self.networks = []
        for entry in limits.allowed_hosts:
            try:
                self.networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                continue

    def check(self, host: str, address: str) -> None:
        if self.allow_private or host.lower().strip("[]") in self.hosts:
            return
        ip = ipaddress.ip_address(address.split("%", 1)[0])
        if any(ip in net for net in self.networks if net.version == ip.version):
            return
        if not address_is_public(address):
            where = f"{host} is" if host == address else f"{host} resolves to {address},"
            raise _BlockedAddress(f"{where} a non-public address")


class _Deadline:
    """The end of one whole download; every blocking call gets at most the time left."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.end = time.monotonic() + seconds

    def passed(self) -> bool:
        return time.monotonic() >= self.end

    def bound(self, timeout: float | None, error: type[Exception]) -> float:
        left = self.end - time.monotonic()
        if left <= 0:
            raise error("download deadline passed")
        return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    """A socket stream whose every read and write is cut short at the download's deadline."""

    def __init__(self, stream: httpcore.NetworkStream, deadline: _Deadline) -> None:
        self._stream = stream
        self._deadline = deadline

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(max_bytes, self._deadline.bound(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, self._deadline.bound(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(self, ssl_context: Any, server_hostname: str | None = None, timeout: float | None = None) -> httpcore.NetworkStream:
        bounded = self._deadline.bound(timeout, httpcore.ConnectTimeout)
        return _DeadlineStream(self._stream.start_tls(ssl_context, server_hostname, bounded), self._deadline)

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class _Backend(httpcore.SyncBackend):
    """Resolve (within the deadline), check every address, then connect to a checked address."""

    def __init__(self, policy: _AddressPolicy, deadline: _Deadline) -> None:
        self.policy = policy
        self.deadline = deadline

    def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                    socket_options: Iterable[Any] | None = None) -> httpcore.NetworkStream:
        addresses = _resolve(host, port, self.deadline.bound(timeout, httpcore.ConnectTimeout))
        for address in addresses:  # one bad address in the answer refuses the host
            self.policy.check(host, address)
        last: Exception | None = None
        for address in addresses:
            try:
                stream = super().connect_tcp(
                    address, port, self.deadline.bound(timeout, httpcore.ConnectTimeout), local_address, socket_options
                )
            except httpcore.ConnectError as exc:
                last = exc
                continue
            return _DeadlineStream(stream, self.deadline)
        raise last or httpcore.ConnectError(f"cannot connect to {host}")


def _resolve(host: str, port: int, timeout: float) -> list[str]:
    """getaddrinfo has no timeout of its own: run it in a daemon thread and stop waiting."""
    answer: dict[str, Any] = {}

    def lookup() -> None:
        try:
            answer["infos"] = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except (OSError, UnicodeError, ValueError) as exc:  # UnicodeError: a name IDNA refuses
            answer["error"] = exc

    worker = threading.Thread(target=lookup, name="pagefix-resolve", daemon=True)
    worker.start()
    worker.join(timeout)
    if worker.is_alive():
        raise httpcore.ConnectTimeout(f"resolving {host} took longer than {timeout:.1f} s")
    if "error" in answer:
        raise httpcore.ConnectError(f"cannot resolve {host}: {answer['error']}")
    return list(dict.fromkeys(info[4][0] for info in answer["infos"]))


def _client(target: WebURL, limits: Limits, deadline: _Deadline) -> httpx.Client:
    backend = _Backend(_AddressPolicy(limits), deadline)
    ssl_context = httpx.create_ssl_context()
    proxy = _env_proxy(target) if limits.allow_private_urls else None
    pool: httpcore.ConnectionPool
    if proxy:
        # The CLI and the Python API honour the usual proxy variables; the guarded service never
        # uses a proxy, which would hide the address actually reached.
        pool = httpcore.HTTPProxy(proxy_url=proxy, ssl_context=ssl_context, network_backend=backend)
    else:
        pool = httpcore.ConnectionPool(ssl_context=ssl_context, network_backend=backend)
    transport = httpx.HTTPTransport()
    # httpx has no public hook for the network backend: the pool it built is replaced by one whose
    # sockets go through the backend above.
    transport._pool = pool  # noqa: SLF001
    return httpx.Client(
        timeout=httpx.Timeout(limits.fetch_timeout), follow_redirects=False, transport=transport, trust_env=False,
        headers={"Accept-Encoding": "identity"},
    )


def _env_proxy(target: WebURL) -> str | None:
    proxy = urllib.request.getproxies().get(target.scheme)
    if not proxy or urllib.request.proxy_bypass(target.host):
        return None
    return proxy if "://" in proxy else f"http://{proxy}"


def fetch_url(url: str, limits: Limits) -> bytes:
    """Download a URL into memory under `limits`, or raise `FetchError`/`LimitExceededError`.

    >>> data = fetch_url("http://127.0.0.1:8000/page.jpg", Limits())  # doctest: +SKIP
    """
    deadline = _Deadline(limits.fetch_deadline)
    target = parse_url(url, limits.max_url_length)
    for _hop in range(limits.max_redirects + 1):
        try:
            if target.address is not None:
                # An address written in the URL (in any spelling) is refused here, before any socket.
                _AddressPolicy(limits).check(target.host, str(target.address))
            with _client(target, limits, deadline) as client, client.stream("GET", target.url) as response:
                location = response.headers.get("location")
                if response.status_code in _REDIRECTS and location:
                    target = _redirected(target, location, limits)
                    continue
                if not response.is_success:
                    raise FetchError(f"could not fetch file: HTTP {response.status_code}", reason="status",
                                     url=target.url, status_code=response.status_code)
                return _read_capped(response, limits, deadline, url)
        except _BlockedAddress as exc:
            raise FetchError(f"could not fetch file: address not allowed ({exc})", reason="blocked_address",
                             url=target.url) from exc
        except httpx.TimeoutException as exc:
            if deadline.passed():
                raise FetchError(_too_slow(url, limits), reason="timeout", url=target.url) from exc
            raise FetchError(f"could not fetch file: timed out ({exc or type(exc).__name__})", reason="timeout",
                             url=target.url) from exc
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            raise FetchError(f"could not fetch file: {exc}", reason="connect", url=target.url) from exc
    raise FetchError(f"could not fetch file: more than {limits.max_redirects} redirects", reason="redirects",
                     url=target.url)


def _redirected(current: WebURL, location: str, limits: Limits) -> WebURL:
    """The next hop, read by the same parser as the first."""
    try:
        joined = urljoin(current.url, location)
    except ValueError as exc:
        raise FetchError(f"could not fetch file: redirected to an invalid URL ({exc})", reason="invalid_url",
                         url=current.url) from None
    try:
        return parse_url(joined, limits.max_url_length)
    except FetchError as exc:
        raise FetchError(f"could not fetch file: redirected to {exc}", reason=exc.reason, url=exc.url) from None


def _too_slow(url: str, limits: Limits) -> str:
    shown = url if len(url) <= 120 else url[:117] + "..."
    return (
        f"could not fetch file: the download of {shown} exceeded the {limits.fetch_deadline:g} s deadline "
        "(Limits.fetch_deadline; raise it with PAGEFIX_FETCH_DEADLINE or the configuration's Limits section)"
    )


def _read_capped(response: httpx.Response, limits: Limits, deadline: _Deadline, url: str) -> bytes:
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limits.max_file_bytes:
        raise _too_big(limits, int(declared))
    body = bytearray()
    # iter_raw: every network read, as it comes (iter_bytes would wait for a whole chunk), and
    # nothing decompressed behind our back.
    for piece in _decoded(response.headers.get("content-encoding", ""), response.iter_raw(), limits):
        body.extend(piece)
        if len(body) > limits.max_file_bytes:
            raise _too_big(limits)
        if deadline.passed():
            raise FetchError(_too_slow(url, limits), reason="timeout", url=str(response.url))
    return bytes(body)


def _decoded(encoding: str, raw: Iterable[bytes], limits: Limits) -> Iterator[bytes]:
    """The body with a gzip/deflate Content-Encoding undone a bounded step at a time, so a
    compressed bomb stops at the byte cap instead of expanding in one call."""
    encoding = encoding.strip().lower()
    if encoding in ("", "identity"):
        yield from raw
        return
    if encoding not in ("gzip", "x-gzip", "deflate"):
        raise FetchError(f"could not fetch file: unsupported Content-Encoding {encoding!r}", reason="encoding")
    inflater = zlib.decompressobj(zlib.MAX_WBITS | 32)  # gzip or zlib header, detected
    step = min(limits.max_file_bytes + 1, 1 << 20)
    try:
        for chunk in raw:
            data = chunk
            while data:
                yield inflater.decompress(data, step)
                data = inflater.unconsumed_tail
        yield inflater.flush()
    except zlib.error as exc:
        raise FetchError(f"could not fetch file: corrupt {encoding} body ({exc})", reason="encoding") from exc


def _too_big(limits: Limits, size: int | None = None) -> LimitExceededError:
    what = f"of {size} bytes " if size is not None else ""
    return LimitExceededError(
        f"download {what}is over the limit of {limits.max_file_bytes} bytes "
        "(raise it with PAGEFIX_MAX_FILE_BYTES or Limits.max_file_bytes)",
        limit="max_file_bytes", value=limits.max_file_bytes, actual=size,
    )
