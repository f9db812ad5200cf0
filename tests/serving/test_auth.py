"""API keys, the warning for a service exposed without one, and CORS: against the real app under
uvicorn on 127.0.0.1, and the real `pagefix serve` process for SIGHUP and the start-up warning."""

from __future__ import annotations

import base64
import io
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from PIL import Image, ImageDraw
from support.ports import free_port
from support.serving import b64, encode, running

from pagefix import DocPreprocessor
from pagefix.cli.main import main
from pagefix.errors import ConfigError
from pagefix.serving import create_app
from pagefix.serving.auth import API_KEYS_ENV, ApiKeys, exposure_warning, key_id
from pagefix.serving.settings import ServingSettings

URL = "/document-preprocessing"
REPO = Path(__file__).resolve().parents[2]
FILE_KEY = "pfk-file-6f1d2c9ab7e04d55"
ENV_KEY = "pfk-env-0b93e1c4d2a87f16"
NEAR_MISS = FILE_KEY[:-1] + "6"  # one character off
ORIGIN = "https://pages.example.org"


def page_jpeg(size: tuple[int, int] = (240, 320)) -> bytes:
    """A small white page with lines of text, made here."""
    image = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(image)
    for row in range(12, size[1] - 20, 18):
        draw.text((14, row), "The quick brown fox jumps over", fill="black")
    return encode(image)


PAYLOAD = {"file": b64(page_jpeg()), "fileType": 1, "visualize": False}


@pytest.fixture(autouse=True)
def no_keys_in_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(API_KEYS_ENV, raising=False)


@pytest.fixture(scope="module")
def bare_pipeline() -> DocPreprocessor:
    """Decoding and encoding only: these tests are about the door, not the models."""
    return DocPreprocessor(use_doc_orientation_classify=False, use_doc_unwarping=False)


@pytest.fixture(scope="module")
def keys_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("keys") / "api_keys"
    path.write_text(f"# the web team\n\n{FILE_KEY}\n   \n# retired: pfk-old-key\n")
    return path


