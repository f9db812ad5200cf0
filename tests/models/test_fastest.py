"""enable_hpi and cpu_backend="auto": every CPU configuration computes the same model, the fastest
is picked, logged and remembered per machine, and a candidate that breaks is left out."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest

from pagefix.errors import ConfigError
from pagefix.models import ModelStore, OrientationClassifier, RuntimeOptions, Unwarper
from pagefix.models.fastest import Candidate, candidates, choose_fastest
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


@needs_openvino
def test_the_candidates_are_timed_at_every_batch_size_asked_and_remembered_per_set(hpi_home, caplog):
    files = ModelStore().resolve("orientation")
    options = RuntimeOptions(device="cpu", cpu_threads=2, enable_hpi=True)
    with caplog.at_level(logging.INFO, logger="pagefix"):
        runner = choose_fastest(files.path, options, (1, 3, 224, 224), batches=(1, 4))
    assert "for calls of 1 and 4 inputs" in caplog.text
    assert runner(np.zeros((4, 3, 224, 224), dtype=np.float32))[0].shape == (4, 4)
    choose_fastest(files.path, options, (1, 3, 224, 224))  # other batch sizes: measured again
    keys = list(json.loads((hpi_home / "hpi.json").read_text()))
    assert len(keys) == 2 and sorted(key.rsplit("|", 1)[1] for key in keys) == ["batches=1", "batches=1,4"]


def test_without_openvino_hpi_says_what_to_install(hpi_home, monkeypatch, caplog):
    import pagefix.models.fastest as fastest

    monkeypatch.setattr(fastest, "openvino_installed", lambda: False)
    monkeypatch.setattr(fastest, "available_providers", lambda: ["CPUExecutionProvider"])
    files = ModelStore().resolve("orientation")
    with caplog.at_level(logging.WARNING, logger="pagefix"):
        runner = choose_fastest(files.path, RuntimeOptions(device="cpu", enable_hpi=True), (1, 3, 224, 224))
    assert isinstance(runner, OnnxRunner)
    assert "pagefix[openvino]" in caplog.text


# -- cpu_backend="auto", the default -------------------------------------------------------------

#: Largest difference, in pixels of UVDoc's 488x712 input, between a grid of a configuration
#: "auto" may pick and ONNX Runtime fp32's: measured 0.0004 px on the rendered curled page and
#: 0.0007 px at most on the 278 development pages (bench/backends.py).
GRID_BOUND_PX = 0.01  # the fp32 configurations
#: bf16 moves UVDoc's grid by up to 2.3 px of its input on the development photos (docs/unwarping.md,
#: CPU configurations); the unwarped pages stay within the metrics' noise.
BF16_GRID_BOUND_PX = 3.0


def auto_candidates(files):
    """The configurations `cpu_backend="auto"` chooses among for this model here."""
    bf16 = files.spec is not None and files.spec.bf16_measured_equal
    return candidates(files.path, AUTO, bf16_ok=bf16)


@pytest.fixture(scope="module")
def uvdoc():
    return ModelStore().resolve("unwarping")


@pytest.fixture()
def choices(tmp_path, monkeypatch):
    """Where the choices are remembered, for this test only (the models stay in the user's cache)."""
    import pagefix.models.fastest as fastest

    path = tmp_path / "hpi.json"
    monkeypatch.setattr(fastest, "_cache_path", lambda: path)
    monkeypatch.setattr(fastest, "_compiled_dir", lambda: tmp_path / "openvino")
    return path


AUTO = RuntimeOptions(device="cpu", cpu_threads=2, cpu_backend="auto")


@needs_openvino
def test_auto_measures_once_logs_once_and_reuses_the_choice(uvdoc, choices, caplog):
    with caplog.at_level(logging.INFO, logger="pagefix"):
        Unwarper.from_files(uvdoc, AUTO)
    (key, entry), = json.loads(choices.read_text()).items()
    expected = {c.name for c in auto_candidates(uvdoc)}
    assert set(entry["seconds"]) == expected and "openvino-fp32" in expected
    assert entry["name"] == min(entry["seconds"], key=entry["seconds"].get)
    assert f"cpu_backend=auto: UVDoc runs on {entry['name']}" in caplog.text

    # The remembered choice is what the next load gets, without measuring or saying it again.
    choices.write_text(json.dumps({key: {"name": "openvino-fp32", "seconds": entry["seconds"]}}))
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="pagefix"):
        again = Unwarper.from_files(uvdoc, AUTO)
    assert isinstance(again.runner, OpenVinoRunner) and again.runner.precision == "f32"
    assert caplog.text == ""
    assert any((choices.parent / "openvino").iterdir())  # the winner's compiled model is kept


