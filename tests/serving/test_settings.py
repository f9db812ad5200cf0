"""The `Serving:` section: the reference's keys, pagefix's own, and clear errors for the rest."""

from __future__ import annotations

import pytest

from pagefix.errors import ConfigError
from pagefix.limits import Limits
from pagefix.serving.inference import fit_within
from pagefix.serving.settings import ServingSettings


def test_defaults() -> None:
    settings = ServingSettings.from_config(None)
    assert settings.visualize is True
    assert settings.max_num_input_imgs == 10
    assert settings.max_output_img_size is None
    assert settings.allow_private_urls is False


def test_reference_keys_and_overrides() -> None:
    settings = ServingSettings.from_config(
        {"visualize": False, "extra": {"max_num_input_imgs": None, "max_output_img_size": [2000, 1000]},
         "workers": 3, "allowed_hosts": "files.internal, 10.1.0.0/16"},
        workers=None, max_queue=2,
    )
    assert settings.visualize is False
    assert settings.max_num_input_imgs is None
    assert settings.max_output_img_size == (2000, 1000)
    assert (settings.workers, settings.max_queue) == (3, 2)
    assert settings.allowed_hosts == ("files.internal", "10.1.0.0/16")


def test_input_limits_refuse_private_urls_and_cap_pdf_pages() -> None:
    base = Limits(allowed_hosts=("a.example",), max_pdf_pages=500)
    limits = ServingSettings(allowed_hosts=("b.example",), max_num_input_imgs=None).input_limits(base)
    assert limits.allow_private_urls is False
    assert limits.allowed_hosts == ("a.example", "b.example")
    assert limits.max_pdf_pages is None
    assert ServingSettings().input_limits(base).max_pdf_pages == 10


@pytest.mark.parametrize(
    ("section", "needle"),
    [
        ({"workerz": 2}, "unknown key 'Serving.workerz'"),
        ({"extra": {"max_num_input_imgz": 2}}, "unknown key 'Serving.extra.max_num_input_imgz'"),
        ({"extra": {"max_num_input_imgs": 0}}, "max_num_input_imgs"),
        ({"extra": {"max_output_img_size": [10]}}, "max_output_img_size"),
        ({"return_urls": True}, "return_urls is not supported"),
        ({"workers": 0}, "Serving.workers"),
        ({"max_queue": -1}, "Serving.max_queue"),
        ({"request_timeout": "soon"}, "Serving.request_timeout"),
        ({"allowed_hosts": [1, 2]}, "Serving.allowed_hosts"),
        ({"visualize": "yes"}, "Serving.visualize"),
    ],
)
def test_bad_sections_are_config_errors(section: dict, needle: str) -> None:
    with pytest.raises(ConfigError, match=None) as info:
        ServingSettings.from_config(section)
    assert needle in str(info.value)


def test_fit_within_keeps_the_aspect_and_never_enlarges() -> None:
    import numpy as np

    page = np.zeros((3000, 1500, 3), np.uint8)
    assert fit_within(page, (2000, 2000)).shape == (2000, 1000, 3)
    assert fit_within(page, None) is page
    assert fit_within(page, (4000, 4000)) is page


def test_reading_a_section_leaves_it_unchanged() -> None:
    section = {"visualize": False, "extra": {"max_num_input_imgs": 3, "file_storage": {"type": "memory"}}}
    ServingSettings.from_config(section)
    assert section == {"visualize": False, "extra": {"max_num_input_imgs": 3, "file_storage": {"type": "memory"}}}
    assert ServingSettings.from_config(section).max_num_input_imgs == 3


# -- the request's setting fields come from the settings table ---------------------------------------

def test_every_http_setting_is_a_request_field() -> None:
    from pagefix.pipeline.settings import SETTINGS
    from pagefix.serving.schemas import InferRequest

    rows = [row for row in SETTINGS if row.http is not None]
    assert rows, "no setting is exposed over HTTP"
    schema = InferRequest.model_json_schema()
    own = {"file", "fileType", "visualize"}
    assert set(schema["properties"]) == own | {row.http.name for row in rows if row.http}
    kinds = {bool: "boolean", float: "number", int: "integer", str: "string"}
    for row in rows:
        assert row.http is not None
        field = schema["properties"][row.http.name]
        assert field["anyOf"][0]["type"] == kinds[row.kind] and field["anyOf"][1] == {"type": "null"}
        assert field["description"] == row.http.description
        assert field["anyOf"][0].get("minimum") == row.minimum and field["anyOf"][0].get("maximum") == row.maximum
        assert field.get("default") is None


def test_request_fields_become_per_call_settings() -> None:
    from pagefix.serving.app import _model_settings
    from pagefix.serving.responses import ServiceError
    from pagefix.serving.schemas import InferRequest

    loaded = {"use_doc_orientation_classify": True, "use_doc_unwarping": False}
    body = InferRequest(file="x", keepMargin=0.2, skipFlatPages=False)
    assert _model_settings(body, loaded) == {"use_doc_orientation_classify": None, "use_doc_unwarping": None,
                                             "skip_flat_pages": False, "keep_margin": 0.2, "deskew": None}
    with pytest.raises(ServiceError, match="useDocUnwarping is not available"):
        _model_settings(InferRequest(file="x", useDocUnwarping=True), loaded)


def test_an_unknown_serving_key_names_the_likely_one() -> None:
    with pytest.raises(ConfigError, match=r"unknown key 'Serving.worker'.*did you mean 'Serving.workers'\?"):
        ServingSettings.from_config({"worker": 3})
    with pytest.raises(ConfigError, match=r"'Serving.extra.max_num_input_img'.*did you mean 'Serving.extra.max_num_input_imgs'"):
        ServingSettings.from_config({"extra": {"max_num_input_img": 3}})
