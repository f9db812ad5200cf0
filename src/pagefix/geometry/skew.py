"""Fine skew of an upright page: the small angle its text lines make with the horizontal.

Weight-free, from projection profiles: the dark pixels of the page (its ink, found by a local
threshold) are projected onto the vertical axis at a trial angle; when the trial angle matches the
lines', every line falls into a few rows of the histogram and the sum of squared row counts peaks.
A coarse search over the whole range runs on a sample of the ink at once (one `bincount` for all
angles), a fine search around the best angle on all of it, and a parabola through the top three
fine scores places the peak between steps. How it measures: `pagefix eval skew` and
`bench/skew.py` (docs: skew.md).

Angles are in degrees, counter-clockwise positive (OpenCV's `getRotationMatrix2D` convention):
a page whose lines rise to the right has a positive skew, and is corrected by turning it clockwise.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

__all__ = ["SkewEstimate", "estimate_skew"]

#: Pixels of the working copy: a 300 DPI A4 page is shrunk 3 times, a small receipt not at all, so
#: narrow pages keep the width their angle is read from.
_WORK_PIXELS = 1_000_000
#: The searches after the first, as (step in degrees, ink pixels sampled): each spans two steps of
#: the one before it on either side of that one's best angle. The first covers the whole range.
_FIRST_SEARCH = (0.5, 4_000)
_REFINEMENTS = ((0.1, 10_000), (0.02, 25_000))
#: Fewer ink pixels than this (at the working size) is too little text to tell an angle from.
_MIN_INK = 800
#: The peak of the profile energy must stand this far above the median over the range (ratio).
_MIN_PEAK_RATIO = 1.15


@dataclass(frozen=True)
class SkewEstimate:
    """The skew found on one page, or why none was.

    `angle` is None when the page does not say (too little text, pictures only, or no angle
    stands out); `confidence` is the profile energy at the angle over its median across the
    searched range (1.0: no preference)."""

    angle: float | None
    confidence: float
    reason: str = ""

    @property
    def known(self) -> bool:
        return self.angle is not None


def estimate_skew(image: np.ndarray, max_angle: float = 15.0) -> SkewEstimate:
    """The skew of an upright page (BGR or grey uint8) within +-`max_angle` degrees."""
    if max_angle <= 0:
        raise ValueError(f"max_angle must be positive, got {max_angle!r}")
    ink = _ink_points(image)
    if len(ink) < _MIN_INK:
        return SkewEstimate(None, 1.0, "too little text")
    rng = np.random.default_rng(0)  # a fixed sample: the same page always gives the same angle
    step, count = _FIRST_SEARCH
    angles = np.arange(-max_angle, max_angle + step / 2, step)
    energies = _energies(_sample(ink, count, rng), angles)
    best = int(np.argmax(energies))
    ratio = float(energies[best] / max(np.median(energies), 1e-9))
    if ratio < _MIN_PEAK_RATIO:
        return SkewEstimate(None, ratio, "no text lines stand out")
    if best in (0, len(angles) - 1):
        return SkewEstimate(None, ratio, f"the lines lean more than {max_angle:g} degrees")
    for fine_step, count in _REFINEMENTS:
        centre = float(angles[best])
        angles = np.arange(centre - 2 * step, centre + 2 * step + fine_step / 2, fine_step)
        energies = _energies(_sample(ink, count, rng), angles)
        best, step = int(np.argmax(energies)), fine_step
    angle = float(angles[best]) + step * _vertex_offset(energies, best)
    return SkewEstimate(round(angle, 3), ratio)


def _ink_points(image: np.ndarray) -> np.ndarray:
    """(x, y) of the ink pixels [N, 2] (float32) on a working copy of the page of about
    `_WORK_PIXELS`."""
    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image
    # A whole-number shrink: OpenCV's area resampling has a fast path for it (3x faster here).
    factor = math.ceil(math.sqrt(grey.shape[0] * grey.shape[1] / _WORK_PIXELS))
    if factor > 1:
        grey = cv2.resize(grey, None, fx=1 / factor, fy=1 / factor, interpolation=cv2.INTER_AREA)
    # Ink is darker than the paper around it: a local threshold keeps text strokes and the edges of
    # rules, and leaves out the inside of large dark areas (photos, black borders).
    mask = cv2.adaptiveThreshold(grey, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY_INV, 25, 15)
    # The outer 2% of the page often holds the scanner's or the camera's edge, not text.
    gh, gw = mask.shape
    by, bx = gh // 50, gw // 50
    mask[:by], mask[gh - by:], mask[:, :bx], mask[:, gw - bx:] = 0, 0, 0, 0
    ys, xs = np.nonzero(mask)
    return np.stack([xs, ys], axis=1).astype(np.float32)


def _sample(points: np.ndarray, count: int, rng: np.random.Generator) -> np.ndarray:
    if len(points) <= count:
        return points
    return points[rng.choice(len(points), count, replace=False)]


def _energies(points: np.ndarray, angles: np.ndarray) -> np.ndarray:
    """Sum of squared row counts of the points projected at each angle (one histogram per angle,
    all made by one `bincount`)."""
    radians = np.deg2rad(angles).astype(np.float32)
    x, y = points[:, 0:1], points[:, 1:2]
    # A line rising to the right (counter-clockwise) has y + x tan(a) constant along it.
    rows = y * np.cos(radians)[None, :] + x * np.sin(radians)[None, :]
    rows -= rows.min(axis=0, keepdims=True)
    bins = rows.astype(np.int64)
    span = int(bins.max()) + 1
    bins += np.arange(len(angles), dtype=np.int64)[None, :] * span
    counts = np.bincount(bins.ravel(), minlength=span * len(angles)).reshape(len(angles), span).astype(np.float64)
    return np.einsum("ij,ij->i", counts, counts)


def _vertex_offset(values: np.ndarray, i: int) -> float:
    """Where, in steps from `i`, the parabola through values[i-1..i+1] peaks (0 at an edge)."""
    if i == 0 or i == len(values) - 1:
        return 0.0
    left, mid, right = values[i - 1], values[i], values[i + 1]
    curvature = left - 2 * mid + right
    if curvature >= 0:
        return 0.0
    return float(np.clip(0.5 * (left - right) / curvature, -0.5, 0.5))
