"""The settings table: each setting declared once, the YAML read from it and refused where it has a
key the table does not know, and the constructor and per-call checks made from it."""

from __future__ import annotations

import inspect
import logging

import pytest

from pagefix import DocPreprocessor
from pagefix.errors import ConfigError
from pagefix.pipeline.settings import SETTINGS, SETTINGS_BY_NAME, PipelineConfig, load_config, per_call_settings

#: No model is loaded with both stages off, so these pipelines are built in microseconds.
NO_MODELS = {"use_doc_orientation_classify": False, "use_doc_unwarping": False}


def test_the_table_is_the_config_fields():
    names = [row.name for row in SETTINGS]
    assert len(names) == len(set(names))
    config = PipelineConfig()
    for row in SETTINGS:
        assert getattr(config, row.name) == row.default, row.name
        assert row.help, row.name
        assert row.yaml, f"{row.name} has no YAML key"
        if row.http is not None:
            assert row.per_call, f"{row.name}: a request may change only per-call settings"
    http_names = [row.http.name for row in SETTINGS if row.http]
    assert http_names == ["useDocOrientationClassify", "useDocUnwarping", "skipFlatPages", "keepMargin", "deskew"]


def test_the_constructor_takes_every_setting_and_its_typed_ones_are_rows():
    parameters = inspect.signature(DocPreprocessor.__init__).parameters
    not_settings = {"self", "paddlex_config", "limits", "store", "orientation_classifier", "unwarper", "settings"}
    assert set(parameters) - not_settings <= set(SETTINGS_BY_NAME)
    # A row without a typed parameter still works, through **settings.
    built = DocPreprocessor(**NO_MODELS, max_warp_score=3.5, max_identity_rms=4)
    assert (built.config.max_warp_score, built.config.max_identity_rms) == (3.5, 4.0)


def test_an_unknown_constructor_setting_names_the_close_one():
    with pytest.raises(ConfigError, match=r"unknown setting 'keep_margn'; did you mean 'keep_margin'\?"):
        DocPreprocessor(**NO_MODELS, keep_margn=0.1)


@pytest.mark.parametrize(
    ("bad", "needle"),
    [
        ({"batch_size": 0}, "batch_size must be an integer >= 1, got 0"),
        ({"batch_size": 2.5}, "batch_size must be an integer"),
        ({"cpu_threads": 0}, "cpu_threads must be an integer >= 1"),
        ({"keep_margin": 0.9}, "keep_margin must be a number from 0 to 0.5, got 0.9"),
        ({"orientation_gate": 0}, "orientation_gate must be a number in (0, 1]"),
        ({"max_warp_score": -1}, "max_warp_score must be a number > 0"),
        ({"max_identity_rms": float("nan")}, "max_identity_rms must be a number > 0, got nan"),
        ({"precision": "fp61"}, "did you mean 'fp16'?"),
        ({"skip_flat_pages": "maybe"}, "skip_flat_pages='maybe' is not true or false"),
        ({"reclassify_unwarped": 2}, "reclassify_unwarped must be true or false, got 2"),
        ({"fill_color": (0, 0, 300)}, "fill_color must be three integers"),
        ({"device": 7}, "device must be a string"),
    ],
)
def test_constructor_checks_come_from_the_table(bad, needle):
    with pytest.raises(ConfigError) as info:
        DocPreprocessor(**NO_MODELS, **bad)
    assert needle in str(info.value)


def test_values_are_kept_as_their_type():
    built = DocPreprocessor(**NO_MODELS, keep_margin=0, skip_flat_pages="no", batch_size=4, fill_color=[1, 2, 3])
    assert built.config.keep_margin == 0.0 and isinstance(built.config.keep_margin, float)
    assert built.config.skip_flat_pages is False
    assert built.config.fill_color == (1, 2, 3)


def test_per_call_settings_are_the_per_call_rows():
    config = PipelineConfig(keep_margin=0.1)
    chosen = per_call_settings(config, {"skip_flat_pages": False, "keep_margin": None})
    assert set(chosen) == {row.name for row in SETTINGS if row.per_call}
    assert chosen["skip_flat_pages"] is False and chosen["keep_margin"] == 0.1
    with pytest.raises(ConfigError, match="batch_size cannot change per call"):
        per_call_settings(config, {"batch_size": 2})
    with pytest.raises(ConfigError, match=r"unknown setting 'skip_flat_page'; did you mean 'skip_flat_pages'\?"):
        per_call_settings(config, {"skip_flat_page": True})
    with pytest.raises(ConfigError, match="keep_margin must be a number from 0 to 0.5"):
        per_call_settings(config, {"keep_margin": 0.6})


