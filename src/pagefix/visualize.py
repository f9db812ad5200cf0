"""The reference's three-panel picture of a result: input, rotated, unwarped, side by side."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from PIL import Image, ImageDraw, ImageFont

__all__ = ["compose_panels"]

_CAPTION_SIZE = 16  # int(20 * 0.8), as the reference
_CAPTION_STRIP = 25


@lru_cache(maxsize=8)
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    # Pillow's bundled scalable font: present offline, no download at first use.
    return ImageFont.load_default(size=size)


def compose_panels(panels: list[tuple[np.ndarray, str]]) -> Image.Image:
    """BGR panels pasted top-aligned at native size on white, each captioned underneath."""
    widths = [image.shape[1] for image, _ in panels]
    height = max(image.shape[0] for image, _ in panels)
    canvas = Image.new("RGB", (sum(widths), height + _CAPTION_STRIP), (255, 255, 255))
    draw = ImageDraw.Draw(canvas)
    x = 0
    for (image, caption), width in zip(panels, widths):
        canvas.paste(Image.fromarray(np.ascontiguousarray(image[:, :, ::-1])), (x, 0))
        draw.text((x + 10, height + 2), caption, fill=(0, 0, 0), font=_caption_font(caption, width))
        x += width
    return canvas


def _caption_font(caption: str, panel_width: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    font = _font(_CAPTION_SIZE)
    text_width = font.getlength(caption)
    if text_width > panel_width - 10 and text_width > 0:
        size = max(1, int(_CAPTION_SIZE * (panel_width - 10) / text_width))
        font = _font(size)
    return font
