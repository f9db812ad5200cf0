"""The hostile corpus through the HTTP service (`pagefix serve`'s app under uvicorn on 127.0.0.1):
each file is a 200 or a 4xx, never a 5xx, and the server answers a good request afterwards.
Hypothesis throws bodies and base64 at the same server; a URL to a trickling server is cut at
the fetch deadline."""

from __future__ import annotations

import base64
import socket
import threading
import time
from collections.abc import Iterator

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("pagefix.serving")

import httpx  # noqa: E402
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from support.hostile_corpus import Case, corpus, drawn_pdf  # noqa: E402
from support.ports import free_port  # noqa: E402

from pagefix.serving import create_app  # noqa: E402
from pagefix.serving.server import server_for  # noqa: E402
from pagefix.serving.settings import ServingSettings  # noqa: E402

URL = "/document-preprocessing"
FAST = {"visualize": False, "useDocOrientationClassify": False, "useDocUnwarping": False}


@pytest.fixture(scope="module")
def server(pipeline) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """The service's defaults (private addresses refused), except that 127.0.0.1 may be fetched
    and the fetch deadline is short, for the trickle test."""
    guarded = pipeline.limits.replace(fetch_deadline=3.0)
    shared = type(pipeline)(
        orientation_classifier=pipeline.orientation_classifier, unwarper=pipeline.unwarper,
        limits=guarded, device="cpu",
    )
    app = create_app(shared, settings=ServingSettings(allowed_hosts=("127.0.0.1",)))
    uvicorn_server = server_for(app, "127.0.0.1", free_port(), log_level="critical")
    thread = threading.Thread(target=uvicorn_server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not uvicorn_server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "server did not start"
        time.sleep(0.02)
    yield f"http://127.0.0.1:{uvicorn_server.config.port}"
    uvicorn_server.should_exit = True
    thread.join(timeout=60)


@pytest.fixture(scope="module")
def client(server: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server, timeout=120) as client:
        yield client


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def expected_status(case: Case) -> int:
    # The service answers a request as a whole: one failing page of a PDF refuses it (422).
    return 422 if case.failures else 200


def test_corpus_over_http(client: httpx.Client) -> None:
    statuses: dict[str, int] = {}
    for case in corpus():
        answer = client.post(URL, json={"file": b64(case.data), **FAST})
        statuses[case.name] = answer.status_code
        assert answer.status_code < 500, (case.name, answer.text[:300])
        assert answer.status_code == expected_status(case), (case.name, answer.text[:300])
        body = answer.json()
        if answer.status_code == 200:
            results = body["result"]["docPreprocessingResults"]
            assert len(results) == min(case.pages, 10)  # the service's 10-page default
        else:
            assert body["errorCode"] == 422 and body["errorMsg"]
            assert "Traceback" not in body["errorMsg"]
    assert client.get("/health").status_code == 200
    good = client.post(URL, json={"file": b64(drawn_pdf(1)), "fileType": 0, **FAST})
    assert good.status_code == 200


def test_url_to_a_trickling_server_is_cut_at_the_deadline(client: httpx.Client) -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    stop = threading.Event()

    def trickle() -> None:
        connection, _ = listener.accept()
        with connection:
            connection.recv(65536)
            for byte in b"HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n" + bytes(5000):
                if stop.is_set():
                    return
                try:
                    connection.sendall(bytes([byte]))
                except OSError:
                    return
                time.sleep(2.0)

    thread = threading.Thread(target=trickle, daemon=True)
    thread.start()
    try:
        answer = client.post(URL, json={"file": f"http://127.0.0.1:{listener.getsockname()[1]}/slow.png", **FAST})
    finally:
        stop.set()
        listener.close()
    assert answer.status_code == 422
    assert "exceeded the 3 s deadline (Limits.fetch_deadline" in answer.json()["errorMsg"]


@pytest.mark.parametrize("target", ["http://127.0.0.2/x.png", "http://[::1]/x.png", "http://[::ffff:10.0.0.1]/x.png",
                                    "http://169.254.169.254/latest/meta-data/", "http://[64:ff9b::a9fe:a9fe]/"])
def test_service_refuses_private_addresses(client: httpx.Client, target: str) -> None:
    answer = client.post(URL, json={"file": target, **FAST})
    assert answer.status_code == 422
    assert "address is not allowed" in answer.json()["errorMsg"]


base64_text = st.one_of(
    st.binary(max_size=300).map(b64),
    st.text(max_size=200),
    st.binary(max_size=200).map(lambda data: "data:image/png;base64," + b64(data)),
    st.sampled_from([c.data for c in corpus() if len(c.data) < 20_000]).map(b64).flatmap(
        lambda text: st.integers(0, len(text)).map(lambda cut: text[:cut])),  # truncated real files
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=base64_text, file_type=st.sampled_from([None, 0, 1, 2, "1", -1]))
def test_base64_property(client: httpx.Client, text: str, file_type: object) -> None:
    answer = client.post(URL, json={"file": text, "fileType": file_type, **FAST})
    assert answer.status_code in (200, 422), answer.text[:300]
    assert answer.json()["errorCode"] in (0, 422)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=st.dictionaries(st.sampled_from(["file", "fileType", "visualize", "useDocUnwarping",
                                             "useDocOrientationClassify", "other"]), json_values, max_size=6))
def test_request_schema_property(client: httpx.Client, body: dict) -> None:
    answer = client.post(URL, json=body)
    assert answer.status_code < 500, answer.text[:300]
    assert answer.json()["errorCode"] == (0 if answer.status_code == 200 else answer.status_code)


class FailingPipeline:
    """The real pipeline, with a fault injected into the worker for the next request(s)."""

    def __init__(self, pipeline, fault: BaseException) -> None:  # type: ignore[no-untyped-def]
        self.pipeline = pipeline
        self.config = pipeline.config
        self.limits = pipeline.limits
        self.fault: BaseException | None = fault

    def process_pages(self, pages, settings):  # type: ignore[no-untyped-def]
        fault, self.fault = self.fault, None
        if fault is not None:
            raise fault
        return self.pipeline.process_pages(pages, settings)


@pytest.mark.parametrize("fault", [RuntimeError("a bug in a worker"), MemoryError()], ids=["bug", "out-of-memory"])
def test_a_worker_that_dies_mid_request_is_a_500_and_the_service_goes_on(pipeline, fault: BaseException) -> None:  # type: ignore[no-untyped-def]
    failing = FailingPipeline(pipeline, fault)
    app = create_app(failing, settings=ServingSettings(workers=1))
    uvicorn_server = server_for(app, "127.0.0.1", free_port(), log_level="critical")
    thread = threading.Thread(target=uvicorn_server.run, daemon=True)
    thread.start()
    while not uvicorn_server.started:
        assert thread.is_alive()
        time.sleep(0.02)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{uvicorn_server.config.port}", timeout=60) as client:
            page = b64(drawn_pdf(1))
            broken = client.post(URL, json={"file": page, **FAST})
            assert broken.status_code == 500
            assert broken.json()["errorMsg"] == "Internal server error"
            again = client.post(URL, json={"file": page, **FAST})
            assert again.status_code == 200, again.text[:300]
            assert client.get("/health").status_code == 200
    finally:
        uvicorn_server.should_exit = True
        thread.join(timeout=60)
