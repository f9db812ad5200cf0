"""The reference API over real HTTP, on the real models: images, PDFs, visualize, the page limit,
health, readiness, metrics and the served OpenAPI schema."""

from __future__ import annotations

import base64
import io

import httpx
import numpy as np
import pytest
from PIL import Image
from support.serving import b64, decode_png, encode, running

from pagefix.models import DEFAULT_MODELS
from pagefix.serving import create_app
from pagefix.serving.settings import ServingSettings

URL = "/document-preprocessing"


def test_image_is_turned_upright_and_answered_in_the_reference_envelope(client: httpx.Client, page_image: Image.Image) -> None:
    turned = page_image.rotate(180)  # content turned 180 degrees
    response = client.post(URL, json={"file": b64(encode(turned)), "fileType": 1, "useDocUnwarping": False})
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {"logId", "result", "errorCode", "errorMsg"}
    assert (body["errorCode"], body["errorMsg"]) == (0, "Success")
    result = body["result"]
    assert result["dataInfo"] == {"width": 596, "height": 794, "type": "image"}
    (page,) = result["docPreprocessingResults"]
    # The page's JSON result without input_path and page_index (warp_score is null: no probe ran).
    pruned = page["prunedResult"]
    # skew_angle: the straight scan's fine skew, measured (unwarping off: every page is deskewed).
    assert abs(pruned.pop("skew_angle")) < 0.1
    # angle_model (pagefix): the orientation model that decided, the default one here.
    assert pruned.pop("angle_model") == DEFAULT_MODELS["orientation"]
    assert pruned == {
        "model_settings": {"use_doc_orientation_classify": True, "use_doc_unwarping": False}, "angle": 180,
        "unwarp_applied": False,
    }
    output = decode_png(page["outputImage"])
    assert output.shape == (794, 596, 3)
    # Turned back: close to the upright original (JPEG noise only).
    upright = np.asarray(Image.open(io.BytesIO(encode(page_image))).convert("RGB")).astype(int)
    assert np.abs(output.astype(int) - upright).mean() < 8


def test_flat_page_options_reach_the_pipeline(client: httpx.Client, page_jpeg: bytes) -> None:
    skipped = client.post(URL, json={"file": b64(page_jpeg), "fileType": 1, "useDocOrientationClassify": False}).json()
    (page,) = skipped["result"]["docPreprocessingResults"]
    assert page["prunedResult"]["unwarp_applied"] is False and page["prunedResult"]["warp_score"] < 2.0
    forced = client.post(URL, json={"file": b64(page_jpeg), "fileType": 1, "useDocOrientationClassify": False,
                                    "skipFlatPages": False, "keepMargin": 0.1}).json()
    (page,) = forced["result"]["docPreprocessingResults"]
    assert page["prunedResult"]["unwarp_applied"] is True and "warp_score" not in page["prunedResult"]
    output = decode_png(page["outputImage"])
    assert output.shape[0] > 794  # the margin enlarged the page
    bad = client.post(URL, json={"file": b64(page_jpeg), "keepMargin": 0.9})
    assert bad.status_code == 422 and bad.json()["errorCode"] == 422


def test_visualize_true_returns_jpeg_images_false_omits_the_keys(client: httpx.Client, page_jpeg: bytes) -> None:
    shown = client.post(URL, json={"file": b64(page_jpeg), "fileType": 1, "visualize": True}).json()
    (page,) = shown["result"]["docPreprocessingResults"]
    for key in ("docPreprocessingImage", "inputImage"):
        data = base64.b64decode(page[key])
        assert data[:3] == b"\xff\xd8\xff", key
    with Image.open(io.BytesIO(base64.b64decode(page["inputImage"]))) as image:
        assert image.size == (596, 794)
    hidden = client.post(URL, json={"file": b64(page_jpeg), "fileType": 1, "visualize": False}).json()
    (page,) = hidden["result"]["docPreprocessingResults"]
    assert set(page) == {"outputImage", "prunedResult"}  # absent, not null


def test_visualize_defaults_to_true(client: httpx.Client, page_jpeg: bytes) -> None:
    body = client.post(URL, json={"file": b64(page_jpeg)}).json()
    (page,) = body["result"]["docPreprocessingResults"]
    assert "docPreprocessingImage" in page and "inputImage" in page
    # fileType left out: taken from the content.
    assert body["result"]["dataInfo"]["type"] == "image"