def test_predict_takes_per_call_rows_by_name():
    built = DocPreprocessor(**NO_MODELS)
    with pytest.raises(ConfigError, match="did you mean 'keep_margin'"):
        built.predict([], keep_margins=0.1)


# -- the YAML -------------------------------------------------------------------------------------

def test_every_yaml_path_of_every_row_is_read():
    values = {"batch_size": 3, "orientation_views": "fast", "orientation_gate": 0.5, "keep_margin": 0.2,
              "device": "cpu", "precision": "fp16", "cpu_threads": 2, "enable_hpi": True, "fill_color": [9, 9, 9]}
    for name, value in values.items():
        for path in SETTINGS_BY_NAME[name].yaml:
            raw: dict = {}
            node = raw
            *parents, leaf = path.split(".")
            for part in parents:
                node = node.setdefault(part, {})
            node[leaf] = value
            got = getattr(load_config(raw), name)
            assert got == (tuple(value) if isinstance(value, list) else value), path


def test_the_reference_yaml_loads_unchanged():
    config = load_config({
        "pipeline_name": "doc_preprocessor", "use_doc_orientation_classify": True, "use_doc_unwarping": False,
        "SubModules": {
            "DocOrientationClassify": {"module_name": "doc_text_orientation", "model_name": "PP-LCNet_x1_0_doc_ori",
                                       "model_dir": None},
            "DocUnwarping": {"module_name": "image_unwarping", "model_name": "UVDoc", "model_dir": None},
        },
    })
    assert config.use_doc_unwarping is False
    assert config.doc_unwarping_model_name == "UVDoc"


def test_reference_keys_pagefix_does_not_use_are_named_in_a_warning(caplog):
    with caplog.at_level(logging.WARNING, logger="pagefix.pipeline.settings"):
        load_config({"use_hpip": True, "SubModules": {"DocUnwarping": {"batch_size": 4}}})
    assert "use_hpip" in caplog.text and "SubModules.DocUnwarping.batch_size" in caplog.text


@pytest.mark.parametrize(
    ("raw", "key", "suggestion"),
    [
        ({"keep_margn": 0.1}, "keep_margn", "keep_margin"),
        ({"SubModule": {}}, "SubModule", "SubModules"),
        ({"SubModules": {"DocUnwarp": {}}}, "SubModules.DocUnwarp", "SubModules.DocUnwarping"),
        ({"SubModules": {"DocUnwarping": {"max_warp_scor": 1}}}, "SubModules.DocUnwarping.max_warp_scor",
         "SubModules.DocUnwarping.max_warp_score"),
        ({"SubModules": {"DocOrientationClassify": {"model_nam": "x"}}},
         "SubModules.DocOrientationClassify.model_nam", "SubModules.DocOrientationClassify.model_name"),
        ({"Limits": {"max_pixel": 1}}, "Limits.max_pixel", "Limits.max_pixels"),
        ({"Limit": {"max_pixels": 1}}, "Limit", "Limits"),
    ],
)
def test_an_unknown_key_at_any_level_names_the_likely_one(raw, key, suggestion):
    with pytest.raises(ConfigError) as info:
        load_config(raw)
    assert str(info.value) == (f"unknown key {key!r} in the pipeline configuration; did you mean {suggestion!r}?")


def test_an_unknown_key_with_nothing_close_lists_the_known_ones():
    with pytest.raises(ConfigError, match=r"unknown key 'SubModules.Zzz'.*known here: DocOrientationClassify, DocUnwarping"):
        load_config({"SubModules": {"Zzz": {}}})


def test_an_unknown_key_in_a_yaml_file_is_refused(tmp_path):
    path = tmp_path / "pipeline.yml"
    path.write_text("use_doc_unwarping: False\nskip_flat_page: False\n")
    with pytest.raises(ConfigError, match="did you mean 'skip_flat_pages'"):
        DocPreprocessor(paddlex_config=path, use_doc_orientation_classify=False)


@pytest.mark.parametrize("raw", [{"SubModules": 3}, {"SubModules": {"DocUnwarping": "UVDoc"}}, {"Limits": [1]},
                                 {"Serving": "on"}])
def test_a_section_that_is_not_a_mapping_is_refused(raw):
    with pytest.raises(ConfigError, match="must be a mapping"):
        load_config(raw)


def test_null_sections_are_empty():
    config = load_config({"SubModules": None, "Limits": None, "Serving": None})
    assert config.limits == {} and config.serving == {}


def test_merged_checks_values_set_by_hand():
    with pytest.raises(ConfigError, match="batch_size must be an integer >= 1"):
        PipelineConfig(batch_size=0).merged()
    assert PipelineConfig(keep_margin=0.25).merged(skip_flat_pages=False).keep_margin == 0.25