def keyed_app(pipeline, keys_file: Path, **settings):  # type: ignore[no-untyped-def]
    """An app with one key from the file and one from PAGEFIX_API_KEYS."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(API_KEYS_ENV, f" {ENV_KEY} ,")
        return create_app(pipeline, settings=ServingSettings(api_keys_file=str(keys_file), **settings))


@pytest.fixture(scope="module")
def keyed(bare_pipeline: DocPreprocessor, keys_file: Path) -> Iterator[str]:
    with running(keyed_app(bare_pipeline, keys_file, max_request_bytes=4_000_000, body_timeout=5.0)) as url:
        yield url


@pytest.fixture(scope="module")
def open_server(bare_pipeline: DocPreprocessor) -> Iterator[str]:
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv(API_KEYS_ENV, raising=False)
        app = create_app(bare_pipeline, settings=ServingSettings())
    with running(app) as url:
        yield url


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def assert_401(response: httpx.Response) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["www-authenticate"].startswith("Bearer")
    body = response.json()
    assert set(body) == {"logId", "errorCode", "errorMsg"}
    assert body["errorCode"] == 401
    assert "Authorization: Bearer <key>" in body["errorMsg"] and "X-API-Key" in body["errorMsg"]


def unauthorized_counts(url: str) -> dict[str, float]:
    text = httpx.get(url + "/metrics", headers=bearer(FILE_KEY)).text
    counts = {}
    for line in text.splitlines():
        if line.startswith("pagefix_requests_unauthorized_total{"):
            reason = line.split('reason="', 1)[1].split('"', 1)[0]
            counts[reason] = float(line.rsplit(" ", 1)[1])
    return counts


# ----- no key configured: as before -------------------------------------------------------------


def test_without_keys_everything_answers_as_before(open_server: str) -> None:
    response = httpx.post(open_server + URL, json=PAYLOAD, timeout=60)
    assert response.status_code == 200, response.text
    assert response.json()["result"]["dataInfo"] == {"width": 240, "height": 320, "type": "image"}
    assert httpx.get(open_server + "/metrics").status_code == 200
    ready = httpx.get(open_server + "/ready").json()
    assert ready["errorMsg"] == "Ready" and ready["warnings"] == []
    # A key sent to a server without keys is ignored, not refused.
    assert httpx.post(open_server + URL, json=PAYLOAD, headers=bearer("anything"), timeout=60).status_code == 200


# ----- with keys --------------------------------------------------------------------------------


@pytest.mark.parametrize("headers", [
    {},
    bearer("not-a-key-at-all"),
    {"Authorization": "Bearer"},  # an empty key
    {"X-API-Key": ""},
    bearer(NEAR_MISS),
    {"X-API-Key": NEAR_MISS},
    bearer(FILE_KEY.upper()),
    {"Authorization": f"Basic {base64.b64encode(FILE_KEY.encode()).decode()}"},
    {"Authorization": FILE_KEY},  # the key without its scheme
], ids=["none", "wrong", "empty-bearer", "empty-x-api-key", "near-miss-bearer", "near-miss-x-api-key",
        "wrong-case", "basic", "no-scheme"])
def test_requests_without_a_valid_key_are_401(keyed: str, headers: dict[str, str]) -> None:
    assert_401(httpx.post(keyed + URL, json=PAYLOAD, headers=headers, timeout=60))
    assert_401(httpx.get(keyed + "/openapi.json", headers=headers))


@pytest.mark.parametrize("key", [FILE_KEY, ENV_KEY], ids=["from-file", "from-env"])
@pytest.mark.parametrize("style", ["bearer", "bearer-lowercase", "x-api-key", "x-api-key-beside-a-proxy-token"])
def test_each_key_with_either_header_is_served(keyed: str, key: str, style: str) -> None:
    headers = {"bearer": bearer(key), "bearer-lowercase": {"authorization": f"bearer  {key}"},
               "x-api-key": {"X-API-Key": key},
               # a proxy in front uses Authorization for its own token; the key rides in X-API-Key
               "x-api-key-beside-a-proxy-token": {"X-API-Key": key, **bearer("proxy-jwt-eyJhbGciOi")}}[style]
    response = httpx.post(keyed + URL, json=PAYLOAD, headers=headers, timeout=60)
    assert response.status_code == 200, response.text
    (page,) = response.json()["result"]["docPreprocessingResults"]
    assert base64.b64decode(page["outputImage"])[:8] == b"\x89PNG\r\n\x1a\n"


def test_probes_are_open_and_metrics_is_behind_the_key(keyed: str) -> None:
    assert httpx.get(keyed + "/health").json()["errorMsg"] == "Healthy"
    assert httpx.get(keyed + "/ready").json()["warnings"] == []
    assert_401(httpx.get(keyed + "/metrics"))
    assert_401(httpx.post(keyed + "/health"))  # only GET (and HEAD) are public
    metrics = httpx.get(keyed + "/metrics", headers={"X-API-Key": ENV_KEY})
    assert metrics.status_code == 200 and "pagefix_requests_unauthorized_total" in metrics.text


def test_refusals_are_counted_by_reason(keyed: str) -> None:
    before = unauthorized_counts(keyed)
    httpx.post(keyed + URL, json=PAYLOAD)
    for key in ("wrong", NEAR_MISS):
        httpx.post(keyed + URL, json=PAYLOAD, headers=bearer(key))
    after = unauthorized_counts(keyed)
    assert after["missing"] - before["missing"] == 1
    assert after["invalid"] - before["invalid"] == 2
    text = httpx.get(keyed + "/metrics", headers=bearer(FILE_KEY)).text
    assert 'pagefix_http_errors_total{code="401"}' in text


def test_metrics_public_opens_metrics_only(bare_pipeline: DocPreprocessor, keys_file: Path) -> None:
    with running(keyed_app(bare_pipeline, keys_file, metrics_public=True)) as url:
        assert httpx.get(url + "/metrics").status_code == 200
        assert_401(httpx.post(url + URL, json=PAYLOAD))


def test_the_web_page_paths_are_public_and_the_api_behind_it_is_not(keyed: str) -> None:
    # Nothing is served there yet (404); what matters is that the key is not asked for.
    for path in ("/", "/ui/index.html", "/ui/app.js", "/static/app.css"):
        assert httpx.get(keyed + path).status_code != 401, path
    assert_401(httpx.post(keyed + "/", json=PAYLOAD))
    assert_401(httpx.get(keyed + "/uix"))


def raw_exchange(url: str, data: bytes, wait: float = 10) -> bytes:
    port = int(url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=wait) as sock:
        sock.sendall(data)
        chunks = []
        try:
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        except (ConnectionResetError, socket.timeout):
            pass
    return b"".join(chunks)


def test_401_is_decided_on_the_headers_before_the_body(keyed: str) -> None:
    # A client that waits for "100 Continue" is refused without ever being asked for its body.
    head = (b"POST /document-preprocessing HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 3000000\r\nExpect: 100-continue\r\nAuthorization: Bearer wrong\r\n\r\n")
    answer = raw_exchange(keyed, head)
    assert answer.startswith(b"HTTP/1.1 401"), answer[:200]
    assert b"100 Continue" not in answer
    assert b'"errorCode":401' in answer


def test_a_client_still_uploading_reads_its_401(keyed: str) -> None:
    sent = 0

    def slow_body() -> Iterator[bytes]:  # chunked, a piece at a time: the 401 must wait for it
        nonlocal sent
        yield b'{"file": "'
        for _ in range(30):
            sent += 65536
            yield b"A" * 65536
        yield b'"}'

    response = httpx.post(keyed + URL, content=slow_body(), headers={"Content-Type": "application/json"}, timeout=60)
    assert_401(response)
    assert sent == 30 * 65536
    # The body was read to its end, so the connection stays usable.
    with httpx.Client(base_url=keyed, timeout=60) as client:
        assert_401(client.post(URL, content=b"x" * 3_000_000, headers={"Content-Type": "application/json"}))
        assert client.post(URL, json=PAYLOAD, headers=bearer(ENV_KEY)).status_code == 200


def test_keys_are_never_logged(keyed: str, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="pagefix.serving"):
        assert_401(httpx.post(keyed + URL, json=PAYLOAD, headers=bearer(NEAR_MISS)))
    text = caplog.text
    assert NEAR_MISS not in text and FILE_KEY not in text
    assert key_id(NEAR_MISS) in text
    assert FILE_KEY not in repr(ApiKeys(env_keys=[FILE_KEY]))


# ----- CORS -------------------------------------------------------------------------------------


def preflight(url: str, origin: str = ORIGIN) -> httpx.Response:
    return httpx.options(url + URL, headers={
        "Origin": origin, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type",
    })


def test_no_cors_headers_by_default(open_server: str, keyed: str) -> None:
    for url in (open_server, keyed):
        answer = httpx.get(url + "/health", headers={"Origin": ORIGIN})
        assert not [h for h in answer.headers if h.startswith("access-control-")]
        assert not [h for h in preflight(url).headers if h.startswith("access-control-")]
    # A preflight is not refused for want of a key (browsers never send credentials with one).
    assert preflight(keyed).status_code != 401


def test_cors_origin_allows_that_origin_with_the_key_header(bare_pipeline: DocPreprocessor, keys_file: Path) -> None:
    app = keyed_app(bare_pipeline, keys_file, cors_origins=(ORIGIN,))
    with running(app) as url:
        allowed = preflight(url)
        other = preflight(url, "https://elsewhere.example.org")
        served = httpx.post(url + URL, json=PAYLOAD, headers={"Origin": ORIGIN, **bearer(FILE_KEY)}, timeout=60)
        refused = httpx.post(url + URL, json=PAYLOAD, headers={"Origin": ORIGIN})
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == ORIGIN
    allowed_headers = {h.strip().lower() for h in allowed.headers["access-control-allow-headers"].split(",")}
    assert {"authorization", "x-api-key", "content-type"} <= allowed_headers
    assert "POST" in allowed.headers["access-control-allow-methods"]
    assert "access-control-allow-origin" not in other.headers
    assert served.status_code == 200 and served.headers["access-control-allow-origin"] == ORIGIN
    # The page can read why it was refused.
    assert_401(refused)
    assert refused.headers["access-control-allow-origin"] == ORIGIN


# ----- settings and the command -----------------------------------------------------------------


def test_keys_file_and_cors_come_from_the_serving_section(tmp_path: Path, keys_file: Path) -> None:
    settings = ServingSettings.from_config({"api_keys_file": str(keys_file), "metrics_public": True,
                                            "cors_origins": ["HTTPS://Pages.Example.org/", "*"]})
    assert settings.api_keys_file == str(keys_file) and settings.metrics_public
    assert settings.cors_origins == (ORIGIN, "*")
    with pytest.raises(ConfigError, match="scheme://host"):
        ServingSettings.from_config({"cors_origins": ["https://pages.example.org/app"]})
    with pytest.raises(ConfigError, match="allow_anonymous must be true or false"):
        ServingSettings.from_config({"allow_anonymous": "yes"})


def test_keys_file_format(tmp_path: Path) -> None:
    path = tmp_path / "keys"
    path.write_text("# comment\n\n  key-one  \nkey-two\n#key-three\n")
    keys = ApiKeys(path)
    assert len(keys) == 2 and keys.accepts(b"key-one") and keys.accepts(b"key-two")
    assert not keys.accepts(b"#key-three") and not keys.accepts(b"key-one ")
    path.write_text("key one\n")
    with pytest.raises(ConfigError, match=r"line 1 has a space") as refused:
        ApiKeys(path)
    assert "key one" not in str(refused.value)
    path.write_text("# nothing yet\n")
    with pytest.raises(ConfigError, match="no API key found"):
        ApiKeys(path, env_keys=["env-key"])  # a named file must hold a key of its own
    with pytest.raises(ConfigError, match="cannot read API keys file"):
        ApiKeys(tmp_path / "missing")


def test_a_bad_reload_keeps_the_keys_in_use(tmp_path: Path) -> None:
    path = tmp_path / "keys"
    path.write_text("first-key\n")
    keys = ApiKeys(path, env_keys=["env-key"])
    for broken in ("", "# all commented out\n", "a key with spaces\n"):
        path.write_text(broken)
        assert keys.reload() is False
        assert keys.accepts(b"first-key") and keys.accepts(b"env-key")
    path.unlink()
    assert keys.reload() is False and keys.accepts(b"first-key")
    path.write_text("second-key\n")
    assert keys.reload() is True
    assert keys.accepts(b"second-key") and keys.accepts(b"env-key") and not keys.accepts(b"first-key")


@pytest.fixture
def served(monkeypatch: pytest.MonkeyPatch) -> list[tuple]:
    import pagefix.serving.server as server

    calls: list[tuple] = []
    monkeypatch.setattr(server, "serve", lambda app, host, port, log_level: calls.append((app, host, port)))
    return calls


def test_command_flags_reach_the_app(served: list[tuple], keys_file: Path) -> None:
    code = main(["serve", "--use_doc_orientation_classify", "False", "--use_doc_unwarping", "False",
                 "--api_keys_file", str(keys_file), "--metrics_public", "--allow_anonymous",
                 "--cors_origin", ORIGIN, "--cors_origin", "http://localhost:3000"])
    assert code == 0
    ((app, _, _),) = served
    settings = app.state.settings
    assert settings.api_keys_file == str(keys_file) and settings.metrics_public and settings.allow_anonymous
    assert settings.cors_origins == (ORIGIN, "http://localhost:3000")
    assert app.state.api_keys.accepts(FILE_KEY.encode()) and len(app.state.api_keys) == 1


def test_command_with_an_unreadable_keys_file_stops_before_loading_models(
        served: list[tuple], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--api_keys_file", str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "cannot read API keys file" in err[0]
    assert not served


def test_exposure_warning_rules() -> None:
    keys = ApiKeys(env_keys=["k"])
    assert exposure_warning("0.0.0.0", None, False) is not None
    assert exposure_warning("::", None, False) is not None
    for loopback in ("127.0.0.1", "::1", "[::1]", "localhost", "127.0.0.2"):
        assert exposure_warning(loopback, None, False) is None, loopback
    assert exposure_warning("0.0.0.0", keys, False) is None
    assert exposure_warning("0.0.0.0", None, True) is None


# ----- the real process: SIGHUP and the start-up warning -----------------------------------------


class ServeProcess:
    """`pagefix serve` with both stages off (no model to load), its stderr kept in a file."""

    def __init__(self, tmp_path: Path, *flags: str, env: dict[str, str] | None = None,
                 host: str = "127.0.0.1") -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tmp_path / f"serve-{self.port}.log"
        environ = {k: v for k, v in os.environ.items() if k != API_KEYS_ENV}
        with self.log.open("w") as sink:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "pagefix", "serve", "--host", host, "--port", str(self.port),
                 "--workers", "1", "--use_doc_orientation_classify", "False", "--use_doc_unwarping", "False",
                 *flags],
                cwd=REPO, env={**environ, **(env or {}), "PYTHONUNBUFFERED": "1"}, stdout=sink,
                stderr=subprocess.STDOUT,
            )

    def __enter__(self) -> ServeProcess:
        deadline = time.monotonic() + 120
        while not self._ready():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise AssertionError(f"pagefix serve did not start:\n{self.log.read_text()}")
            time.sleep(0.1)
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _ready(self) -> bool:
        try:
            return httpx.get(self.url + "/ready", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def stop(self) -> str:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.log.read_text()


def wait_until(condition, timeout: float = 30) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached")
        time.sleep(0.05)


def test_sighup_reloads_the_keys_file_without_dropping_a_request_in_flight(tmp_path: Path) -> None:
    keys = tmp_path / "api_keys"
    keys.write_text("old-key-3c1f9e\n")
    PAYLOAD_BYTES = f'{{"file": "{PAYLOAD["file"]}", "visualize": false}}'.encode()
    release = threading.Event()

    def held_body() -> Iterator[bytes]:  # sent in two parts; the second once the keys have changed
        yield PAYLOAD_BYTES[:100]
        if not release.wait(60):
            raise RuntimeError("the test never released the body")
        yield PAYLOAD_BYTES[100:]

    def accepted(key: str) -> bool:
        return httpx.get(server.url + "/metrics", headers=bearer(key), timeout=10).status_code == 200

    with ServeProcess(tmp_path, "--api_keys_file", str(keys), env={API_KEYS_ENV: "env-key-77aa01"}) as server, \
            ThreadPoolExecutor(1) as background:
        in_flight = background.submit(httpx.post, server.url + URL, content=held_body(), timeout=120,
                                      headers={"Content-Type": "application/json", **bearer("old-key-3c1f9e")})
        # Past the key check: it holds a place in the pool while its body is still coming.
        wait_until(lambda: "pagefix_jobs_admitted 1.0" in httpx.get(
            server.url + "/metrics", headers=bearer("old-key-3c1f9e")).text)
        keys.write_text("# rotated\nnew-key-9d0b42\n")
        server.process.send_signal(signal.SIGHUP)
        wait_until(lambda: accepted("new-key-9d0b42"))
        old_refused = httpx.post(server.url + URL, json=PAYLOAD, headers=bearer("old-key-3c1f9e"))
        env_still = httpx.post(server.url + URL, json=PAYLOAD, headers=bearer("env-key-77aa01"), timeout=60)
        release.set()
        response = in_flight.result()
        assert server.process.poll() is None  # SIGHUP did not end the server
        output = server.stop()
    assert_401(old_refused)
    assert env_still.status_code == 200
    assert response.status_code == 200, response.text
    assert response.json()["result"]["dataInfo"]["type"] == "image"
    assert "API keys reloaded" in output
    assert "old-key-3c1f9e" not in output and "new-key-9d0b42" not in output
    assert key_id("new-key-9d0b42") in output


@pytest.mark.parametrize("case", ["anonymous", "allow_anonymous", "keyed"])
def test_serving_all_addresses_without_a_key_warns_once(tmp_path: Path, case: str) -> None:
    flags = ("--allow_anonymous",) if case == "allow_anonymous" else ()
    env = {API_KEYS_ENV: "env-key-77aa01"} if case == "keyed" else None
    with ServeProcess(tmp_path, *flags, env=env, host="0.0.0.0") as server:  # requests go to 127.0.0.1 only
        warnings = httpx.get(server.url + "/ready").json()["warnings"]
        output = server.stop()
    lines = [line for line in output.splitlines() if "with no API key" in line]
    if case == "anonymous":
        assert len(lines) == 1, output
        assert "WARNING" in lines[0] and "0.0.0.0" in lines[0] and "--allow_anonymous" in lines[0]
        assert len(warnings) == 1 and "no API key" in warnings[0]
    else:
        assert lines == [] and warnings == [], output


# ----- the spec's Python client, with the header added, on the real models ---------------------------


def test_the_reference_python_client_with_the_header_added_gets_its_pages(
        pipeline, keys_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    import requests

    demo = tmp_path / "demo.jpg"
    demo.write_bytes(page_jpeg((480, 640)))
    monkeypatch.chdir(tmp_path)
    with running(keyed_app(pipeline, keys_file)) as url:
        API_URL = url + "/document-preprocessing"
        API_KEY = FILE_KEY
        file_path = "./demo.jpg"
        with open(file_path, "rb") as file:
            file_bytes = file.read()
            file_data = base64.b64encode(file_bytes).decode("ascii")
        payload = {"file": file_data, "fileType": 1}
        headers = {"Authorization": f"Bearer {API_KEY}"}
        response = requests.post(API_URL, json=payload, headers=headers)
        assert response.status_code == 200
        result = response.json()["result"]
        for i, res in enumerate(result["docPreprocessingResults"]):
            with open(f"out_{i}.png", "wb") as f:
                f.write(base64.b64decode(res["outputImage"]))
        without = requests.post(API_URL, json=payload)
    assert len(result["docPreprocessingResults"]) == 1
    assert set(result["docPreprocessingResults"][0]["prunedResult"]) >= {"angle", "model_settings"}
    with Image.open(io.BytesIO((tmp_path / "out_0.png").read_bytes())) as image:
        assert image.format == "PNG"
    assert without.status_code == 401 and without.json()["errorCode"] == 401
