"""Grid resampling: a coarse sampling grid in [-1, 1] (UVDoc's output) upsampled with align-corners
weights and applied to the full-resolution page in row tiles, like PyTorch's grid_sample but in
uint8 and with OpenCV's fixed-point maps."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import cv2
import numpy as np

from ..errors import LimitExceededError

__all__ = ["align_corners_matrix", "align_corners_positions", "apply_grid", "grid_to_nodes", "grid_to_pixel_maps",
           "margin_pixels"]

# cv2.remap addresses pixels with signed 16-bit coordinates.
_REMAP_MAX_SIDE = 32767
# Rows resampled per tile: bounds the float maps to 2 x 4 bytes x width x rows.
_TILE_ROWS = 512


def align_corners_matrix(n_out: int, n_in: int, span: int | None = None, offset: int = 0) -> np.ndarray:
    """Linear interpolation weights [n_out, n_in] that put the first and last samples on the
    first and last nodes (PyTorch's align_corners=True).

    With `span` and `offset`, output sample `offset` sits on the first node and `offset + span - 1`
    on the last; samples outside that range extend the first or last interval linearly (the grid
    extrapolated into a margin).
    """
    weights = np.zeros((n_out, n_in), dtype=np.float64)
    left, frac = align_corners_positions(n_out, n_in, span, offset)
    rows = np.arange(n_out)
    weights[rows, left] = 1.0 - frac
    if n_in > 1:
        weights[rows, left + 1] = frac
    return weights


def align_corners_positions(
    n_out: int, n_in: int, span: int | None = None, offset: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """The two nonzero entries of each row of `align_corners_matrix`, as (left node index, fraction
    towards the next node): output sample i = (1 - frac) * node[left] + frac * node[left + 1]."""
    span = n_out if span is None else span
    if n_in == 1 or span == 1:
        return np.zeros(n_out, dtype=np.int64), np.zeros(n_out, dtype=np.float64)
    position = (np.arange(n_out, dtype=np.float64) - offset) * (n_in - 1) / (span - 1)
    left = np.clip(np.floor(position).astype(np.int64), 0, n_in - 2)
    return left, position - left


def grid_to_nodes(grid: np.ndarray, source_shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """The source pixel coordinates (x, y), each [gh, gw], of the nodes of a [2, gh, gw] grid in
    [-1, 1] (grid_sample convention: -1/1 = the centres of the first/last source pixels)."""
    src_h, src_w = source_shape
    grid = np.asarray(grid, dtype=np.float64)
    return (grid[0] + 1.0) * 0.5 * (src_w - 1), (grid[1] + 1.0) * 0.5 * (src_h - 1)


def grid_to_pixel_maps(
    grid: np.ndarray, source_shape: tuple[int, int], out_shape: tuple[int, int], rows: slice | None = None,
    margin: tuple[int, int] = (0, 0),
) -> tuple[np.ndarray, np.ndarray]:
    """Source pixel coordinates (map_x, map_y) for the output rows `rows`.

    The grid is upsampled to `out_shape` (h, w) with align-corners weights; `margin` (x, y) adds
    that many output pixels on each side, where the grid is extrapolated linearly.
    """
    out_h, out_w = out_shape
    mx, my = margin
    px, py = grid_to_nodes(grid, source_shape)
    cols = align_corners_matrix(out_w + 2 * mx, grid.shape[2], out_w, mx).T  # [gw, out_w + 2 mx]
    row_weights = align_corners_matrix(out_h + 2 * my, grid.shape[1], out_h, my)
    if rows is not None:
        row_weights = row_weights[rows]
    map_x = (row_weights @ (px @ cols)).astype(np.float32)
    map_y = (row_weights @ (py @ cols)).astype(np.float32)
    return map_x, map_y


def apply_grid(
    image: np.ndarray, grid: np.ndarray, out_shape: tuple[int, int] | None = None,
    fill: int | tuple[int, int, int] = 0, margin: tuple[int, int] = (0, 0), threads: int = 1,
) -> np.ndarray:
    """Resample `image` (uint8, HxWxC) through `grid`; points outside the page get `fill`.

    The result is `out_shape` (default: the image's size) plus `margin` (x, y) pixels on each side.
    `threads` > 1 resamples that many tiles at once: making a tile's maps is NumPy work on one
    core, so one tile's maps are made while another is remapped (12 MP on 2 cores: see bench/).

    Speed and memory: the grid is upsampled along x once (a [gh, width] float32 table per
    coordinate); each tile of rows is then a row-wise lerp of that table, turned into
    OpenCV's fixed-point maps (1/32 px, what remap uses internally for bilinear anyway), so no
    full-size float map or float copy of the page exists and remap reads half the map bytes.
    """
    src_h, src_w = image.shape[:2]
    out_h, out_w = out_shape or (src_h, src_w)
    mx, my = margin
    full_h, full_w = out_h + 2 * my, out_w + 2 * mx
    if max(src_h, src_w, full_h, full_w) >= _REMAP_MAX_SIDE:
        raise LimitExceededError(
            f"a page of {src_w}x{src_h} px cannot be unwarped to {full_w}x{full_h} px: "
            f"sides must be under {_REMAP_MAX_SIDE} px",
            limit="max_remap_side", value=_REMAP_MAX_SIDE, actual=max(src_h, src_w, full_h, full_w),
        )
    px, py = grid_to_nodes(grid, (src_h, src_w))
    cols = align_corners_matrix(full_w, grid.shape[2], out_w, mx).T  # [gw, full_w]
    # Upsampled along x once, in float64 for the product, kept as float32 ([gh, full_w] each).
    table_x, table_y = (px @ cols).astype(np.float32), (py @ cols).astype(np.float32)
    # Along y each output row mixes two table rows: a lerp, not a (mostly zero) matrix product.
    left, frac = align_corners_positions(full_h, grid.shape[1], out_h, my)
    right = np.minimum(left + 1, grid.shape[1] - 1)
    frac = frac.astype(np.float32)[:, None]
    output = np.empty((full_h, full_w) + image.shape[2:], dtype=image.dtype)
    border = fill if isinstance(fill, tuple) else (fill, fill, fill)

    def resample_tile(start: int) -> None:
        rows = slice(start, min(full_h, start + _TILE_ROWS))
        map_x, map_y = (_lerp_rows(t, left[rows], right[rows], frac[rows]) for t in (table_x, table_y))
        fixed_xy, fixed_frac = cv2.convertMaps(map_x, map_y, cv2.CV_16SC2)
        del map_x, map_y
        cv2.remap(
            image, fixed_xy, fixed_frac, cv2.INTER_LINEAR, dst=output[rows],
            borderMode=cv2.BORDER_CONSTANT, borderValue=border,
        )

    starts = range(0, full_h, _TILE_ROWS)
    if threads > 1 and len(starts) > 1:
        # NumPy and OpenCV let go of the GIL here; each tile writes its own rows of `output`.
        with ThreadPoolExecutor(max_workers=min(threads, len(starts)), thread_name_prefix="pagefix-remap") as pool:
            list(pool.map(resample_tile, starts))
    else:
        for start in starts:
            resample_tile(start)
    return output


def _lerp_rows(table: np.ndarray, left: np.ndarray, right: np.ndarray, frac: np.ndarray) -> np.ndarray:
    """(1 - frac) * table[left] + frac * table[right], row by row, with one temporary."""
    low, high = table[left], table[right]
    high -= low
    high *= frac
    low += high
    return low


def margin_pixels(shape: tuple[int, int], keep_margin: float) -> tuple[int, int]:
    """The (x, y) margin in pixels that `keep_margin` (a fraction of the page size) adds per side."""
    h, w = shape
    return round(keep_margin * w), round(keep_margin * h)
