"""Pages for the unwarping tests: in the realdata tier, the flat and warped real sets
(`PAGEFIX_TEST_DATA`), decoded by the input layer (EXIF applied) as the pipeline sees them.

`PAGEFIX_FULL_UNWARP_TESTS=1` runs the keep_margin and marker tests over every page of their set
(minutes); by default they use a few pages. The skip-count test always uses every page.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from support.pages import read_page

FLAT_PREFIXES = ("docbank", "publaynet", "tess", "sroie_sel")
FULL = os.environ.get("PAGEFIX_FULL_UNWARP_TESTS", "") not in ("", "0")


def flat_pages(data: Path) -> list[Path]:
    """The 73 flat pages: scans and renderings of upright/ plus the 8 Inv3DReal flat originals."""
    upright = data / "orientation" / "upright"
    scans = sorted(p for p in upright.iterdir() if p.name.startswith(FLAT_PREFIXES))
    return scans + sorted((data / "unwarp" / "inv3d_real").glob("*/flat_document.png"))


def inv3d_photos(data: Path) -> list[Path]:
    return sorted((data / "unwarp" / "inv3d_real").glob("*/warped_document_*.jpg"))


def docunet_photos(data: Path) -> list[Path]:
    return sorted((data / "unwarp" / "docunet_crop").glob("*.jpg"))


@pytest.fixture(scope="session")
def page_sets(test_data: Path) -> dict[str, list[Path]]:
    sets = {"flat": flat_pages(test_data), "inv3d_real": inv3d_photos(test_data),
            "docunet_crop": docunet_photos(test_data)}
    expected = {"flat": 73, "inv3d_real": 144, "docunet_crop": 34}
    assert {name: len(files) for name, files in sets.items()} == expected, "the shared data changed"
    return sets


@pytest.fixture(scope="session")
def decode_page():
    """`decode_page(path) -> BGR array`, as the pipeline decodes it."""
    return read_page


@pytest.fixture(scope="session")
def full_run() -> bool:
    """Whether to run the long variants over every page (PAGEFIX_FULL_UNWARP_TESTS=1)."""
    return FULL
