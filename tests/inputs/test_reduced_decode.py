"""JPEGs decoded smaller in the DCT for work that needs a small page only (`min_short_side`)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from support.pages import fixture_file, write_jpeg, write_png

from pagefix.inputs import iter_pages

BOSTON = "page_dewarp__boston_cooking_a.jpg"  # a real book photo stored sideways, EXIF orientation 6


@pytest.mark.parametrize("min_side", [200, 256, 512])
def test_short_side_stays_at_least_the_minimum(pages, tmp_path, min_side) -> None:
    page = pages.curled
    big = cv2.resize(page, None, fx=2, fy=2)
    path = tmp_path / "big.jpg"
    cv2.imwrite(str(path), big)
    (small,) = list(iter_pages(str(path), min_short_side=min_side))
    short = min(small.image.shape[:2])
    assert min_side <= short < 2 * min_side or short == min(big.shape[:2]) // 8
    assert small.image.shape[0] / small.image.shape[1] == pytest.approx(big.shape[0] / big.shape[1], rel=0.02)
    assert small.encoded is None  # the file's bytes no longer stand for this page
    # The same picture: compared with the full decode shrunk to the same size.
    full = cv2.resize(big, small.image.shape[1::-1], interpolation=cv2.INTER_AREA)
    assert np.abs(full.astype(int) - small.image.astype(int)).mean() < 6


def test_exif_turn_is_applied_to_the_reduced_page() -> None:
    (full,) = list(iter_pages(str(fixture_file(BOSTON))))
    (small,) = list(iter_pages(str(fixture_file(BOSTON)), min_short_side=256))
    assert full.image.shape[0] > full.image.shape[1]  # turned upright: portrait
    assert small.image.shape[0] > small.image.shape[1]
    assert min(small.image.shape[:2]) >= 256 and small.image.shape[0] < full.image.shape[0]


def test_other_formats_and_small_jpegs_come_whole(pages, tmp_path) -> None:
    png = write_png(tmp_path / "page.png", pages.curled)
    assert list(iter_pages(str(png), min_short_side=64))[0].image.shape == list(iter_pages(str(png)))[0].image.shape
    jpg = write_jpeg(tmp_path / "small.jpg", cv2.resize(pages.curled, (450, 600), interpolation=cv2.INTER_AREA))
    whole = list(iter_pages(str(jpg)))[0].image
    assert list(iter_pages(str(jpg), min_short_side=min(whole.shape[:2])))[0].image.shape == whole.shape


def test_pdf_pages_are_rendered_only_as_large_as_needed(tmp_path) -> None:
    from PIL import Image

    path = tmp_path / "two.pdf"
    pages = [Image.new("RGB", (1240, 1754), "white"), Image.new("RGB", (1754, 1240), "white")]
    pages[0].save(path, save_all=True, append_images=pages[1:], resolution=150)  # A4, portrait then landscape
    full = [p.image.shape for p in iter_pages(str(path))]
    small = [p.image.shape for p in iter_pages(str(path), min_short_side=300)]
    for (fh, fw, _), (sh, sw, _) in zip(full, small):
        assert 300 <= min(sh, sw) <= 302 and min(sh, sw) < min(fh, fw)
        assert sh / sw == pytest.approx(fh / fw, rel=0.01)
    assert [p.image.shape for p in iter_pages(str(path), min_short_side=5000)] == full  # never enlarged
