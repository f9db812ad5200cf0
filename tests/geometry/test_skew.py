"""Fine skew: the estimate on pages rendered here and turned by known angles, the exact rotation
that undoes it, and the pages the estimator must decline. The error bounds are the ones the skew
docs page promises (real pages: `pagefix eval skew`, measured in docs/skew.md)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from pagefix.geometry.rotate import deskew_matrix, paper_colour, rotate_page
from pagefix.geometry.skew import estimate_skew
from pagefix.train.synthetic import LAYOUTS, PageStyle, render_page, word_source

STYLE = PageStyle(width=(1100, 1300), aspect=(1.3, 1.45), font_px=(18, 30))


def _page(layout: str, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return render_page(word_source("latin", rng), [None], False, rng, STYLE, layout, "ragged")


def _turned(page: np.ndarray, angle: float) -> np.ndarray:
    """The page turned `angle` degrees counter-clockwise, as a crooked scan: the paper on a light
    scanner lid, nothing cut."""
    matrix, (h, w) = deskew_matrix(page.shape[:2], -angle)
    return cv2.warpAffine(page, matrix, (w, h), flags=cv2.INTER_CUBIC, borderValue=(245, 245, 245))


@pytest.fixture(scope="module")
def pages() -> dict[str, np.ndarray]:
    return {layout: _page(layout, seed) for seed, layout in enumerate(LAYOUTS)}


def test_known_angles_are_found_on_every_layout(pages):
    errors = []
    for layout, page in pages.items():
        for angle in (-14.0, -6.3, -2.1, -0.7, 0.4, 1.9, 5.2, 12.5):
            found = estimate_skew(_turned(page, angle))
            assert found.known, (layout, angle, found.reason)
            errors.append(abs(found.angle - angle))
    assert np.median(errors) <= 0.1
    assert max(errors) <= 0.3


def test_a_straight_page_reads_as_straight(pages):
    for page in pages.values():
        found = estimate_skew(page)
        assert found.known and abs(found.angle) < 0.1


@pytest.mark.parametrize("what", ["blank", "photo"])
def test_pages_without_text_lines_are_declined(what):
    rng = np.random.default_rng(5)
    if what == "blank":
        image = np.full((1400, 1000, 3), 240, np.uint8)
    else:  # a smooth picture: blobs of colour, no lines of text
        small = rng.integers(0, 256, size=(14, 10, 3), dtype=np.uint8)
        image = cv2.resize(small, (1000, 1400), interpolation=cv2.INTER_CUBIC)
    found = estimate_skew(image)
    assert not found.known
    assert found.reason


def test_rotation_undoes_the_skew_exactly(pages):
    page = pages["text"]
    crooked = _turned(page, 2.5)
    found = estimate_skew(crooked)
    straight = rotate_page(crooked, found.angle)
    # Nothing is cut: the straightened canvas holds every corner of the crooked one.
    matrix, shape = deskew_matrix(crooked.shape[:2], found.angle)
    h, w = crooked.shape[:2]
    corners = np.array([[0, 0], [w - 1, 0], [0, h - 1], [w - 1, h - 1]], np.float64)
    moved = corners @ matrix[:, :2].T + matrix[:, 2]
    assert straight.shape[:2] == shape
    assert moved.min() >= -0.5 and (moved[:, 0] <= shape[1] - 0.5).all() and (moved[:, 1] <= shape[0] - 0.5).all()
    assert abs(estimate_skew(straight).angle) <= 0.1
    # The new corners are the paper's colour, not black.
    assert np.abs(straight[0, 0].astype(int) - np.array(paper_colour(crooked))).max() <= 2


def test_paper_colour_is_the_border_median():
    image = np.full((200, 100, 3), (200, 210, 220), np.uint8)
    image[50:150, 30:70] = 0  # ink in the middle does not count
    assert paper_colour(image) == (200, 210, 220)
