"""UVDoc unwarping: predict a coarse sampling grid on a 488x712 copy of the page, then resample the
full-resolution page through it (align-corners bilinear grid upsampling, bilinear sampling with a
constant border), like the reference's grid_sample but in uint8 and in row tiles."""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import cv2
import numpy as np

from ..errors import LimitExceededError
from .fastest import load_runner
from .runtime import Runner, RuntimeOptions
from .store import ModelFiles

__all__ = ["Unwarper", "align_corners_matrix", "apply_grid", "grid_to_nodes", "grid_to_pixel_maps", "margin_pixels",
           "unwarp_with_grid"]

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
            f"sides must be under {_REMAP_MAX_SIDE} px"
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


class Unwarper:
    """Predict UVDoc grids and unwarp pages (BGR uint8) at their full resolution.

    >>> Unwarper.from_files(store.resolve("unwarping"), RuntimeOptions()).unwarp(page)  # doctest: +SKIP
    """

    def __init__(
        self, runner: Runner, input_width: int = 488, input_height: int = 712, channel_order: str = "rgb"
    ) -> None:
        self.runner = runner
        self.input_size = (int(input_width), int(input_height))
        # UVDoc was trained on RGB; the PaddleX port of it reads BGR. The weights we load are UVDoc's.
        self.channel_order = channel_order.lower()

    @classmethod
    def from_files(cls, files: ModelFiles, options: RuntimeOptions) -> Unwarper:
        settings = files.preprocessing
        kwargs = {k: settings[k] for k in ("input_width", "input_height", "channel_order") if k in settings}
        width, height = kwargs.get("input_width", 488), kwargs.get("input_height", 712)
        # bf16 may run UVDoc: its loss on Inv3DReal was measured (README, "enable_hpi").
        return cls(load_runner(files.path, options, (1, 3, height, width), bf16_ok=True), **kwargs)

    def model_image(self, image: np.ndarray) -> np.ndarray:
        """One page at the model's input size, uint8 HxWx3 in the model's channel order: all the
        model needs of a page, a quarter of the bytes of its float input (what a staged engine
        sends to the model's machine)."""
        small = cv2.resize(image, self.input_size, interpolation=cv2.INTER_AREA)
        return small[:, :, ::-1] if self.channel_order == "rgb" else small

    def model_input(self, image: np.ndarray) -> np.ndarray:
        """One page to the model's CHW float32 input in [0, 1]."""
        return _chw_unit(self.model_image(image))

    def predict_grids(self, images: Sequence[np.ndarray]) -> list[np.ndarray]:
        """The [2, 45, 31] sampling grid of each page, in one model call."""
        return self.grids_for_model_images([self.model_image(image) for image in images])

    def grids_for_model_images(self, small_images: Sequence[np.ndarray]) -> list[np.ndarray]:
        """`predict_grids` of pages already made `model_image`s, in one model call."""
        if not small_images:
            return []
        batch = np.stack([_chw_unit(small) for small in small_images])
        grids = self.runner(batch)[0]
        return [np.asarray(g, dtype=np.float32) for g in grids]

    def unwarp(
        self, image: np.ndarray, grid: np.ndarray | None = None, keep_margin: float = 0.0,
        fill: int | tuple[int, int, int] = 0,
    ) -> np.ndarray:
        """The unwarped page, same size as the input (as the reference), plus `keep_margin` (a
        fraction of the width and height) on each side where the grid is extrapolated, so the
        page edges UVDoc cuts off are kept; what lies outside the photo gets `fill`."""
        if grid is None:
            grid = self.predict_grids([image])[0]
        return unwarp_with_grid(image, grid, keep_margin, fill)


def unwarp_with_grid(
    image: np.ndarray, grid: np.ndarray, keep_margin: float = 0.0, fill: int | tuple[int, int, int] = 0,
    threads: int = 1,
) -> np.ndarray:
    """`Unwarper.unwarp` with the grid given: no model needed (the resampling half of unwarping);
    `threads`: tiles resampled at once (`apply_grid`)."""
    return apply_grid(image, grid, fill=fill, margin=margin_pixels(image.shape[:2], keep_margin), threads=threads)


def _chw_unit(small: np.ndarray) -> np.ndarray:
    """A uint8 HxWx3 image as the model's CHW float32 input in [0, 1]."""
    return np.ascontiguousarray(small.transpose(2, 0, 1), dtype=np.float32) * np.float32(1.0 / 255.0)
