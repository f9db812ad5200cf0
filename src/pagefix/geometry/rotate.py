"""Exact fine rotation of a flat page: a page scanned a little crooked is a rotation of a straight
one, so it is undone by a rotation (not by a grid that bends the page). The canvas grows so no
corner is cut, and the new corners get the paper's own colour."""

from __future__ import annotations

import math

import cv2
import numpy as np

__all__ = ["deskew_matrix", "paper_colour", "rotate_page"]

#: The ring of the page measured for its paper colour: this fraction of each side, at least 2 px.
_BORDER_FRACTION = 0.02


def deskew_matrix(shape: tuple[int, int], skew_angle: float) -> tuple[np.ndarray, tuple[int, int]]:
    """The 2x3 affine matrix taking a page of `shape` (h, w) whose lines lean `skew_angle` degrees
    counter-clockwise to the same point of the straightened page, and that page's (h, w).

    Pixel centres sit on integers (OpenCV's `warpAffine` convention), so the matrix is also the
    exact point map between the two pages."""
    h, w = shape
    radians = math.radians(skew_angle)
    cos, sin = abs(math.cos(radians)), abs(math.sin(radians))
    out_w, out_h = math.ceil(w * cos + h * sin - 1e-9), math.ceil(w * sin + h * cos - 1e-9)
    # Turning by -skew_angle about the page centre, then moving that centre to the new canvas's.
    matrix = cv2.getRotationMatrix2D(((w - 1) / 2.0, (h - 1) / 2.0), -skew_angle, 1.0)
    matrix[0, 2] += (out_w - w) / 2.0
    matrix[1, 2] += (out_h - h) / 2.0
    return matrix, (out_h, out_w)


def paper_colour(image: np.ndarray) -> tuple[int, int, int]:
    """The page's paper colour (BGR): the median of each channel over its outer ring."""
    h, w = image.shape[:2]
    by, bx = max(2, round(h * _BORDER_FRACTION)), max(2, round(w * _BORDER_FRACTION))
    ring = np.concatenate([
        image[:by].reshape(-1, image.shape[2]), image[h - by:].reshape(-1, image.shape[2]),
        image[by:h - by, :bx].reshape(-1, image.shape[2]), image[by:h - by, w - bx:].reshape(-1, image.shape[2]),
    ])
    blue, green, red = (int(v) for v in np.median(ring, axis=0))
    return blue, green, red


def rotate_page(image: np.ndarray, skew_angle: float, fill: tuple[int, int, int] | None = None) -> np.ndarray:
    """The page (HxWx3 uint8) turned by -`skew_angle` degrees with bicubic resampling on a canvas
    grown to hold all of it; the corners get `fill` (BGR), by default the page's paper colour."""
    matrix, (out_h, out_w) = deskew_matrix(image.shape[:2], skew_angle)
    border = paper_colour(image) if fill is None else fill
    return cv2.warpAffine(image, matrix, (out_w, out_h), flags=cv2.INTER_CUBIC,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=border)
