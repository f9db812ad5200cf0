"""keep_margin on flat pages (rendered; real scans in the realdata tier) unwarped anyway (skip_flat_pages=False): with a 17% margin no page
loses text at its edges, and the inside of the output is the reference's output.

Text pixels come from an adaptive threshold of the upright page, kept where they are darker than
light shading; a text pixel is lost when it lies outside the part of the page the output shows (the
outline of the output mapped into the page).
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from pagefix.geometry.resample import align_corners_matrix, apply_grid, grid_to_nodes, margin_pixels
from pagefix.train.synthetic import PageStyle, render_page, word_source

MARGIN = 0.17
# By default: the pages the reference's unwarp cuts most (measured with the full run), and two
# where it cuts nothing. PAGEFIX_FULL_UNWARP_TESTS=1 runs all 73 flat pages.
DEFAULT_PAGES = (
    "sroie_sel__448.jpg", "sroie_sel__488.jpg", "sroie_sel__552.jpg", "sroie_sel__112.jpg",
    "docbank__DocBank_samples_DocBank_samples_23.tar_1402.5330.gz_fusion_1_ori.jpg", "00411/flat_document.png",
)
# Text is darker than this; the threshold alone also marks the faint grey edge of a scanned
# receipt (about 218 on white paper), which is not text.
_TEXT_MAX_GREY = 192


def text_mask(image: np.ndarray) -> np.ndarray:
    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    adaptive = cv2.adaptiveThreshold(grey, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY_INV, 31, 15) > 0
    return adaptive & (grey < _TEXT_MAX_GREY)


def shown_region(grid: np.ndarray, shape: tuple[int, int], margin: tuple[int, int]) -> np.ndarray:
    """Mask of the page pixels inside the outline of the output, traced through the grid."""
    h, w = shape
    px, py = grid_to_nodes(grid, shape)
    rows = align_corners_matrix(h + 2 * margin[1], grid.shape[1], h, margin[1])
    cols = align_corners_matrix(w + 2 * margin[0], grid.shape[2], w, margin[0])
    outline = []
    for edge_rows, edge_cols in ((rows[:1], cols), (rows, cols[-1:]), (rows[-1:], cols[::-1]), (rows[::-1], cols[:1])):
        x = (edge_rows @ px @ edge_cols.T).ravel()
        y = (edge_rows @ py @ edge_cols.T).ravel()
        outline.append(np.stack([x, y], axis=1))
    polygon = np.round(np.concatenate(outline) * 16).astype(np.int32)  # 4 fractional bits
    mask = np.zeros(shape, np.uint8)
    cv2.fillPoly(mask, [polygon], 1, lineType=cv2.LINE_8, shift=4)
    return mask.astype(bool)


def lost_text(image: np.ndarray, grid: np.ndarray, keep_margin: float) -> float:
    """Fraction of the page's text pixels that the output does not show."""
    text = text_mask(image)
    shown = shown_region(grid, image.shape[:2], margin_pixels(image.shape[:2], keep_margin))
    return float((text & ~shown).sum()) / max(1, int(text.sum()))


def _margin_rows(pipeline, named_images) -> list[tuple[str, float, float, float]]:
    """(name, text lost at keep_margin=0, text lost at MARGIN, MAD of the inside vs keep_margin=0)."""
    rows = []
    for name, image in named_images:
        result = pipeline.predict(image, use_doc_orientation_classify=False, skip_flat_pages=False,
                                  keep_margin=MARGIN)[0]
        grid = result.page_map.grid
        reference = apply_grid(image, grid)  # keep_margin=0, the reference's output
        mx, my = result.page_map.margin
        inside = result.output_img[my:my + image.shape[0], mx:mx + image.shape[1]]
        mad = float(np.abs(inside.astype(np.int16) - reference).mean())
        rows.append((name, lost_text(image, grid, 0.0), lost_text(image, grid, MARGIN), mad))
    cut = [r for r in rows if r[1] > 0.001]
    print(f"\n{len(rows)} flat pages, unwarped anyway; text pixels lost at keep_margin=0: "
          f"{len(cut)} pages over 0.1%, worst {max(r[1] for r in rows):.1%}; at keep_margin={MARGIN}: "
          f"worst {max(r[2] for r in rows):.3%}; MAD of the inside vs keep_margin=0: worst "
          f"{max(r[3] for r in rows):.2f} grey levels")
    for name, lost0, lost17, mad in sorted(rows, key=lambda r: -r[1])[:8]:
        print(f"  {name[:60]:60} lost {lost0:7.2%} -> {lost17:7.3%}  MAD {mad:.2f}")
    return rows


def test_a_17_percent_margin_keeps_the_text_of_rendered_flat_pages(pipeline):
    # Text set close to the edges: margins of 2-4% of the page.
    style = PageStyle(margin=(0.02, 0.04))
    named = []
    for seed, layout in enumerate(("text", "receipt", "table", "columns")):
        rng = np.random.default_rng(seed)
        named.append((layout, render_page(word_source("latin", rng), [None], False, rng, style, layout)))
    rows = _margin_rows(pipeline, named)
    assert max(r[1] for r in rows) > 0.001  # the reference's unwarp does cut text off these pages
    assert max(r[2] for r in rows) <= 0.001
    assert max(r[3] for r in rows) <= 3.0


@pytest.mark.realdata
def test_a_17_percent_margin_keeps_the_text_of_flat_pages(pipeline, page_sets, decode_page, full_run):
    files = page_sets["flat"]
    if not full_run:
        files = [f for f in files if f.name in DEFAULT_PAGES or f"{f.parent.name}/{f.name}" in DEFAULT_PAGES]
        assert len(files) == len(DEFAULT_PAGES)
    rows = _margin_rows(pipeline, [(path.name, decode_page(path)) for path in files])
    assert max(r[2] for r in rows) <= 0.001
    assert max(r[3] for r in rows) <= 3.0
