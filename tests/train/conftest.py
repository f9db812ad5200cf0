"""Small generated datasets for the training tests (seconds on two cores)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from pagefix.train.synthetic import PageStyle, render_page, word_source

SMALL_PAGES = PageStyle(width=(420, 520), font_px=(12, 18))


@pytest.fixture(scope="session")
def upright_pages(tmp_path_factory):
    """Six generated upright Latin pages (Pillow's own font, so no system font is needed)."""
    folder = tmp_path_factory.mktemp("upright")
    rng = np.random.default_rng(7)
    next_word = word_source("latin", rng)
    for index in range(6):
        cv2.imwrite(str(folder / f"page{index}.png"), render_page(next_word, [None], False, rng, SMALL_PAGES))
    return folder


@pytest.fixture(scope="session")
def small_dataset(upright_pages, tmp_path_factory):
    from pagefix.train.dataset import make_dataset

    target = tmp_path_factory.mktemp("dataset") / "ds"
    make_dataset(upright_pages, target, val_fraction=0.34, seed=1)
    return target
