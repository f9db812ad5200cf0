"""The optimised resampling (grid upsampled once, row lerp, fixed-point maps) against the
straightforward one (full float maps from the align-corners matrices, float remap)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
from support.pages import fixture_file, read_page

from pagefix.geometry.resample import align_corners_matrix, align_corners_positions, apply_grid, grid_to_pixel_maps


def _straightforward(image: np.ndarray, grid: np.ndarray, margin: tuple[int, int], fill: int) -> np.ndarray:
    h, w = image.shape[:2]
    map_x, map_y = grid_to_pixel_maps(grid, (h, w), (h, w), None, margin)
    return cv2.remap(image, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=(fill,) * 3)


def _warped_grid(seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    yy, xx = np.meshgrid(np.linspace(-1, 1, 45), np.linspace(-1, 1, 31), indexing="ij")
    bend = rng.uniform(0.02, 0.08)
    grid = np.stack([0.9 * xx + bend * np.sin(3 * yy), 0.92 * yy + bend * np.cos(2 * xx) * xx])
    return grid.astype(np.float32)


@pytest.fixture(scope="module")
def page() -> np.ndarray:
    # A real phone photo of a curled invoice (tests/fixtures). The mean difference below grows with
    # the density of sharp edges: 0.03 here, about 0.1 on a rendered page of small black text.
    return cv2.resize(read_page(fixture_file("inv3d_real__00411_warped_document_curled_bright.jpg")), (900, 1300), interpolation=cv2.INTER_AREA)  # over two 512-row tiles


@pytest.mark.parametrize(("margin", "fill"), [((0, 0), 0), ((40, 65), 255)])
def test_fast_resampling_matches_float_maps(page, margin, fill) -> None:
    grid = _warped_grid(1)
    fast = apply_grid(page, grid, fill=fill, margin=margin).astype(np.int16)
    plain = _straightforward(page, grid, margin, fill).astype(np.int16)
    assert fast.shape == plain.shape
    diff = np.abs(fast - plain)
    # Both are bilinear on a 1/32-pixel lattice; float32 vs float64 map rounding may move a
    # sample to the neighbouring lattice point, a change of a few levels at a sharp edge.
    assert diff.mean() < 0.05
    assert np.percentile(diff, 99.9) <= 3


def test_row_lerp_positions_are_the_matrix_rows() -> None:
    for n_out, n_in, span, offset in [(700, 45, 600, 50), (31, 31, None, 0), (5, 1, None, 0), (1, 4, 1, 0)]:
        matrix = align_corners_matrix(n_out, n_in, span, offset)
        left, frac = align_corners_positions(n_out, n_in, span, offset)
        rebuilt = np.zeros_like(matrix)
        rows = np.arange(n_out)
        rebuilt[rows, left] += 1.0 - frac
        if n_in > 1:
            rebuilt[rows, np.minimum(left + 1, n_in - 1)] += frac
        np.testing.assert_allclose(rebuilt, matrix, atol=1e-12)


def test_output_is_uint8_and_leaves_the_page_untouched(page) -> None:
    before = page.copy()
    out = apply_grid(page, _warped_grid(2))
    assert out.dtype == np.uint8 and out.shape == page.shape
    assert np.array_equal(page, before)


@pytest.mark.parametrize("threads", [2, 3])
def test_tiles_on_several_threads_give_the_same_pixels(page, threads) -> None:
    grid = _warped_grid(3)
    one = apply_grid(page, grid, fill=255, margin=(30, 50))
    assert np.array_equal(apply_grid(page, grid, fill=255, margin=(30, 50), threads=threads), one)
