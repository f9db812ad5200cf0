"""Every limit in one place: defaults, environment variables, the YAML `Limits:` section, checks,
and the table of them in docs/limits.md."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from pagefix.errors import ConfigError
from pagefix.limits import Limits
from pagefix.pipeline.settings import load_config

LIMITS_PAGE = Path(__file__).resolve().parents[2] / "docs" / "limits.md"


def test_environment_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAGEFIX_MAX_PIXELS", "5000000")
    monkeypatch.setenv("PAGEFIX_ALLOW_PRIVATE_URLS", "false")
    monkeypatch.setenv("PAGEFIX_ALLOWED_HOSTS", "images.example, 10.0.0.0/8")
    monkeypatch.setenv("PAGEFIX_MAX_PDF_PAGES", "none")
    monkeypatch.setenv("PAGEFIX_FETCH_DEADLINE", "12.5")
    limits = Limits.from_env(max_frames=7)
    assert limits.max_pixels == 5_000_000 and limits.allow_private_urls is False
    assert limits.allowed_hosts == ("images.example", "10.0.0.0/8")
    assert limits.max_pdf_pages is None and limits.fetch_deadline == 12.5 and limits.max_frames == 7


def test_bad_environment_value_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAGEFIX_MAX_JPEG_SCANS", "many")
    with pytest.raises(ConfigError, match="PAGEFIX_MAX_JPEG_SCANS='many'"):
        Limits.from_env()


def test_yaml_section() -> None:
    config = load_config({"Limits": {"max_pixels": 20_000_000, "max_jpeg_scans": 50}})
    limits = config.build_limits()
    assert (limits.max_pixels, limits.max_jpeg_scans) == (20_000_000, 50)
    with pytest.raises(ConfigError, match="Limits"):
        load_config({"Limits": {"max_pixel": 1}}).build_limits()


@pytest.mark.parametrize("change", [{"max_pixels": -1}, {"max_jpeg_scans": -1}, {"max_pdf_pages": 0},
                                    {"pdf_render_scale": 0.05}, {"no_such_limit": 1}])
def test_invalid_limits_are_refused(change: dict) -> None:
    with pytest.raises(ConfigError):
        Limits().replace(**change)


def test_the_limits_page_lists_every_limit_with_its_default_and_variable() -> None:
    text = LIMITS_PAGE.read_text(encoding="utf-8")
    section = text[text.index("## The limits"):]
    section = section[:section.index("\n## ", 5)]
    for field in dataclasses.fields(Limits):
        row = next((line for line in section.splitlines() if line.startswith(f"| `{field.name}`")), None)
        assert row is not None, f"docs/limits.md has no row for {field.name}"
        assert f"`PAGEFIX_{field.name.upper()}`" in row, row
        default = getattr(Limits(), field.name)
        shown = f"{default:_}" if isinstance(default, int) and not isinstance(default, bool) else repr(default)
        assert f"`{shown}`" in row, (shown, row)


@pytest.mark.parametrize(("raw", "expected"), [("true", True), ("No", False), (" 1 ", True), ("f", False)])
def test_boolean_environment_values_take_the_command_lines_words(monkeypatch: pytest.MonkeyPatch, raw, expected) -> None:
    monkeypatch.setenv("PAGEFIX_ALLOW_PRIVATE_URLS", raw)
    assert Limits.from_env().allow_private_urls is expected


@pytest.mark.parametrize(("raw", "hint"), [("ture", "; did you mean 'true'?"), ("flase", "; did you mean 'false'?"),
                                           ("maybe", ""), ("", "")])
def test_an_unknown_boolean_environment_value_is_refused(monkeypatch: pytest.MonkeyPatch, raw, hint) -> None:
    monkeypatch.setenv("PAGEFIX_ALLOW_PRIVATE_URLS", raw)
    with pytest.raises(ConfigError) as info:
        Limits.from_env()
    assert str(info.value) == (f"environment variable PAGEFIX_ALLOW_PRIVATE_URLS={raw!r} is not true or false "
                               f"(nor yes/no, 1/0){hint}")


def test_an_unknown_limit_names_the_likely_one() -> None:
    with pytest.raises(ConfigError, match=r"unknown limit 'max_pixel'; did you mean 'max_pixels'\?"):
        Limits().replace(max_pixel=1)
    with pytest.raises(ConfigError, match="did you mean 'max_frames'"):
        Limits.from_env(max_frame=3)
