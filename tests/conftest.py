"""Shared fixtures: the real models (fetched once into the user's cache) and the shared data."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = (REPO.parent / "shared" / "data").resolve()


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """`../shared/data` beside the repository (read-only; copy what you change)."""
    if not SHARED_DATA.is_dir():
        pytest.fail(f"shared data not found at {SHARED_DATA}")
    return SHARED_DATA


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