def test_three_page_pdf_gives_three_results_and_page_sizes(client: httpx.Client, make_pdf) -> None:  # type: ignore[no-untyped-def]
    response = client.post(URL, json={"file": b64(make_pdf(3)), "fileType": 0, "visualize": False,
                                      "useDocUnwarping": False})
    assert response.status_code == 200, response.text
    result = response.json()["result"]
    info = result["dataInfo"]
    assert info["type"] == "pdf" and info["numPages"] == 3
    assert info["pages"] == [{"width": 596, "height": 794}] * 3  # 298x397 pt at scale 2
    angles = [r["prunedResult"]["angle"] for r in result["docPreprocessingResults"]]
    assert angles == [0, 180, 0]
    for page in result["docPreprocessingResults"]:
        assert decode_png(page["outputImage"]).shape == (794, 596, 3)


def test_pdf_page_limit_default_is_ten(client: httpx.Client, make_pdf) -> None:  # type: ignore[no-untyped-def]
    body = client.post(URL, json={"file": b64(make_pdf(12)), "fileType": 0, "visualize": False,
                                  "useDocOrientationClassify": False, "useDocUnwarping": False}).json()
    assert body["result"]["dataInfo"]["numPages"] == 10
    assert len(body["result"]["docPreprocessingResults"]) == 10
    assert body["result"]["docPreprocessingResults"][0]["prunedResult"]["angle"] == -1
    assert "angle_model" not in body["result"]["docPreprocessingResults"][0]["prunedResult"]  # not classified


def test_serving_section_sets_page_limit_visualize_and_output_cap(pipeline, make_pdf) -> None:  # type: ignore[no-untyped-def]
    config = {"Serving": {"visualize": False, "extra": {"max_num_input_imgs": 2, "max_output_img_size": [300, 300]}}}
    with running(create_app(pipeline, config=config)) as url:
        body = httpx.post(url + URL, json={"file": b64(make_pdf(3)), "useDocUnwarping": False}, timeout=120).json()
    result = body["result"]
    assert result["dataInfo"]["numPages"] == 2 and len(result["docPreprocessingResults"]) == 2
    for page in result["docPreprocessingResults"]:
        assert set(page) == {"outputImage", "prunedResult"}
        assert decode_png(page["outputImage"]).shape == (300, 225, 3)  # 596x794 shrunk to fit 300x300


def test_unlimited_pages_with_null(pipeline, make_pdf) -> None:  # type: ignore[no-untyped-def]
    settings = ServingSettings.from_config({"extra": {"max_num_input_imgs": None}})
    with running(create_app(pipeline, settings=settings)) as url:
        body = httpx.post(url + URL, json={"file": b64(make_pdf(11)), "visualize": False,
                                           "useDocOrientationClassify": False, "useDocUnwarping": False},
                          timeout=120).json()
    assert body["result"]["dataInfo"]["numPages"] == 11


def test_multi_frame_tiff_is_reported_as_tiff(client: httpx.Client, page_image: Image.Image) -> None:
    frames = [page_image.resize((149, 199)), page_image.resize((149, 199)).rotate(180)]
    data = encode(frames[0], "TIFF", save_all=True, append_images=frames[1:])
    body = client.post(URL, json={"file": b64(data), "fileType": 1, "visualize": False,
                                  "useDocUnwarping": False}).json()
    assert body["result"]["dataInfo"] == {"numPages": 2, "pages": [{"width": 149, "height": 199}] * 2, "type": "tiff"}


def test_health_ready_and_metrics(client: httpx.Client, page_jpeg: bytes) -> None:
    health = client.get("/health")
    assert health.status_code == 200
    assert health.json()["errorCode"] == 0 and health.json()["errorMsg"] == "Healthy"
    ready = client.get("/ready")
    assert ready.status_code == 200 and ready.json()["errorMsg"] == "Ready"
    client.post(URL, json={"file": b64(page_jpeg), "visualize": False, "useDocUnwarping": False})
    client.post(URL, json={"file": "not base64!"})
    text = client.get("/metrics").text
    assert 'pagefix_http_requests_total{path="/document-preprocessing",status="200"}' in text
    assert 'pagefix_http_errors_total{code="422"}' in text
    assert "pagefix_http_request_duration_seconds_bucket" in text
    assert "pagefix_http_requests_in_flight" in text
    pages = [line for line in text.splitlines() if line.startswith("pagefix_pages_processed_total")]
    assert pages and float(pages[0].split()[-1]) >= 1
    client.get("/no/such/path")
    assert 'path="other",status="404"' in client.get("/metrics").text


