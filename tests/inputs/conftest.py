"""Fixtures of the input layer's tests: the misbehaving web server of `fetch_server`."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from fetch_server import serving  # noqa: E402


@pytest.fixture(scope="module")
def web() -> Iterator[str]:
    with serving() as url:
        yield url
