"""The shared working copy a page's small images are made from (geometry/shrink.py): exact 2x2
averages, a copy at least twice every small image, small images close to one-step area averages,
and the models' views and inputs taken from it."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from support.pages import text_page

from pagefix.geometry.shrink import COPY_LONG_SIDE, COPY_SHORT_SIDE, ShrinkablePage, halve, shrinkable
from pagefix.geometry.turns import quarter_turn
from pagefix.models.orientation_views import letterbox, long_side_crops


def _photo_sized(page: np.ndarray, megapixels: float = 12.0) -> np.ndarray:
    scale = (megapixels * 1e6 / (page.shape[0] * page.shape[1])) ** 0.5
    return cv2.resize(page, (round(page.shape[1] * scale), round(page.shape[0] * scale)),
                      interpolation=cv2.INTER_CUBIC)


@pytest.fixture(scope="module")
def big_page() -> np.ndarray:
    return _photo_sized(text_page(3, "text", align=None))


def test_halving_averages_each_two_by_two_block_and_drops_an_odd_edge():
    image = np.random.default_rng(0).integers(0, 256, (101, 57, 3), dtype=np.uint8)
    expected = image[:100, :56].reshape(50, 2, 28, 2, 3).astype(np.float64).mean(axis=(1, 3))
    halved = halve(image)
    assert halved.shape == (50, 28, 3)
    assert np.abs(halved - expected).max() <= 0.5  # rounding only


def test_a_page_under_twice_the_copy_size_is_its_own_copy():
    page = np.zeros((2 * COPY_LONG_SIDE - 1, 2 * COPY_SHORT_SIDE + 10, 3), dtype=np.uint8)
    assert ShrinkablePage(page).copy is page


def test_a_photo_is_halved_while_it_stays_twice_the_largest_small_image(big_page):
    copy = ShrinkablePage(big_page).copy
    assert copy.shape[0] * 2 <= big_page.shape[0] + 1
    assert max(copy.shape[:2]) >= COPY_LONG_SIDE and min(copy.shape[:2]) >= COPY_SHORT_SIDE
    # One more halving would have gone under the bounds.
    assert max(copy.shape[:2]) < 2 * COPY_LONG_SIDE or min(copy.shape[:2]) < 2 * COPY_SHORT_SIDE
    huge = np.zeros((12000, 9000, 3), dtype=np.uint8)
    assert ShrinkablePage(huge).copy.shape[:2] == (1500, 1125)


def test_small_images_from_the_copy_are_close_to_one_step_area_averages(big_page):
    page = ShrinkablePage(big_page)
    for size in ((488, 712), (224, 300), (512, 690)):
        direct = cv2.resize(big_page, size, interpolation=cv2.INTER_AREA).astype(np.int16)
        shared = page.shrunk(size)
        assert shared.shape[:2] == (size[1], size[0])
        assert np.abs(shared - direct).mean() < 2.0


def test_the_copy_is_made_once_and_shared_by_every_small_image(big_page):
    page = ShrinkablePage(big_page)
    copy = page.copy
    letterbox(page)
    long_side_crops(page, 512)
    assert page.copy is copy
    assert shrinkable(page) is page


def test_a_turned_page_turns_its_copy_instead_of_making_it_again(big_page):
    page = ShrinkablePage(big_page)
    copy = page.copy
    upright = page.turned(90)
    assert np.array_equal(upright.image, quarter_turn(big_page, 90))
    assert np.array_equal(upright.copy, quarter_turn(copy, 90))
    fresh = ShrinkablePage(big_page).turned(270)  # no copy yet: the turned page makes its own
    assert fresh.copy.shape[:2] == (copy.shape[1], copy.shape[0])


def test_views_from_an_array_and_from_its_shrinkable_page_are_the_same(big_page):
    assert np.array_equal(letterbox(big_page)[0], letterbox(ShrinkablePage(big_page))[0])
    assert all(np.array_equal(a, b) for a, b in zip(long_side_crops(big_page, 512),
                                                      long_side_crops(ShrinkablePage(big_page), 512)))
