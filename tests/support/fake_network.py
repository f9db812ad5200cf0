"""A network that records every lookup and connection and completes none: the URL tests patch
`socket.getaddrinfo` and `socket.create_connection` with it, so a URL that got past the SSRF guard
shows up as a recorded connection attempt instead of a real one."""

from __future__ import annotations

import ipaddress
import json
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from pagefix.inputs.fetch import address_is_public

CORPUS = Path(__file__).with_name("url_corpus.txt")
#: What a name resolves to on the fake network (anything else is the public example address).
PUBLIC = "93.184.216.34"
NAMES = {"localhost": "127.0.0.1", "internal": "10.0.0.1"}

_real_inet_aton = socket.inet_aton


def resolve(host: str) -> str:
    """The address the fake network gives `host`: numeric hosts the way the C library reads them
    (inet_aton), `*.localhost` loopback, `*.internal` private, every other name public."""
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    try:
        return socket.inet_ntoa(_real_inet_aton(host))
    except (OSError, ValueError, UnicodeError):
        pass
    last = host.lower().rstrip(".").rsplit(".", 1)[-1]
    return NAMES.get(last, PUBLIC)


@dataclass
class FakeNetwork:
    lookups: list[str] = field(default_factory=list)
    connections: list[str] = field(default_factory=list)

    def getaddrinfo(self, host: Any, port: Any, *args: Any, **kwargs: Any) -> list[Any]:
        text = host.decode("ascii", "replace") if isinstance(host, bytes) else str(host)
        self.lookups.append(text)
        address = resolve(text)
        if ":" in address:
            return [(socket.AF_INET6, socket.SOCK_STREAM, 6, "", (address, port, 0, 0))]
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]

    def create_connection(self, address: tuple[str, int], *args: Any, **kwargs: Any) -> socket.socket:
        self.connections.append(address[0])
        raise ConnectionRefusedError(111, "connection refused by the test's fake network")

    def private_connections(self) -> list[str]:
        return [a for a in self.connections if not address_is_public(a)]

    def clear(self) -> None:
        self.lookups.clear()
        self.connections.clear()


@contextmanager
def fake_network() -> Iterator[FakeNetwork]:
    network = FakeNetwork()
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(socket, "getaddrinfo", network.getaddrinfo)
        patch.setattr(socket, "create_connection", network.create_connection)
        yield network


@dataclass(frozen=True)
class CorpusCase:
    #: "ok": a well-formed public URL (fetched: a connection to a public address is attempted);
    #: "invalid": refused by the parser, nothing resolved; "blocked": a non-public address in
    #: some spelling, refused by the guard with no connection.
    outcome: str
    url: str
    #: A phrase the refusal's message must hold ("" for none).
    needle: str
    line: int


def corpus() -> list[CorpusCase]:
    """url_corpus.txt: `outcome "url as a JSON string" [phrase the message must hold]` per line."""
    cases = []
    decoder = json.JSONDecoder()
    for number, raw in enumerate(CORPUS.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        outcome, _, rest = line.partition(" ")
        url, end = decoder.raw_decode(rest.lstrip())
        needle = rest.lstrip()[end:].strip()
        if outcome not in ("ok", "invalid", "blocked"):
            raise ValueError(f"url_corpus.txt line {number}: unknown outcome {outcome!r}")
        cases.append(CorpusCase(outcome, url, needle, number))
    return cases
