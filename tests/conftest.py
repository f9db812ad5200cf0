"""Shared fixtures: the real models (fetched once into the user's cache, as a first run fetches
them), the pages the tests make, the real-data tier's location, and a clean `PAGEFIX_*` environment.

Two tiers (docs/development.md): every test runs on a fresh clone with nothing beside it, except
those marked `realdata`, which measure whole real data sets. They read `PAGEFIX_TEST_DATA`
(default: ../shared/data beside the repository, when it exists) and are skipped without it, or
fail with `PAGEFIX_REQUIRE_DATA=1`.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.pages import PageLibrary
from support.realdata import DataLocation, locate

# Read once, before any test can change the environment (the fixtures below clear PAGEFIX_*).
DATA: DataLocation = locate()
# Kept between tests: where the models are cached, when the user moved the cache.
_KEPT = {"PAGEFIX_HOME"}


def _pagefix_variables() -> list[str]:
    return [name for name in os.environ if name.startswith("PAGEFIX_") and name not in _KEPT]


@pytest.fixture(scope="session", autouse=True)
def _session_without_pagefix_settings() -> Iterator[None]:
    """The session's fixtures (the shared pipeline, servers) see the defaults, not the shell's settings."""
    with pytest.MonkeyPatch.context() as patch:
        for name in _pagefix_variables():
            patch.delenv(name)
        yield


@pytest.fixture(autouse=True)
def _without_pagefix_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test starts from the defaults; a test sets what it needs with monkeypatch."""
    for name in _pagefix_variables():
        monkeypatch.delenv(name)


@pytest.fixture(autouse=True)
def _pagefix_logging_as_set_up_by_no_one() -> Iterator[None]:
    """The CLI's `setup_logging` gives the "pagefix" logger its own handler and stops propagation;
    a test that ran `main()` must not take log records away from a later test's caplog."""
    yield
    for name in ("pagefix", "pagefix.models.fastest"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
        logger.setLevel(logging.NOTSET)


def pytest_report_header(config: pytest.Config) -> str:
    where = DATA.path or f"not found ({DATA.looked_at})"
    return f"realdata tier: {where}{' (required)' if DATA.required else ''}"


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # A test that reads the real data belongs to the realdata tier even if its author forgot the
    # marker, so that `-m realdata` selects it and `-m "not realdata"` leaves it out.
    for item in items:
        if "test_data" in getattr(item, "fixturenames", ()) and item.get_closest_marker("realdata") is None:
            item.add_marker(pytest.mark.realdata)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    # Before any fixture is built: a realdata test without its data costs nothing.
    if item.get_closest_marker("realdata") is not None and DATA.path is None:
        if DATA.required:
            pytest.fail(f"PAGEFIX_REQUIRE_DATA=1 and the {DATA.missing_message()}", pytrace=False)
        pytest.skip(DATA.missing_message())


@pytest.fixture(scope="session")
def test_data() -> Path:
    """The real data sets (read-only; copy what you change). Only for tests marked `realdata`."""
    if DATA.path is None:
        if DATA.required:
            pytest.fail(f"PAGEFIX_REQUIRE_DATA=1 and the {DATA.missing_message()}", pytrace=False)
        pytest.skip(DATA.missing_message())
    return DATA.path


@pytest.fixture(scope="session")
def pages(tmp_path_factory: pytest.TempPathFactory) -> PageLibrary:
    """Pages rendered and warped by the project's own code, made once per session on first use."""
    return PageLibrary(tmp_path_factory.mktemp("pages"))


@pytest.fixture(scope="session")
def pipeline():
    """One pipeline with both real models, shared by the tests that only read from it."""
    from pagefix import DocPreprocessor

    return DocPreprocessor(device="cpu", cpu_threads=min(2, os.cpu_count() or 1))


@pytest.fixture(scope="session")
def classifier(pipeline):
    return pipeline.orientation_classifier


@pytest.fixture(scope="session")
def unwarper(pipeline):
    return pipeline.unwarper
