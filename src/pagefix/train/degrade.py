"""The damage of old and badly kept print, drawn on a whole page (OpenCV and NumPy only, seeded).

Historical prints and archive scans fail the shipped classifier in ways clean generated pages never
show it: the facing page showing through (bleed-through), stains and foxing, ink that is heavy in
one place and gone in another, grey-on-grey low contrast, scanner noise and blur, and pages
binarised by the scanner. `degrade_page` draws a few of these at random; the training augmentation
uses it on a share of pages (`Augmentation.degrade`) and `pagefix train render-pages --degrade`
writes degraded evaluation pages with it.
"""

from __future__ import annotations

import cv2
import numpy as np

__all__ = ["DAMAGES", "degrade_page"]

DAMAGES = ("bleed", "stains", "uneven_ink", "yellowed", "low_contrast", "noise_blur", "binarise")
# How often each damage is drawn; a page gets at least one.
_CHANCE = {"bleed": 0.45, "stains": 0.35, "uneven_ink": 0.5, "yellowed": 0.4, "low_contrast": 0.35,
           "noise_blur": 0.5, "binarise": 0.2}


def degrade_page(image: np.ndarray, rng: np.random.Generator, behind: np.ndarray | None = None) -> np.ndarray:
    """`image` (BGR uint8) with some of `DAMAGES`. `behind`: the page that shows through (default:
    the page itself, shifted; the back of a leaf is another page, mirrored)."""
    chosen = [name for name in DAMAGES if rng.random() < _CHANCE[name]]
    if not chosen:
        chosen = [DAMAGES[int(rng.integers(len(DAMAGES) - 1))]]
    out: np.ndarray = image.astype(np.float32)
    height, width = out.shape[:2]
    if "bleed" in chosen:
        out = _bleed(out, image if behind is None else behind, rng)
    if "uneven_ink" in chosen:
        # Ink pressure varies slowly over the page: darkness scaled by a smooth field.
        field = _smooth_field(height, width, rng, cells=int(rng.integers(3, 9)), low=0.35, high=1.1)
        out = 255.0 - (255.0 - out) * field[..., None]
    if "stains" in chosen:
        out = _stains(out, rng)
    if "yellowed" in chosen:
        tint = np.array([rng.uniform(0.62, 0.85), rng.uniform(0.82, 0.95), 1.0], dtype=np.float32)
        shade = _smooth_field(height, width, rng, cells=3, low=0.85, high=1.0)
        out = out * tint * shade[..., None]
    if "low_contrast" in chosen:
        low, high = rng.uniform(60, 130), rng.uniform(170, 235)
        out = low + out * (high - low) / 255.0
    if "noise_blur" in chosen:
        if rng.random() < 0.7:
            out = cv2.GaussianBlur(out, (0, 0), rng.uniform(0.5, 1.8))
        out = out + rng.normal(0, rng.uniform(3, 14), size=out.shape).astype(np.float32)
    page: np.ndarray = np.clip(out, 0, 255).astype(np.uint8)
    if "binarise" in chosen:
        grey = cv2.cvtColor(page, cv2.COLOR_BGR2GRAY)
        if rng.random() < 0.5:
            _, binary = cv2.threshold(grey, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
        else:
            block = int(rng.integers(15, 61)) | 1
            binary = cv2.adaptiveThreshold(grey, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY, block,
                                           float(rng.uniform(5, 20)))
        page = cv2.cvtColor(binary, cv2.COLOR_GRAY2BGR)
    return page


def _bleed(out: np.ndarray, behind: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    height, width = out.shape[:2]
    back = cv2.resize(cv2.cvtColor(behind, cv2.COLOR_BGR2GRAY), (width, height), interpolation=cv2.INTER_AREA)
    back = cv2.flip(back, 1)  # seen through the paper: mirrored left to right
    shift = np.array([[1, 0, rng.uniform(-0.03, 0.03) * width], [0, 1, rng.uniform(-0.03, 0.03) * height]], np.float32)
    back = cv2.warpAffine(back, shift, (width, height), borderValue=255)
    back = cv2.GaussianBlur(back.astype(np.float32), (0, 0), rng.uniform(0.8, 2.5))
    strength = rng.uniform(0.12, 0.4)
    return out * (1.0 - strength * (1.0 - back / 255.0))[..., None]


def _stains(out: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    height, width = out.shape[:2]
    mask: np.ndarray = np.zeros((height, width), np.float32)
    for _ in range(int(rng.integers(1, 6))):
        centre = (int(rng.integers(width)), int(rng.integers(height)))
        axes = (int(width * rng.uniform(0.02, 0.2)), int(height * rng.uniform(0.02, 0.15)))
        cv2.ellipse(mask, centre, axes, float(rng.uniform(0, 180)), 0, 360, float(rng.uniform(0.2, 0.6)), -1)
    mask = cv2.GaussianBlur(mask, (0, 0), max(2.0, width * rng.uniform(0.005, 0.02)))
    colour = np.array([rng.uniform(0.35, 0.6), rng.uniform(0.55, 0.8), rng.uniform(0.75, 0.95)], np.float32)
    return out * (1.0 - mask[..., None] * (1.0 - colour))


def _smooth_field(height: int, width: int, rng: np.random.Generator, cells: int, low: float, high: float) -> np.ndarray:
    grid = rng.uniform(low, high, size=(cells, cells)).astype(np.float32)
    return cv2.resize(grid, (width, height), interpolation=cv2.INTER_CUBIC).clip(min(low, high) * 0.9, high * 1.05)
