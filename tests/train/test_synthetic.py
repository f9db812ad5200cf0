"""Generated pages: every layout draws an upright page with ink where its layout puts it."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from PIL import features

from pagefix.cli.main import main
from pagefix.train.synthetic import LAYOUTS, SCRIPTS, render_page, word_source

from .conftest import SMALL_PAGES


def _page(layout, align=None, seed=0):
    rng = np.random.default_rng(seed)
    return render_page(word_source("latin", rng), [None], False, rng, SMALL_PAGES, layout, align)


def _ink(page):
    return cv2.cvtColor(page, cv2.COLOR_BGR2GRAY) < 128


@pytest.mark.parametrize("layout", LAYOUTS)
def test_every_layout_draws_a_portrait_page_with_text(layout):
    page = _page(layout)
    assert page.shape[0] > page.shape[1] and page.dtype == np.uint8
    assert 0.005 < _ink(page).mean() < 0.5


def test_a_receipt_is_a_narrow_slip_and_a_table_has_rules():
    receipt = _page("receipt")
    assert receipt.shape[0] >= 2 * receipt.shape[1]
    table = _ink(_page("table", seed=3))
    assert (table.mean(axis=1) > 0.6).sum() >= 3  # the rules between rows cross the page


def _line_ends(page):
    """(first, last) inked column of every text row band."""
    ink = _ink(page)
    rows = ink.any(axis=1)
    ends, start = [], None
    for y, on in enumerate(np.append(rows, False)):
        if on and start is None:
            start = y
        elif not on and start is not None:
            columns = np.flatnonzero(ink[start:y].any(axis=0))
            ends.append((columns[0], columns[-1]))
            start = None
    return np.array(ends)


def test_justified_text_is_flush_on_both_sides_and_ragged_text_on_one():
    justified, ragged = _line_ends(_page("text", "justify", seed=5)), _line_ends(_page("text", "ragged", seed=5))
    # Most justified lines end within a few pixels of the widest; ragged lines spread out more.
    right = lambda ends: np.mean(np.abs(ends[:, 1] - np.median(ends[:, 1])) < 6)  # noqa: E731
    assert right(justified) > right(ragged)


def test_unknown_layout_is_refused():
    with pytest.raises(ValueError, match="unknown layout"):
        _page("poster")


def test_render_pages_takes_layouts(tmp_path):
    assert main(["train", "render-pages", "--out", str(tmp_path), "--count", "2", "--layout", "receipt",
                 "--layout", "table", "--seed", "1"]) == 0
    assert len(list(tmp_path.glob("*.png"))) == 2


def test_chinese_words_are_made_of_han_characters():
    next_word = word_source("chinese", np.random.default_rng(3))
    words = [next_word() for _ in range(200)]
    han = [w.rstrip(",.:") for w in words if not w.isdigit()]
    assert han and all("\u4e00" <= ch <= "\u9fff" for w in han for ch in w)


def test_devanagari_pseudo_words_are_syllables():
    next_word = word_source("devanagari", np.random.default_rng(4))
    spec = SCRIPTS["devanagari"]
    words = [w.rstrip(",.:") for w in (next_word() for _ in range(300)) if not w.isdigit()]
    made = [w for w in words if w not in spec.words]  # the written-out words follow their own spelling
    assert len(made) > 50
    signs = spec.signs
    for word in made:
        assert word and word[0] not in signs  # a sign never opens a word
        assert not any(a in signs and b in signs for a, b in zip(word, word[1:]))  # nor follows a sign


@pytest.mark.skipif(not features.check("raqm"), reason="this Pillow has no libraqm")
@pytest.mark.parametrize("script", ["arabic", "devanagari", "persian", "hebrew_niqqud", "bengali", "tamil", "thai"])
def test_shaped_scripts_draw_their_glyphs(script, tmp_path):
    font = _noto_font(script)
    if font is None:
        pytest.skip(f"no Noto font for {script} on this machine")
    rng = np.random.default_rng(6)
    page = render_page(word_source(script, rng), [font], SCRIPTS[script].rtl, rng, SMALL_PAGES, "text",
                       "ragged", shaped=True)
    assert 0.005 < _ink(page).mean() < 0.5
    # Right-to-left lines are flush right when ragged, left-to-right ones flush left.
    ends = _line_ends(page)
    spread = np.std(ends, axis=0)
    assert (spread[0] > spread[1]) == SCRIPTS[script].rtl


def _noto_font(script):
    from pathlib import Path

    name = {"arabic": "NotoNaskhArabic-Regular.ttf", "devanagari": "NotoSansDevanagari-Regular.ttf",
            "persian": "NotoNaskhArabic-Regular.ttf", "hebrew_niqqud": "NotoSerifHebrew-Regular.ttf",
            "bengali": "NotoSansBengali-Regular.ttf", "tamil": "NotoSansTamil-Regular.ttf",
            "thai": "NotoSansThai-Regular.ttf"}[script]
    found = list(Path("/usr/share/fonts").rglob(name))
    return str(found[0]) if found else None
