"""Make the bundled example: a text page rendered here, curled like a book page, photographed at a
slant on a dark table and stored turned a quarter turn, so both stages of pagefix have work to do.

    python examples/make_example.py examples/curled_page.jpg
"""

from __future__ import annotations

import sys
import textwrap

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

PARAGRAPHS = [
    "Pagefix turns photographed and scanned document pages upright and flat before OCR and "
    "archiving. It finds which way a page is turned, turns it back with an exact quarter turn, "
    "and flattens curved, folded or tilted pages with the UVDoc unwarping model.",
    "This page was rendered by a script in the repository, bent along a cylinder as a page "
    "lying in an open book, seen at a slant, and then stored turned ninety degrees clockwise. "
    "Run the pipeline on it and compare the three panels of the saved picture.",
    "The same pipeline runs from the command line, from Python, behind an HTTP service with the "
    "reference API, and over millions of pages with the batch runner.",
]


def render_page(width: int = 1240, height: int = 1754) -> np.ndarray:
    page = Image.new("RGB", (width, height), (250, 248, 240))
    draw = ImageDraw.Draw(page)
    title = ImageFont.load_default(size=64)
    body = ImageFont.load_default(size=34)
    draw.text((110, 120), "Upright and flat", font=title, fill=(20, 20, 20))
    y = 260
    for paragraph in PARAGRAPHS * 2:
        for line in textwrap.wrap(paragraph, 58):
            draw.text((110, y), line, font=body, fill=(25, 25, 30))
            y += 48
        y += 40
    draw.rectangle((110, y + 10, width - 110, y + 14), fill=(30, 30, 30))
    return cv2.cvtColor(np.asarray(page), cv2.COLOR_RGB2BGR)


def curl_and_photograph(page: np.ndarray) -> np.ndarray:
    h, w = page.shape[:2]
    out_w, out_h = 1500, 2000
    # Destination grid: a page bent like a cylinder (bulging in y with x), then a slanted view.
    xs, ys = np.meshgrid(np.linspace(0, 1, w, dtype=np.float32), np.linspace(0, 1, h, dtype=np.float32))
    bulge = 0.06 * np.sin(np.pi * xs)  # the middle of each row rises
    dest_x = 160 + xs * (out_w - 320) + 40 * (ys - 0.5) * np.sin(np.pi * xs)
    dest_y = 150 + ys * (out_h - 300) - bulge * (out_h - 300) * (1.2 - ys)
    # Invert the forward map on a coarse grid by sampling: remap needs output -> source.
    map_x = np.full((out_h, out_w), -1, np.float32)
    map_y = np.full((out_h, out_w), -1, np.float32)
    step = 2
    dx = dest_x[::step, ::step].round().astype(int).clip(0, out_w - 1)
    dy = dest_y[::step, ::step].round().astype(int).clip(0, out_h - 1)
    src_x, src_y = np.meshgrid(np.arange(0, w, step, dtype=np.float32), np.arange(0, h, step, dtype=np.float32))
    for oy in range(-step, step + 1):
        for ox in range(-step, step + 1):
            yy, xx = (dy + oy).clip(0, out_h - 1), (dx + ox).clip(0, out_w - 1)
            map_x[yy, xx] = src_x
            map_y[yy, xx] = src_y
    table = np.zeros((out_h, out_w, 3), np.uint8)
    table[:] = (38, 52, 70)
    noise = np.random.default_rng(7).normal(0, 6, table.shape)
    table = np.clip(table + noise, 0, 255).astype(np.uint8)
    photo = cv2.remap(page, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_TRANSPARENT, dst=table)
    # A soft light falloff, as a phone photo under a lamp.
    yy, xx = np.mgrid[0:out_h, 0:out_w].astype(np.float32)
    light = 1.0 - 0.25 * (((xx - out_w * 0.3) / out_w) ** 2 + ((yy - out_h * 0.2) / out_h) ** 2)
    return np.clip(photo * light[:, :, None], 0, 255).astype(np.uint8)


def main(path: str) -> None:
    photo = curl_and_photograph(render_page())
    stored = cv2.rotate(photo, cv2.ROTATE_90_CLOCKWISE)  # content turned 90 degrees clockwise
    if not cv2.imwrite(path, stored, [cv2.IMWRITE_JPEG_QUALITY, 88]):
        raise SystemExit(f"cannot write {path}")
    print(f"wrote {path} ({stored.shape[1]}x{stored.shape[0]})")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "examples/curled_page.jpg")
