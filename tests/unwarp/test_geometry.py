"""The pure geometry under the unwarping features, on synthetic grids (fast, no model)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from pagefix.geometry.point_maps import PageMap
from pagefix.geometry.resample import align_corners_matrix, apply_grid, grid_to_pixel_maps, margin_pixels
from pagefix.geometry.turns import quarter_turn, turn_matrix
from pagefix.models.warp_score import homography_residual, identity_distance, pad_for_probe, probe_nodes


def bent_grid(gh: int = 45, gw: int = 31) -> np.ndarray:
    t, s = np.meshgrid(np.linspace(-0.9, 0.92, gh), np.linspace(-0.88, 0.9, gw), indexing="ij")
    return np.stack([s + 0.05 * np.sin(3 * t) + 0.02 * s * t, t + 0.04 * np.cos(2 * s)]).astype(np.float32)


@pytest.mark.parametrize("angle", [0, 90, 180, 270])
def test_turn_matrix_follows_quarter_turn(angle):
    h, w = 5, 7
    image = np.arange(h * w * 3, dtype=np.int32).reshape(h, w, 3).astype(np.uint16)
    turned = quarter_turn(image, angle)
    matrix = turn_matrix(angle, (h, w))
    for y in range(h):
        for x in range(w):
            tx, ty = (matrix @ [x, y, 1.0])[:2]
            assert np.array_equal(turned[int(round(ty)), int(round(tx))], image[y, x])


def test_margin_weights_extend_the_plain_ones():
    plain = align_corners_matrix(100, 31)
    wide = align_corners_matrix(130, 31, span=100, offset=15)
    assert np.array_equal(wide[15:115], plain)
    # outside: the first and last intervals extended linearly (weights still sum to one)
    assert np.allclose(wide.sum(axis=1), 1.0)
    assert wide[0, 0] > 1.0 and wide[0, 1] < 0.0 and wide[-1, -1] > 1.0


def test_the_inside_of_a_margin_output_is_the_plain_output():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (300, 200, 3), dtype=np.uint8)
    grid = bent_grid()
    plain = apply_grid(image, grid)
    mx, my = margin_pixels(image.shape[:2], 0.17)
    wide = apply_grid(image, grid, fill=(255, 255, 255), margin=(mx, my))
    assert wide.shape == (300 + 2 * my, 200 + 2 * mx, 3)
    assert np.array_equal(wide[my:my + 300, mx:mx + 200], plain)


def test_page_map_forward_is_the_resampling_map():
    grid = bent_grid()
    page_map = PageMap((300, 200), 0, grid, (20, 30))
    map_x, map_y = grid_to_pixel_maps(grid, (300, 200), (300, 200), None, (20, 30))
    assert map_x.shape == page_map.output_shape
    ys, xs = np.mgrid[0:map_x.shape[0]:7, 0:map_x.shape[1]:5]
    points = np.stack([xs.ravel(), ys.ravel()], axis=1).astype(np.float64)
    found, valid = page_map.to_input(points, return_valid=True)
    # Every output pixel, margin included, maps to where the resampling read it; those that read
    # beside the input are not valid.
    assert np.isfinite(found).all() and 0.8 < valid.mean() < 1.0
    assert np.allclose(found[:, 0], map_x[ys, xs].ravel(), atol=1e-3)
    assert np.allclose(found[:, 1], map_y[ys, xs].ravel(), atol=1e-3)
    source_h, source_w = 300, 200
    beside = (found[:, 0] < -0.5) | (found[:, 0] > source_w - 0.5) | (found[:, 1] < -0.5) | (found[:, 1] > source_h - 0.5)
    assert np.array_equal(valid, ~beside)


@pytest.mark.parametrize("angle", [0, 90, 180, 270])
def test_page_map_round_trips(angle):
    page_map = PageMap((300, 200), angle, bent_grid(), (12, 18))
    h, w = page_map.output_shape
    rng = np.random.default_rng(angle)
    points = np.stack([rng.uniform(0, w - 1, 3000), rng.uniform(0, h - 1, 3000)], axis=1)
    back = page_map.to_input(points)
    assert np.isfinite(back).all()  # the margin too: the grid's linear extension
    assert np.abs(page_map.to_output(back) - points).max() < 1e-8


def test_a_page_map_without_grid_is_the_turn():
    page_map = PageMap((300, 200), 90, None)
    assert page_map.output_shape == (200, 300)
    assert np.allclose(page_map.to_output([[199.0, 0.0]]), [[0.0, 0.0]])  # top-right corner goes to the top-left
    assert np.isnan(page_map.to_output([[250.0, 10.0]])).all()


def test_a_perspective_grid_has_no_warp_score():
    page = (700, 500)
    ys, xs = np.meshgrid(np.linspace(0, 699, 45), np.linspace(0, 499, 31), indexing="ij")
    regular = np.stack([xs, ys], axis=-1)
    assert identity_distance(regular, page) == pytest.approx(0.0, abs=1e-9)
    matrix = cv2.getPerspectiveTransform(
        np.float32([[0, 0], [499, 0], [499, 699], [0, 699]]), np.float32([[30, 12], [470, 40], [490, 690], [5, 660]])
    )
    seen = cv2.perspectiveTransform(regular.reshape(-1, 1, 2), matrix).reshape(regular.shape)
    assert homography_residual(seen, page) < 1e-3  # per mille
    assert identity_distance(seen, page) > 10
    bent = seen.copy()
    bent[..., 1] += 8.0 * np.sin(np.linspace(0, np.pi, 31))[None, :]  # a curled page: rows bow
    assert homography_residual(bent, page) > 2.0


def test_probe_nodes_are_in_page_pixels():
    page = np.zeros((100, 60, 3), np.uint8)
    padded, offset = pad_for_probe(page)
    assert padded.shape[:2] == (120, 72) and offset == (6, 10)
    assert (padded[0, 0] == 70).all() and (padded[10, 6] == 0).all()
    # a grid that samples exactly the page inside the frame gives the page's own nodes
    gx = (np.linspace(6, 65, 31) / 71) * 2 - 1
    gy = (np.linspace(10, 109, 45) / 119) * 2 - 1
    grid = np.stack(np.meshgrid(gx, gy, indexing="xy"))
    nodes = probe_nodes(grid, padded.shape[:2], offset)
    assert identity_distance(nodes, (100, 60)) < 1e-9
