"""The URL corpus (tests/support/url_corpus.txt) through `POST /document-preprocessing`: every case
is a 422 whose errorMsg says what is wrong, never a 5xx, and no connection reaches a non-public
address. The network is the inputs tests' fake one, so nothing leaves the machine."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings  # noqa: E402
from support.fake_network import FakeNetwork, corpus, fake_network
from support.url_grammar import grammar_urls

from pagefix import DocPreprocessor  # noqa: E402
from pagefix.serving import create_app  # noqa: E402

URL = "/document-preprocessing"
FAST = {"visualize": False, "useDocOrientationClassify": False, "useDocUnwarping": False}
CASES = corpus()
LONG = ["http://" + "a" * 3 * 1024 * 1024, "http://" + "a" * 300 + ".example/", "http://example.com/" + "p" * 9000]


@pytest.fixture(scope="module")
def service() -> Iterator[tuple[Any, FakeNetwork]]:
    """The service's defaults (private addresses refused), models off: URLs fail before any page.
    Requests go in-process (ASGI), so the fake network sees only the service's own fetches."""
    pipeline = DocPreprocessor(use_doc_orientation_classify=False, use_doc_unwarping=False,
                               paddlex_config={"Limits": {"fetch_deadline": 5.0}})
    app = create_app(pipeline)
    with fake_network() as network:
        yield app, network
    app.state.pool.shutdown()


async def _post(app: Any, payload: dict[str, Any]) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://service.test") as client:
        return await client.post(URL, json=payload)


def post(service: tuple[Any, FakeNetwork], url: str) -> str:
    app, network = service
    network.clear()
    answer = asyncio.run(_post(app, {"file": url, **FAST}))
    assert answer.status_code == 422, (url[:100], answer.status_code, answer.text[:300])
    body = answer.json()
    assert body["errorCode"] == 422 and body["errorMsg"], body
    assert not network.private_connections(), (url, network.connections)
    return body["errorMsg"]


@pytest.mark.parametrize("case", CASES, ids=[f"line{c.line}" for c in CASES])
def test_corpus_over_http(service, case) -> None:  # type: ignore[no-untyped-def]
    message = post(service, case.url)
    _, network = service
    if case.outcome == "blocked":
        assert "address is not allowed" in message and not network.connections, message
    elif case.outcome == "invalid":
        assert case.needle.lower() in message.lower() or not case.url.lower().startswith(("http://", "https://")), message
        assert not network.lookups, network.lookups
    else:  # public: fetched, and the fake network refused the connection
        assert message.startswith("could not fetch file:") and network.connections, message


@pytest.mark.parametrize("url", LONG, ids=["megabytes", "long-host", "long-path"])
def test_long_urls_over_http(service, url: str) -> None:  # type: ignore[no-untyped-def]
    assert "invalid URL" in post(service, url)


@settings(max_examples=80, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(url=grammar_urls())
def test_grammar_urls_over_http_are_never_a_server_error(service, url: str) -> None:  # type: ignore[no-untyped-def]
    client_network = service[1]
    client_network.clear()
    answer = asyncio.run(_post(service[0], {"file": url, **FAST}))
    assert answer.status_code == 422, (url[:100], answer.status_code, answer.text[:300])
    assert answer.json()["errorMsg"]
    assert not client_network.private_connections(), (url, client_network.connections)
