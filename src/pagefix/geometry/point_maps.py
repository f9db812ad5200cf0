"""Points between the input page and the corrected page: the quarter turn, then UVDoc's grid.

The grid is the coordinate map itself: an output pixel's source point is the bilinear
(align-corners) lookup of the grid's nodes, exactly as the page was resampled; the margin of
`keep_margin` extends the outer cells linearly, for points as for pixels, so a point in the margin
maps to where the resampling looked for it (outside the input where the margin shows fill). Going
the other way inverts the bilinear cell with a few vectorised Newton steps per point. Pixel
coordinates are (x, y) with pixel centres on integers (OpenCV's convention); a pixel covers its
centre +- 0.5.

Both directions can return a validity mask (`return_valid=True`): True where the point lies on its
page and its counterpart on the other page. A point with no counterpart at all (off the output
page; cut off by the unwarp) is NaN, and its mask entry False.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Literal, overload

import cv2
import numpy as np
from numpy.typing import ArrayLike

from .resample import grid_to_nodes
from .turns import turn_matrix

__all__ = ["PageMap"]

_NEWTON_STEPS = 30
# A Newton step moves at most this many cells, so a point cannot jump across a fold.
_MAX_STEP_CELLS = 1.0
# Residual (px) under which an inverted point counts as found; Newton stops early far below it.
_TOLERANCE_PX = 1e-6
_CONVERGED_PX = 1e-9


def _apply(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    return points @ matrix[:2, :2].T + matrix[:2, 2]


def _inside(points: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    h, w = shape
    x, y = points[:, 0], points[:, 1]
    return (x >= -0.5) & (x <= w - 0.5) & (y >= -0.5) & (y <= h - 0.5)


def _as_3x3(affine: np.ndarray) -> np.ndarray:
    return np.vstack([np.asarray(affine, dtype=np.float64), [0.0, 0.0, 1.0]])


def _as_points(points: ArrayLike) -> np.ndarray:
    array = np.asarray(points, dtype=np.float64)
    if array.ndim == 1 and array.shape == (2,):
        array = array[None, :]
    if array.ndim != 2 or array.shape[1] != 2:
        raise ValueError(f"points must be an N x 2 array of (x, y), got shape {array.shape}")
    return array


@dataclass(frozen=True, eq=False)  # holds an array: compare by identity
class PageMap:
    """How one corrected page was made from its input: the turn, then the grid and the margin (an
    unwarped page) or the fine rotation (a flat page scanned crooked), then the final turn.

    >>> page_map.to_input([[100.0, 200.0]])  # doctest: +SKIP
    array([[ 131.7,  224.2]])
    """

    #: (h, w) of the input page (before the turn).
    input_shape: tuple[int, int]
    #: Clockwise turn undone before unwarping: 0, 90, 180 or 270.
    angle: int
    #: The [2, gh, gw] UVDoc grid (in [-1, 1] of the upright page), None when the page was not unwarped.
    grid: np.ndarray | None = None
    #: Output pixels (x, y) added on each side by `keep_margin`.
    margin: tuple[int, int] = (0, 0)
    #: Clockwise turn of the unwarped page's content, undone last (the orientation decided on the
    #: flat page): 0, 90, 180 or 270.
    final_angle: int = 0
    #: The 2x3 affine matrix that straightened a crooked flat page (upright page to output, pixel
    #: centres on integers), and the straightened page's (h, w); None when it was not turned.
    rotation: np.ndarray | None = None
    rotated_shape: tuple[int, int] | None = None

    @property
    def upright_shape(self) -> tuple[int, int]:
        h, w = self.input_shape
        return (w, h) if self.angle % 180 else (h, w)

    @property
    def unwarped_shape(self) -> tuple[int, int]:
        """(h, w) of the unwarped page, before the final turn."""
        if self.rotation is not None and self.rotated_shape is not None:
            return self.rotated_shape
        h, w = self.upright_shape
        if self.grid is None:
            return h, w
        return h + 2 * self.margin[1], w + 2 * self.margin[0]

    @property
    def output_shape(self) -> tuple[int, int]:
        h, w = self.unwarped_shape
        return (w, h) if self.final_angle % 180 else (h, w)

    @overload
    def to_input(self, points: ArrayLike, return_valid: Literal[False] = False) -> np.ndarray: ...

    @overload
    def to_input(self, points: ArrayLike, return_valid: Literal[True]) -> tuple[np.ndarray, np.ndarray]: ...

    def to_input(self, points: ArrayLike, return_valid: bool = False) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
        """Output pixel coordinates [N, 2] to input ones. A point in a kept margin maps to the grid's
        linear extension (the position the resampling read, outside the input where the margin
        shows fill); a point off the output page is NaN. With `return_valid`, also a bool [N]:
        True where the point is on the output page and its source on the input page."""
        points = _as_points(points)
        unwarped = _apply(np.linalg.inv(turn_matrix(self.final_angle, self.unwarped_shape)), points)
        upright = unwarped.copy()
        if self.grid is not None:
            s, t = self._node_coordinates(unwarped)
            upright = self._evaluate(s, t)[0]
        elif self.rotation is not None:
            upright = _apply(np.linalg.inv(_as_3x3(self.rotation)), unwarped)
        found = _apply(np.linalg.inv(turn_matrix(self.angle, self.input_shape)), upright)
        defined = _inside(points, self.output_shape)
        found[~defined] = np.nan
        if return_valid:
            return found, defined & _inside(upright, self.upright_shape)
        return found

    @overload
    def to_output(self, points: ArrayLike, return_valid: Literal[False] = False) -> np.ndarray: ...

    @overload
    def to_output(self, points: ArrayLike, return_valid: Literal[True]) -> tuple[np.ndarray, np.ndarray]: ...

    def to_output(self, points: ArrayLike, return_valid: bool = False) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
        """Input pixel coordinates [N, 2] to output ones: where the output shows that point, or, for a
        point beside the input, where a kept margin would show it (the inverse of `to_input`). NaN
        where the point has no place on the output page (cut off by the unwarp, or beyond the
        page). With `return_valid`, also a bool [N]: True where the point is on the input page and
        on the output page."""
        points = _as_points(points)
        upright = _apply(turn_matrix(self.angle, self.input_shape), points)
        on_input = _inside(points, self.input_shape)
        unwarped = upright.copy()
        defined = on_input.copy()
        if self.grid is not None:
            s, t, converged = self._invert(upright)
            unwarped = self._output_coordinates(s, t)
            defined = converged & _inside(unwarped, self.unwarped_shape)
        elif self.rotation is not None:  # the rotated canvas holds the whole page
            unwarped = _apply(_as_3x3(self.rotation), upright)
        found = _apply(turn_matrix(self.final_angle, self.unwarped_shape), unwarped)
        found[~defined] = np.nan
        if return_valid:
            return found, defined & on_input
        return found

    # -- the grid as a map ----------------------------------------------------------------------

    @cached_property
    def _nodes(self) -> np.ndarray:
        assert self.grid is not None
        x, y = grid_to_nodes(self.grid, self.upright_shape)
        return np.stack([x, y], axis=-1)  # [gh, gw, 2] in upright-page pixels

    def _scale(self) -> tuple[float, float]:
        """Output pixels per grid cell (x, y): the grid spans the upright page's size, as the reference."""
        assert self.grid is not None
        h, w = self.upright_shape
        gh, gw = self.grid.shape[1:]
        return (w - 1) / (gw - 1), (h - 1) / (gh - 1)

    def _node_coordinates(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        sx, sy = self._scale()
        return (points[:, 0] - self.margin[0]) / sx, (points[:, 1] - self.margin[1]) / sy

    def _output_coordinates(self, s: np.ndarray, t: np.ndarray) -> np.ndarray:
        sx, sy = self._scale()
        return np.stack([s * sx + self.margin[0], t * sy + self.margin[1]], axis=1)

    def _evaluate(self, s: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The map at node coordinates (s, t), and its derivatives along s and t. Outside the grid
        the outer cells are extended linearly, as in the margin of the output."""
        nodes = self._nodes
        gh, gw = nodes.shape[:2]
        j = np.clip(np.floor(s), 0, gw - 2).astype(np.int64)
        i = np.clip(np.floor(t), 0, gh - 2).astype(np.int64)
        a = (s - j)[:, None]
        b = (t - i)[:, None]
        p00, p01, p10, p11 = nodes[i, j], nodes[i, j + 1], nodes[i + 1, j], nodes[i + 1, j + 1]
        value = (1 - a) * (1 - b) * p00 + a * (1 - b) * p01 + (1 - a) * b * p10 + a * b * p11
        d_s = (1 - b) * (p01 - p00) + b * (p11 - p10)
        d_t = (1 - a) * (p10 - p00) + a * (p11 - p01)
        return value, d_s, d_t

    def _invert(self, targets: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Node coordinates (s, t) whose map value is `targets`, and whether each was found."""
        nodes = self._nodes
        s, t = self._homography_guess(nodes, targets)
        s, t, ok = self._newton(targets, s, t)
        if not ok.all():  # far from a perspective view: start again from the nearest node
            retry = np.flatnonzero(~ok)
            s0, t0 = _nearest_node(nodes, targets[retry])
            s[retry], t[retry], ok[retry] = self._newton(targets[retry], s0, t0)
        return s, t, ok

    def _newton(self, targets: np.ndarray, s: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        s, t = s.copy(), t.copy()
        for _ in range(_NEWTON_STEPS):
            value, d_s, d_t = self._evaluate(s, t)
            r = targets - value
            det = d_s[:, 0] * d_t[:, 1] - d_s[:, 1] * d_t[:, 0]
            det = np.where(np.abs(det) < 1e-12, np.nan, det)
            step_s = (r[:, 0] * d_t[:, 1] - r[:, 1] * d_t[:, 0]) / det
            step_t = (d_s[:, 0] * r[:, 1] - d_s[:, 1] * r[:, 0]) / det
            s = s + np.clip(np.nan_to_num(step_s), -_MAX_STEP_CELLS, _MAX_STEP_CELLS)
            t = t + np.clip(np.nan_to_num(step_t), -_MAX_STEP_CELLS, _MAX_STEP_CELLS)
            if np.all(np.hypot(*r.T) < _CONVERGED_PX):
                break
        value = self._evaluate(s, t)[0]
        ok = np.hypot(*(targets - value).T) < _TOLERANCE_PX
        return s, t, ok

    @staticmethod
    def _homography_guess(nodes: np.ndarray, targets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        gh, gw = nodes.shape[:2]
        t_idx, s_idx = np.meshgrid(np.arange(gh, dtype=np.float64), np.arange(gw, dtype=np.float64), indexing="ij")
        index = np.stack([s_idx, t_idx], axis=-1).reshape(-1, 1, 2)
        matrix, _ = cv2.findHomography(nodes.reshape(-1, 1, 2), index, 0)
        if matrix is None:
            return _nearest_node(nodes, targets)
        guess = cv2.perspectiveTransform(targets.reshape(-1, 1, 2), matrix).reshape(-1, 2)
        return guess[:, 0], guess[:, 1]


def _nearest_node(nodes: np.ndarray, targets: np.ndarray, chunk: int = 4096) -> tuple[np.ndarray, np.ndarray]:
    """Node coordinates of the node nearest to each target (in chunks, to bound memory)."""
    flat = nodes.reshape(-1, 2)
    gw = nodes.shape[1]
    best = np.empty(len(targets), dtype=np.int64)
    for start in range(0, len(targets), chunk):
        part = targets[start:start + chunk]
        d = ((part[:, None, :] - flat[None, :, :]) ** 2).sum(axis=2)
        best[start:start + chunk] = d.argmin(axis=1)
    return (best % gw).astype(np.float64), (best // gw).astype(np.float64)
