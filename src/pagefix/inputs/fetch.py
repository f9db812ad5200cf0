"""The one URL fetcher of pagefix: http(s) only, bounded in time and bytes, with an SSRF guard.

When private addresses are refused (the HTTP service), the guard runs inside the connection
itself: the host is resolved once, every address is checked, and the socket is opened to a
checked address, so there is no gap between the check and the connect (DNS rebinding), and
every redirect goes through the same path.
"""

from __future__ import annotations

import ipaddress
import logging
import socket
import time
from urllib.parse import urljoin, urlsplit

import httpcore
import httpx

from ..errors import FetchError, LimitExceededError
from ..limits import Limits

__all__ = ["address_is_public", "fetch_url", "is_url"]

logger = logging.getLogger(__name__)

_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_CHUNK = 64 * 1024


def is_url(text: str) -> bool:
    return text.startswith(("http://", "https://")) and bool(urlsplit(text).netloc)


def address_is_public(address: str) -> bool:
    """True when an IP address is globally routable unicast, once any IPv4 embedded in it
    (IPv4-mapped, NAT64, 6to4, Teredo) is unwrapped and checked too."""
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
        if ip in _NAT64:
            candidates.append(ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF))
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
            raise _BlockedAddress(f"{host} resolves to {address}, a non-public address")


class _GuardedBackend(httpcore.SyncBackend):
    """Resolve, check every address, then connect to a checked address (not the name)."""

    def __init__(self, policy: _AddressPolicy) -> None:
        self.policy = policy

    def connect_tcp(self, host, port, timeout=None, local_address=None, socket_options=None):  # type: ignore[no-untyped-def]
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except socket.gaierror as exc:
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from exc
        addresses = list(dict.fromkeys(info[4][0] for info in infos))
        for address in addresses:  # one bad address in the answer refuses the host
            self.policy.check(host, address)
        last: Exception | None = None
        for address in addresses:
            try:
                return super().connect_tcp(address, port, timeout, local_address, socket_options)
            except httpcore.ConnectError as exc:
                last = exc
        raise last or httpcore.ConnectError(f"cannot connect to {host}")


def _client(limits: Limits) -> httpx.Client:
    timeout = httpx.Timeout(limits.fetch_timeout)
    if limits.allow_private_urls:
        return httpx.Client(timeout=timeout, follow_redirects=False)
    transport = httpx.HTTPTransport()
    # httpx has no public hook for the network backend; the pool it builds is replaced by an
    # identical one whose sockets go through the guard. Proxies are off: they would hide the target.
    transport._pool = httpcore.ConnectionPool(  # noqa: SLF001
        ssl_context=httpx.create_ssl_context(), network_backend=_GuardedBackend(_AddressPolicy(limits))
    )
    return httpx.Client(timeout=timeout, follow_redirects=False, transport=transport, trust_env=False)


def fetch_url(url: str, limits: Limits) -> bytes:
    """Download a URL into memory under `limits`, or raise `FetchError`/`LimitExceededError`.

    >>> data = fetch_url("http://127.0.0.1:8000/page.jpg", Limits())  # doctest: +SKIP
    """
    deadline = time.monotonic() + limits.fetch_deadline
    with _client(limits) as client:
        for _hop in range(limits.max_redirects + 1):
            if not is_url(url):
                raise FetchError(f"only http and https URLs can be fetched, not {url!r}")
            try:
                with client.stream("GET", url) as response:
                    if response.is_redirect:
                        url = urljoin(url, response.headers.get("location", ""))
                        continue
                    if not response.is_success:
                        raise FetchError(f"could not fetch file: HTTP {response.status_code}")
                    return _read_capped(response, limits, deadline)
            except _BlockedAddress as exc:
                raise FetchError(f"could not fetch file: address not allowed ({exc})") from exc
            except httpx.TimeoutException as exc:
                raise FetchError(f"could not fetch file: timed out ({url})") from exc
            except httpx.HTTPError as exc:
                raise FetchError(f"could not fetch file: {exc}") from exc
        raise FetchError(f"could not fetch file: more than {limits.max_redirects} redirects")


def _read_capped(response: httpx.Response, limits: Limits, deadline: float) -> bytes:
    declared = response.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limits.max_file_bytes:
        raise LimitExceededError(
            f"download of {int(declared)} bytes is over the limit of {limits.max_file_bytes} bytes"
        )
    body = bytearray()
    for chunk in response.iter_bytes(_CHUNK):
        body.extend(chunk)
        if len(body) > limits.max_file_bytes:
            raise LimitExceededError(f"download is over the limit of {limits.max_file_bytes} bytes")
        if time.monotonic() > deadline:
            raise FetchError(f"could not fetch file: download took longer than {limits.fetch_deadline:g} s")
    return bytes(body)
