"""Which way up is a corrected photo? Compare its layout with the flat original's.

A page's layout survives unwarping errors, shadows and colour casts far better than its pixels:
the density of dark, text-like pixels (adaptive threshold) on a coarse grid. The output is
judged upright when, of its four quarter turns, the unturned one matches the flat original best.
"""

from __future__ import annotations

import cv2
import numpy as np

__all__ = ["layout_match", "text_density", "upright_turn"]

_GRID = (48, 64)  # width, height of the density map: coarse enough to ignore residual warping


def text_density(image: np.ndarray, size: tuple[int, int] = _GRID) -> np.ndarray:
    """Zero-mean, unit-variance map of where the dark strokes are (portrait `size`, any input shape)."""
    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image
    # Work at about 1000 px on the long side so the threshold window means the same on any page.
    scale = 1000 / max(grey.shape)
    if scale < 1:
        grey = cv2.resize(grey, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    strokes = cv2.adaptiveThreshold(grey, 1, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY_INV, 25, 15)
    density = cv2.resize(strokes.astype(np.float32), size, interpolation=cv2.INTER_AREA)
    density = cv2.GaussianBlur(density, (0, 0), 1.5)
    return (density - density.mean()) / (density.std() + 1e-6)


def layout_match(image: np.ndarray, flat: np.ndarray) -> np.ndarray:
    """Correlation with the flat original of `image` turned back by 0, 90, 180 and 270 degrees
    (index i: undo a clockwise turn of 90*i)."""
    target = text_density(flat)
    scores = []
    for quarter in range(4):
        back = np.ascontiguousarray(np.rot90(image, quarter))
        scores.append(float((text_density(back) * target).mean()))
    return np.array(scores)


def upright_turn(image: np.ndarray, flat: np.ndarray) -> int:
    """The clockwise turn (0/90/180/270) of `image`'s content relative to the flat original."""
    return 90 * int(np.argmax(layout_match(image, flat)))
