"""UVDoc unwarping: predict a coarse sampling grid on a 488x712 copy of the page, then resample the
full-resolution page through it (align-corners bilinear grid upsampling, bilinear sampling with a
constant border), like the reference's grid_sample but in uint8 and in row tiles."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from ..errors import LimitExceededError
from .runtime import OnnxRunner, Runner, RuntimeOptions
from .store import ModelFiles

__all__ = ["Unwarper", "align_corners_matrix", "apply_grid", "grid_to_pixel_maps"]

# cv2.remap addresses pixels with signed 16-bit coordinates.
_REMAP_MAX_SIDE = 32767
# Rows resampled per tile: bounds the float maps to 2 x 8 bytes x width x rows.
_TILE_ROWS = 512


def align_corners_matrix(n_out: int, n_in: int) -> np.ndarray:
    """Linear interpolation weights [n_out, n_in] that put the first and last samples on the
    first and last nodes (PyTorch's align_corners=True)."""
    weights = np.zeros((n_out, n_in), dtype=np.float64)
    if n_in == 1 or n_out == 1:
        weights[:, 0] = 1.0
        return weights
    position = np.arange(n_out, dtype=np.float64) * (n_in - 1) / (n_out - 1)
    left = np.clip(np.floor(position).astype(np.int64), 0, n_in - 2)
    frac = position - left
    rows = np.arange(n_out)
    weights[rows, left] = 1.0 - frac
    weights[rows, left + 1] = frac
    return weights


def grid_to_pixel_maps(
    grid: np.ndarray, source_shape: tuple[int, int], out_shape: tuple[int, int], rows: slice | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Source pixel coordinates (map_x, map_y) for the output rows `rows`.

    `grid` is [2, gh, gw] with x, y in [-1, 1] (grid_sample convention, -1/1 = the centres of the
    first/last source pixels); it is upsampled to `out_shape` with align-corners weights.
    """
    src_h, src_w = source_shape
    out_h, out_w = out_shape
    grid = np.asarray(grid, dtype=np.float64)
    px = (grid[0] + 1.0) * 0.5 * (src_w - 1)
    py = (grid[1] + 1.0) * 0.5 * (src_h - 1)
    cols = align_corners_matrix(out_w, grid.shape[2]).T  # [gw, out_w]
    row_weights = align_corners_matrix(out_h, grid.shape[1])
    if rows is not None:
        row_weights = row_weights[rows]
    map_x = (row_weights @ (px @ cols)).astype(np.float32)
    map_y = (row_weights @ (py @ cols)).astype(np.float32)
    return map_x, map_y


def apply_grid(
    image: np.ndarray, grid: np.ndarray, out_shape: tuple[int, int] | None = None,
    fill: int | tuple[int, int, int] = 0,
) -> np.ndarray:
    """Resample `image` (uint8, HxWxC) through `grid`; points outside the page get `fill`."""
    src_h, src_w = image.shape[:2]
    out_h, out_w = out_shape or (src_h, src_w)
    if max(src_h, src_w, out_h, out_w) >= _REMAP_MAX_SIDE:
        raise LimitExceededError(
            f"a page of {src_w}x{src_h} px cannot be unwarped: sides must be under {_REMAP_MAX_SIDE} px"
        )
    output = np.empty((out_h, out_w) + image.shape[2:], dtype=image.dtype)
    border = fill if isinstance(fill, tuple) else (fill, fill, fill)
    for start in range(0, out_h, _TILE_ROWS):
        rows = slice(start, min(out_h, start + _TILE_ROWS))
        map_x, map_y = grid_to_pixel_maps(grid, (src_h, src_w), (out_h, out_w), rows)
        cv2.remap(
            image, map_x, map_y, cv2.INTER_LINEAR, dst=output[rows],
            borderMode=cv2.BORDER_CONSTANT, borderValue=border,
        )
    return output


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
        return cls(OnnxRunner.load(files.path, options), **kwargs)

    def model_input(self, image: np.ndarray) -> np.ndarray:
        """One page to the model's CHW float32 input in [0, 1]."""
        small = cv2.resize(image, self.input_size, interpolation=cv2.INTER_AREA)
        if self.channel_order == "rgb":
            small = small[:, :, ::-1]
        return np.ascontiguousarray(small.transpose(2, 0, 1), dtype=np.float32) * np.float32(1.0 / 255.0)

    def predict_grids(self, images: Sequence[np.ndarray]) -> list[np.ndarray]:
        """The [2, 45, 31] sampling grid of each page, in one model call."""
        if not images:
            return []
        batch = np.stack([self.model_input(image) for image in images])
        grids = self.runner(batch)[0]
        return [np.asarray(g, dtype=np.float32) for g in grids]

    def unwarp(self, image: np.ndarray, grid: np.ndarray | None = None) -> np.ndarray:
        """The unwarped page, same size as the input (as the reference)."""
        if grid is None:
            grid = self.predict_grids([image])[0]
        return apply_grid(image, grid)