def test_onnxruntime_pinned_is_plain_onnx_runtime_and_measures_nothing(uvdoc, choices, pages):
    from pagefix import DocPreprocessor

    pipeline = DocPreprocessor(device="cpu", cpu_threads=2, cpu_backend="onnxruntime",
                               use_doc_orientation_classify=False)
    for runner in (pipeline.unwarper.runner, Unwarper.from_files(uvdoc, RuntimeOptions(device="cpu")).runner):
        assert isinstance(runner, OnnxRunner) and runner.providers == ["CPUExecutionProvider"]
    assert not choices.exists()
    with pytest.raises(ConfigError, match="contradict"):
        DocPreprocessor(device="cpu", cpu_backend="onnxruntime", enable_hpi=True, use_doc_orientation_classify=False)


def test_the_pipeline_defaults_to_auto():
    from pagefix.pipeline.settings import PipelineConfig

    assert PipelineConfig().cpu_backend == "auto"


@needs_openvino
def test_every_configuration_auto_may_pick_gives_fp32_grids_and_decisions(uvdoc, pages):
    from pagefix import DocPreprocessor

    reference = Unwarper.from_files(uvdoc, RuntimeOptions(device="cpu", cpu_threads=2))
    photo, scan = pages.curled, pages.scan
    expected = reference.predict_grids([photo])[0]

    def unwarped(unwarper: Unwarper) -> list[bool]:
        """Which of the two pages the pipeline unwarps (the flat-page probe's decisions)."""
        pipeline = DocPreprocessor(use_doc_orientation_classify=False, unwarper=unwarper)
        return [result.unwarp_applied for result in pipeline.predict([photo, scan])]

    assert unwarped(reference) == [True, False]
    scale = np.array([487 / 2, 711 / 2])[:, None, None]
    for candidate in auto_candidates(uvdoc):
        runner = candidate.load()
        bf16 = getattr(runner, "precision", "f32") == "bf16"
        # At bf16 the pipeline reads a probe near a limit again at fp32 (Unwarper.from_files).
        unwarper = Unwarper(runner, exact=(lambda: reference.runner) if bf16 else None)
        difference = np.abs(unwarper.predict_grids([photo])[0] - expected) * scale
        assert difference.max() <= (BF16_GRID_BOUND_PX if bf16 else GRID_BOUND_PX), (candidate.name, difference.max())
        assert unwarped(unwarper) == [True, False], candidate.name


class _WrongShapes:
    def __call__(self, batch):
        return [np.zeros((len(batch), 3, 5), np.float32)]


def _broken():
    raise RuntimeError("cannot compile: no such kernel")


def test_a_broken_candidate_is_left_out_with_a_warning(uvdoc, choices, monkeypatch, caplog):
    import pagefix.models.fastest as fastest

    plain = RuntimeOptions(device="cpu", cpu_threads=2)
    found = [Candidate("onnxruntime", lambda: OnnxRunner.load(uvdoc.path, plain)),
             Candidate("openvino-bf16", _broken), Candidate("openvino-fp32", _WrongShapes)]
    monkeypatch.setattr(fastest, "candidates", lambda *args, **kwargs: found)
    with caplog.at_level(logging.INFO, logger="pagefix"):
        unwarper = Unwarper.from_files(uvdoc, AUTO)
    assert isinstance(unwarper.runner, OnnxRunner)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("openvino-bf16 cannot run" in w and "no such kernel" in w for w in warnings)
    assert any("openvino-fp32 gives outputs of shapes" in w for w in warnings)
    assert "Traceback" not in caplog.text

    # A remembered choice that no longer loads: ONNX Runtime, with a warning.
    (key, entry), = json.loads(choices.read_text()).items()
    choices.write_text(json.dumps({key: {"name": "openvino-bf16", "seconds": {"openvino-bf16": 0.01}}}))
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="pagefix"):
        again = Unwarper.from_files(uvdoc, AUTO)
    assert isinstance(again.runner, OnnxRunner)
    assert "openvino-bf16 no longer loads UVDoc" in caplog.text


def test_without_openvino_auto_is_onnx_runtime_and_says_nothing(uvdoc, choices, monkeypatch, caplog):
    import pagefix.models.fastest as fastest

    monkeypatch.setattr(fastest, "openvino_installed", lambda: False)
    monkeypatch.setattr(fastest, "available_providers", lambda: ["CPUExecutionProvider"])
    with caplog.at_level(logging.INFO, logger="pagefix"):
        unwarper = Unwarper.from_files(uvdoc, AUTO)
    assert isinstance(unwarper.runner, OnnxRunner)
    assert caplog.text == "" and not choices.exists()


def test_an_openvino_that_cannot_start_is_left_out_with_a_warning(uvdoc, choices, monkeypatch, caplog):
    import pagefix.models.fastest as fastest

    def broken_install() -> bool:
        raise OSError("libopenvino.so: cannot open shared object file")

    monkeypatch.setattr(fastest, "openvino_installed", broken_install)
    with caplog.at_level(logging.WARNING, logger="pagefix"):
        unwarper = Unwarper.from_files(uvdoc, AUTO)
    assert isinstance(unwarper.runner, OnnxRunner)
    assert "OpenVINO is installed but cannot start" in caplog.text and "libopenvino.so" in caplog.text
