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
        ({"workerz": 2}, "unknown Serving key(s): workerz"),
        ({"extra": {"max_num_input_imgz": 2}}, "unknown Serving.extra key(s)"),
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
