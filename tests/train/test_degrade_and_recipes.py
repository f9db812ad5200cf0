"""The damage of old print (seeded, page-shaped) and the training recipes (pages from seeds, fonts
from named packages)."""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np
import pytest

from pagefix.errors import ConfigError
from pagefix.train.augment import Augmentation
from pagefix.train.degrade import degrade_page
from pagefix.train.recipes import RECIPES, PageSet, missing_fonts, render_page_sets
from pagefix.train.synthetic import SCRIPTS, render_page, word_source

from .conftest import SMALL_PAGES


def _page(seed: int = 3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return render_page(word_source("latin", rng), [None], False, rng, SMALL_PAGES)


def test_degraded_pages_are_seeded_and_keep_their_shape():
    page = _page()
    first = degrade_page(page, np.random.default_rng(11))
    assert first.shape == page.shape and first.dtype == np.uint8
    assert np.array_equal(first, degrade_page(page, np.random.default_rng(11)))
    assert not np.array_equal(first, page)
    outputs = [degrade_page(page, np.random.default_rng(seed)) for seed in range(12)]
    # Some seeds binarise the page: only black and white are left.
    assert any(set(np.unique(out)) <= {0, 255} for out in outputs)
    assert any(len(np.unique(out)) > 2 for out in outputs)


def test_bleed_through_is_the_page_behind_mirrored():
    front = np.full((200, 300, 3), 255, np.uint8)
    behind = front.copy()
    cv2.rectangle(behind, (10, 50), (60, 150), (0, 0, 0), -1)  # ink on the left of the back page
    darkest = []
    for seed in range(40):
        out = degrade_page(front, np.random.default_rng(seed), behind=behind)
        grey = out.astype(np.float32).mean(axis=2)
        darkest.append(grey[50:150, 240:290].mean() < grey[50:150, 10:60].mean() - 3)
    assert any(darkest)  # seen from the front, the back page's ink is on the right


def test_no_degradation_leaves_the_crops_of_a_seed_unchanged():
    page = _page()
    plain = Augmentation()(page, 0, np.random.default_rng(5))
    zero = Augmentation(degrade=0.0)(page, 0, np.random.default_rng(5))
    assert np.array_equal(plain[0], zero[0]) and plain[1] == zero[1]
    always = Augmentation(degrade=1.0)(page, 0, np.random.default_rng(5))
    assert always[0].shape == plain[0].shape


def test_recipe_sets_render_the_same_pages_from_their_seeds(tmp_path):
    sets = (PageSet("one", "latin", 2, 4, (None,), ("text", "receipt")),
            PageSet("two", "latin", 1, 5, (None,), degrade=True))
    render_page_sets(sets, tmp_path / "a")
    render_page_sets(sets, tmp_path / "b")
    names = sorted(p.relative_to(tmp_path / "a") for p in (tmp_path / "a").rglob("*.png"))
    assert [str(n) for n in names] == ["one/one_0000.png", "one/one_0001.png", "two/two_0000.png"]
    for name in names:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()


def test_a_missing_font_names_its_package(tmp_path):
    page_set = PageSet("x", "thai", 1, 1, ("/usr/share/fonts/truetype/tlwg/NoSuchFont.ttf",))
    assert missing_fonts([page_set]) == {page_set.fonts[0]: "fonts-thai-tlwg"}
    with pytest.raises(ConfigError, match="fonts-thai-tlwg"):
        render_page_sets([page_set], tmp_path)


@pytest.mark.parametrize("name", sorted(RECIPES))
def test_the_recipes_keep_evaluation_apart_from_training(name):
    recipe = RECIPES[name]
    train_seeds = {s.seed for s in recipe.train + recipe.keep}
    assert not train_seeds & {s.seed for s in recipe.evaluation}
    for evaluation in recipe.evaluation:
        assert evaluation.script in SCRIPTS
        trained = {font for s in recipe.train + recipe.keep if s.script == evaluation.script for font in s.fonts}
        if evaluation.folder != "fraktur":  # Debian has one blackletter family (see the model card)
            assert not trained & set(evaluation.fonts), evaluation.folder
    assert {"hebrew", "hebrew_niqqud", "arabic", "persian", "japanese", "korean", "bengali", "tamil", "thai",
            "fraktur", "handwriting"} <= {s.folder for s in recipe.evaluation}
    assert dataclasses.asdict(recipe.train[0])["count"] > 0


def test_an_unknown_recipe_is_refused_by_name(tmp_path, capsys):
    from pagefix.cli.main import main

    assert main(["train", "eval-pages", "--recipe", "nope", "--out", str(tmp_path / "pages")]) != 0
    said = capsys.readouterr().err
    assert "unknown recipe 'nope'" in said and "pagefix_doc_ori_v1" in said
