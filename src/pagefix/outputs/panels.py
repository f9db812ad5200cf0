"""The reference's three-panel picture of a result: input, rotated, unwarped, side by side."""

from __future__ import annotations

import math
from functools import lru_cache

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

__all__ = ["MAX_PICTURE_PIXELS", "compose_panels", "compose_panels_bgr"]

_CAPTION_SIZE = 16  # int(20 * 0.8), as the reference
_CAPTION_STRIP = 25
#: Largest three-panel picture. Panels of bigger pages are shrunk to fit: at native size a
#: 100 MP page makes a 300 MP picture, which with the page's own images passes 2 GiB.
MAX_PICTURE_PIXELS = 100_000_000


@lru_cache(maxsize=8)
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    # Pillow's bundled scalable font: present offline, no download at first use.
    return ImageFont.load_default(size=size)


def compose_panels(panels: list[tuple[np.ndarray, str]]) -> Image.Image:
    """BGR panels pasted top-aligned at native size on white, each captioned underneath."""
    return Image.fromarray(np.ascontiguousarray(compose_panels_bgr(panels)[:, :, ::-1]))


def compose_panels_bgr(panels: list[tuple[np.ndarray, str]]) -> np.ndarray:
    """`compose_panels` as a BGR array, built in place (no Pillow copy of the full picture);
    shrunk when it would pass `MAX_PICTURE_PIXELS`."""
    width = sum(image.shape[1] for image, _ in panels)
    height = max(image.shape[0] for image, _ in panels)
    factor = min(1.0, math.sqrt(MAX_PICTURE_PIXELS / (width * (height + _CAPTION_STRIP))))
    sizes = [(image.shape[1], image.shape[0]) for image, _ in panels]
    if factor < 1.0:
        sizes = [(max(1, round(w * factor)), max(1, round(h * factor))) for w, h in sizes]
    width, height = sum(w for w, _ in sizes), max(h for _, h in sizes)
    canvas = np.full((height + _CAPTION_STRIP, width, 3), 255, dtype=np.uint8)
    strip = Image.new("RGB", (width, _CAPTION_STRIP), (255, 255, 255))
    draw = ImageDraw.Draw(strip)
    x = 0
    for (image, caption), (w, h) in zip(panels, sizes):
        # One shrunk panel at a time: never three of them beside the canvas.
        canvas[:h, x:x + w] = image if (w, h) == (image.shape[1], image.shape[0]) else _shrink(image, (w, h))
        draw.text((x + 10, 2), caption, fill=(0, 0, 0), font=_caption_font(caption, w))
        x += w
    canvas[height:] = np.asarray(strip)[:, :, ::-1]
    return canvas


def _shrink(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


def _caption_font(caption: str, panel_width: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    font = _font(_CAPTION_SIZE)
    text_width = font.getlength(caption)
    if text_width > panel_width - 10 and text_width > 0:
        size = max(1, int(_CAPTION_SIZE * (panel_width - 10) / text_width))
        font = _font(size)
    return font
