"""enable_hpi: every CPU configuration computes the same model, the fastest is picked, logged and
remembered per machine."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest

from pagefix.models import ModelStore, OrientationClassifier, RuntimeOptions, Unwarper
from pagefix.models.fastest import candidates, choose_fastest
from pagefix.models.openvino_runner import OpenVinoRunner, openvino_installed
from pagefix.models.runtime import OnnxRunner

needs_openvino = pytest.mark.skipif(not openvino_installed(), reason="the openvino extra is not installed")


@pytest.fixture(scope="module")
def photo(pages) -> np.ndarray:
    return pages.curled


@pytest.fixture()
def hpi_home(tmp_path, monkeypatch):
    monkeypatch.setenv("PAGEFIX_HOME", str(tmp_path))
    return tmp_path


@needs_openvino
def test_openvino_fp32_computes_what_onnx_runtime_computes(photo):
    store = ModelStore()
    options = RuntimeOptions(device="cpu", cpu_threads=2)
    for task, model in (("orientation", OrientationClassifier), ("unwarping", Unwarper)):
        files = store.resolve(task)
        onnx = model.from_files(files, options)
        batch = (onnx.preprocess(photo)[None] if task == "orientation" else onnx.model_input(photo)[None])
        expected = onnx.runner(batch)[0]
        got = OpenVinoRunner.load(files.path, 2, "f32")(batch)[0]
        assert got.shape == expected.shape
        np.testing.assert_allclose(got, expected, atol=1e-4)


@needs_openvino
def test_bf16_is_a_candidate_only_where_measured_fine():
    path = ModelStore().resolve("orientation").path
    options = RuntimeOptions(device="cpu", cpu_threads=2)
    assert "openvino-bf16" not in [c.name for c in candidates(path, options, bf16_ok=False)]
    names = [c.name for c in candidates(path, options, bf16_ok=True)]
    assert names[0] == "onnxruntime" and "openvino-fp32" in names


@needs_openvino
def test_the_fastest_is_picked_logged_and_remembered(hpi_home, photo, caplog):
    files = ModelStore().resolve("orientation")
    options = RuntimeOptions(device="cpu", cpu_threads=2, enable_hpi=True)
    with caplog.at_level(logging.INFO, logger="pagefix"):
        runner = choose_fastest(files.path, options, (1, 3, 224, 224))
    chosen = json.loads((hpi_home / "hpi.json").read_text())
    (entry,) = chosen.values()
    assert entry["name"] == min(entry["seconds"], key=entry["seconds"].get)
    assert {"onnxruntime", "openvino-fp32"} <= set(entry["seconds"])
    assert f"runs on {entry['name']}" in caplog.text

    caplog.clear()
    with caplog.at_level(logging.INFO, logger="pagefix"):
        again = choose_fastest(files.path, options, (1, 3, 224, 224))
    assert "measured earlier" in caplog.text

    reference = OrientationClassifier.from_files(files, RuntimeOptions(device="cpu", cpu_threads=2))
    batch = reference.preprocess(photo)[None]
    for chosen_runner in (runner, again):
        np.testing.assert_allclose(chosen_runner(batch)[0], reference.runner(batch)[0], atol=2e-2)


def test_without_openvino_hpi_says_what_to_install(hpi_home, monkeypatch, caplog):
    import pagefix.models.fastest as fastest

    monkeypatch.setattr(fastest, "openvino_installed", lambda: False)
    monkeypatch.setattr(fastest, "available_providers", lambda: ["CPUExecutionProvider"])
    files = ModelStore().resolve("orientation")
    with caplog.at_level(logging.WARNING, logger="pagefix"):
        runner = choose_fastest(files.path, RuntimeOptions(device="cpu", enable_hpi=True), (1, 3, 224, 224))
    assert isinstance(runner, OnnxRunner)
    assert "pagefix[openvino]" in caplog.text
