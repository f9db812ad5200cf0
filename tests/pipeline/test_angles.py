"""Orientation only (`predict_angles`): the pages decoded small in the DCT get the angles the
classifier gives the full pages, in input order, with failures in place."""

from __future__ import annotations

import cv2
import pytest
from support.pages import text_page

from pagefix import DocPreprocessor, InputError
from pagefix.geometry.turns import quarter_turn
from pagefix.inputs import PageFailure, iter_pages

# Rendered pages: running text, a table, a receipt (support.pages.text_page).
PAGES = [(4, "text"), (5, "table"), (6, "receipt")]


@pytest.fixture(scope="module")
def turned_pages(tmp_path_factory):
    """Each page, enlarged to a 300-DPI-like size (so the DCT decode really shrinks it), saved
    turned four ways; with the angle each should get."""
    folder = tmp_path_factory.mktemp("turned")
    files = {}
    for seed, layout in PAGES:
        page = text_page(seed, layout)
        page = cv2.resize(page, None, fx=2, fy=2, interpolation=cv2.INTER_CUBIC)
        for turn in (0, 90, 180, 270):
            path = folder / f"{layout}_{turn}.jpg"
            cv2.imwrite(str(path), quarter_turn(page, turn), [cv2.IMWRITE_JPEG_QUALITY, 92])
            files[str(path)] = (360 - turn) % 360  # quarter_turn turns counter-clockwise
    return files


@pytest.mark.parametrize("views", ["reference", "default"])
def test_reduced_decode_gives_the_full_decode_angles(pipeline, turned_pages, views) -> None:
    angles = DocPreprocessor(device="cpu", cpu_threads=2, use_doc_unwarping=False, orientation_views=views,
                             orientation_classifier=pipeline.orientation_classifier)
    found = angles.predict_angles(list(turned_pages))
    full = [angles.orientation_classifier.predict([next(iter(iter_pages(p))).image], angles.view_set)[0]
            for p in turned_pages]
    assert [a.input_path for a in found] == list(turned_pages)
    assert [a.angle for a in found] == [f.angle for f in full]
    assert sum(a.angle == truth for a, truth in zip(found, turned_pages.values())) >= len(found) - 1
    assert all(0.25 <= a.score <= 1.0 for a in found)


def test_failures_keep_their_place(pipeline, turned_pages, tmp_path) -> None:
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    first, *_ = turned_pages
    angles = DocPreprocessor(device="cpu", cpu_threads=2, use_doc_unwarping=False, orientation_views="reference",
                             orientation_classifier=pipeline.orientation_classifier)
    found = angles.predict_angles([first, str(broken), first], errors="yield")
    assert [type(item).__name__ for item in found] == ["PageAngle", "PageFailure", "PageAngle"]
    assert isinstance(found[1], PageFailure) and "broken.jpg" in str(found[1].input_path)
    with pytest.raises(InputError):
        angles.predict_angles([first, str(broken)])