def test_openapi_schema_describes_the_reference_api(client: httpx.Client) -> None:
    schema = client.get("/openapi.json").json()
    operation = schema["paths"]["/document-preprocessing"]["post"]
    assert operation["operationId"] == "infer"
    request = schema["components"]["schemas"]["InferRequest"]
    # The reference's fields, plus pagefix's optional ones (skipFlatPages, keepMargin, deskew).
    assert set(request["properties"]) == {"file", "fileType", "useDocOrientationClassify", "useDocUnwarping", "visualize",
                                          "skipFlatPages", "keepMargin", "deskew"}
    assert request["required"] == ["file"]
    result = schema["components"]["schemas"]["DocPreprocessingResult"]
    assert set(result["properties"]) == {"outputImage", "prunedResult", "docPreprocessingImage", "inputImage"}
    assert {"413", "422", "500", "503", "504"} <= set(operation["responses"])
    assert set(schema["paths"]) == {"/document-preprocessing", "/health", "/ready"}


def test_spec_python_client_example_runs_unchanged(server: str, page_jpeg: bytes, tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Spec section 3, "Multi-language Service Call Examples", Python: only API_URL changed."""
    pytest.importorskip("requests")
    (tmp_path / "demo.jpg").write_bytes(page_jpeg)
    monkeypatch.chdir(tmp_path)
    example = '''
import base64
import requests

API_URL = "http://localhost:8080/document-preprocessing"
file_path = "./demo.jpg"

with open(file_path, "rb") as file:
    file_bytes = file.read()
    file_data = base64.b64encode(file_bytes).decode("ascii")

payload = {"file": file_data, "fileType": 1}

response = requests.post(API_URL, json=payload)

assert response.status_code == 200
result = response.json()["result"]
for i, res in enumerate(result["docPreprocessingResults"]):
    print(res["prunedResult"])
    output_img_path = f"out_{i}.png"
    with open(output_img_path, "wb") as f:
        f.write(base64.b64decode(res["outputImage"]))
    print(f"Output image saved at {output_img_path}")
'''.replace("http://localhost:8080", server)
    exec(compile(example, "spec_client_example.py", "exec"), {})
    with Image.open(tmp_path / "out_0.png") as image:
        assert image.format == "PNG"
        image.load()
        assert image.size[0] > 100 and image.size[1] > 100


def test_scores_carry_one_rounding_in_the_cli_http_and_the_batch_manifest(
    client: httpx.Client, page_jpeg: bytes, tmp_path, capsys,
) -> None:
    """The same page's warp_score reads the same in the CLI's JSON, the HTTP prunedResult and the
    batch manifest (3 decimals), and the manifest's angle_score has 4 decimals, not float32 digits."""
    import json

    import pyarrow.parquet as pq

    from pagefix.batch import MANIFEST_NAME, BatchOptions, run_batch
    from pagefix.cli.main import main

    (tmp_path / "in").mkdir()
    source = tmp_path / "in" / "page.jpg"
    source.write_bytes(page_jpeg)
    assert main(["doc_preprocessor", "-i", str(source), "--cpu_threads", "2", "--device", "cpu"]) == 0
    cli = json.loads(capsys.readouterr().out)["res"]["warp_score"]
    body = client.post(URL, json={"file": b64(page_jpeg), "fileType": 1}).json()
    http = body["result"]["docPreprocessingResults"][0]["prunedResult"]["warp_score"]
    run_batch(BatchOptions([str(tmp_path / "in")], str(tmp_path / "out"), pipeline={"device": "cpu", "cpu_threads": 2}))
    (row,) = pq.read_table(tmp_path / "out" / MANIFEST_NAME).to_pylist()
    assert cli == http == row["warp_score"]
    assert cli == round(cli, 3) and cli != round(cli, 2)  # three decimals, and a score that needs them
    score = row["angle_score"]
    assert isinstance(score, float) and score == round(score, 4) and len(repr(score).split(".")[1]) <= 4
