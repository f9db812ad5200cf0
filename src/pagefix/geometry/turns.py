"""Exact quarter turns of a page, and the matrix that takes a point through the same turn."""

from __future__ import annotations

import cv2
import numpy as np

__all__ = ["quarter_turn", "turn_matrix"]

# cv2.rotate codes that undo a clockwise turn of the content by the label.
_UNDO_TURN = {
    90: cv2.ROTATE_90_COUNTERCLOCKWISE,
    180: cv2.ROTATE_180,
    270: cv2.ROTATE_90_CLOCKWISE,
}


def quarter_turn(image: np.ndarray, angle: int) -> np.ndarray:
    """Turn a page whose content is rotated `angle` degrees clockwise back upright.

    Exact and lossless (no resampling): unlike the reference's warpAffine recipe, it neither
    shifts the page by one pixel nor draws a black line along an edge.
    """
    angle %= 360
    if angle == 0:
        return image
    if angle not in _UNDO_TURN:
        raise ValueError(f"angle must be a multiple of 90, got {angle}")
    return cv2.rotate(image, _UNDO_TURN[angle])


def turn_matrix(angle: int, shape: tuple[int, int]) -> np.ndarray:
    """The 3x3 matrix taking (x, y, 1) in a page of `shape` (h, w) whose content is turned `angle`
    degrees clockwise to the same point in the page turned upright (`quarter_turn`)."""
    h, w = shape
    angle %= 360
    if angle == 0:
        return np.eye(3)
    if angle == 90:  # turned counter-clockwise: the right edge becomes the top
        return np.array([[0.0, 1.0, 0.0], [-1.0, 0.0, w - 1.0], [0.0, 0.0, 1.0]])
    if angle == 180:
        return np.array([[-1.0, 0.0, w - 1.0], [0.0, -1.0, h - 1.0], [0.0, 0.0, 1.0]])
    if angle == 270:  # turned clockwise: the left edge becomes the top
        return np.array([[0.0, -1.0, h - 1.0], [1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    raise ValueError(f"angle must be a multiple of 90, got {angle}")
