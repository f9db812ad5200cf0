"""Fixtures of the input layer's tests: the misbehaving web server of `support.fetch_server`."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from support.fetch_server import serving


@pytest.fixture(scope="module")
def web() -> Iterator[str]:
    with serving() as url:
        yield url
