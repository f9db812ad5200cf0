"""The URL parser and the fetcher under fuzzing: over arbitrary text and over a URL grammar (odd
schemes, userinfo, IPv4 in every inet_aton spelling, IPv6 with zones and embedded IPv4, IDNA,
percent-encoding, long hosts, control characters) nothing but `FetchError`/`InputError` comes out,
and no connection is ever attempted to a non-public address. The corpus of cases found
(url_corpus.txt) is replayed here and, over HTTP, in tests/serving/test_url_corpus.py."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.fake_network import FakeNetwork, corpus, fake_network
from support.url_grammar import grammar_urls, ipv4_hosts, ipv6_hosts

from pagefix.errors import FetchError, InputError
from pagefix.inputs import iter_pages
from pagefix.inputs.fetch import address_is_public, fetch_url
from pagefix.inputs.urls import WebURL, is_url, parse_url
from pagefix.limits import Limits

GUARDED = Limits(allow_private_urls=False, fetch_deadline=5.0, fetch_timeout=2.0)
FUZZ = settings(max_examples=300, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
#: Each fetch builds a client (a TLS context): fewer examples keep the file well under 30 s.
FETCH_FUZZ = settings(FUZZ, max_examples=120)
CASES = corpus()


@pytest.fixture(scope="module")
def network() -> Iterator[FakeNetwork]:
    with fake_network() as fake:
        yield fake


def fetch_outcome(url: str, network: FakeNetwork) -> str:
    """'invalid', 'blocked' or 'ok' (a connection to a public address was attempted); anything
    else raised fails the test, as does a connection attempt to a non-public address."""
    network.clear()
    try:
        fetch_url(url, GUARDED)
    except FetchError as exc:
        message = str(exc)
    else:
        raise AssertionError(f"the fake network cannot answer, yet {url!r} was fetched")
    assert not network.private_connections(), (url, network.connections)
    if "address not allowed" in message:
        assert not network.connections, (url, network.connections)
        return "blocked"
    if network.connections:
        return "ok"
    assert message.startswith(("invalid URL", "only http and https")), (url, message)
    assert not network.lookups, (url, network.lookups)  # refused before anything was resolved
    return "invalid"


# -- the corpus ---------------------------------------------------------------------------------

@pytest.mark.parametrize("case", CASES, ids=[f"line{c.line}" for c in CASES])
def test_corpus_through_the_parser_and_the_fetcher(case, network: FakeNetwork) -> None:  # type: ignore[no-untyped-def]
    if case.outcome == "invalid":
        with pytest.raises(FetchError) as caught:
            parse_url(case.url)
        assert case.needle.lower() in str(caught.value).lower(), str(caught.value)
    else:
        parsed = parse_url(case.url)
        assert parsed.url.startswith(("http://", "https://")) and "#" not in parsed.url
    assert fetch_outcome(case.url, network) == case.outcome


@pytest.mark.parametrize(
    "url",
    [
        "http://" + "a" * 70 + ".example/",                      # a label over 63
        "http://" + "abcdefghi." * 26 + "example/",               # a name over 253
        "http://example.com/" + "p" * 9000,                       # a URL over max_url_length
        "http://" + "1" * 5000 + "/",                             # digits beyond int()'s default
        "http://[" + "1:" * 3000 + "]/",
        "http://" + "a" * 3 * 1024 * 1024,                        # several megabytes
    ],
    ids=["label", "name", "path", "digits", "ipv6", "megabytes"],
)
def test_long_urls_are_refused_saying_what_is_long(url: str, network: FakeNetwork) -> None:
    with pytest.raises(FetchError, match=r"invalid URL .*(long|over|no IPv4|IPv6|out of range)"):
        parse_url(url)
    assert fetch_outcome(url, network) == "invalid"


def test_every_spelling_of_loopback_reaches_the_same_address() -> None:
    spellings = ["127.0.0.1", "2130706433", "0x7f000001", "0x7f.1", "0177.0.0.1", "0177.0.1", "127.1",
                 "0x7F.0x00.0x00.0x01", "127.0.0.1.", "\uff11\uff12\uff17.\uff10.\uff10.\uff11"]
    assert {parse_url(f"http://{s}/").address for s in spellings} == {ipaddress.IPv4Address("127.0.0.1")}


def test_a_url_item_that_cannot_be_read_is_a_failed_page_not_a_crash() -> None:
    (failure,) = iter_pages(["http://[::1/x.png"])
    assert isinstance(failure.error, FetchError) and "unbalanced" in str(failure.error)


# -- arbitrary text -----------------------------------------------------------------------------

@FUZZ
@given(st.text(max_size=300))
def test_any_text_is_parsed_or_refused(text: str) -> None:
    try:
        parsed = parse_url(text)
    except FetchError:
        return
    assert isinstance(parsed, WebURL) and is_url(parsed.url)


@FETCH_FUZZ
@given(url=st.text(max_size=120).map(lambda tail: "http://" + tail))
def test_any_text_after_the_scheme_is_fetched_safely_or_refused(url: str, network: FakeNetwork) -> None:
    fetch_outcome(url, network)


# -- a URL grammar ------------------------------------------------------------------------------

@FETCH_FUZZ
@given(url=grammar_urls())
def test_grammar_urls_are_fetched_safely_or_refused(url: str, network: FakeNetwork) -> None:
    outcome = fetch_outcome(url, network)
    if outcome == "ok":  # whatever was parsed as public really was
        assert all(address_is_public(a) for a in network.connections)


@FUZZ
@given(st.one_of(ipv4_hosts(), ipv6_hosts()))
def test_numeric_hosts_are_read_as_the_resolver_reads_them(host: str) -> None:
    """An address the parser accepts is the one inet_aton / inet_pton give for the same text."""
    try:
        parsed = parse_url(f"http://{host}/")
    except FetchError:
        return
    if host.startswith("["):
        assert parsed.address == ipaddress.IPv6Address(host.strip("[]"))
    elif parsed.address is None:  # read as a name: so must the C library read it
        with pytest.raises(OSError):
            socket.inet_aton(host)
    else:
        assert str(parsed.address) == socket.inet_ntoa(socket.inet_aton(host.rstrip(".")))


def test_input_error_is_the_only_error_of_bad_url_items() -> None:
    assert issubclass(FetchError, InputError)
