"""The batch fixture collection, built from upright pages rendered by `support.pages.text_page`:

    flat/page_a.jpg          upright page
    flat/page_b.png          upright page
    phone/exif6.jpg          stored sideways with EXIF Orientation=6 (shown upright)
    docs/report.pdf          3 pages, page 1 turned 90 degrees clockwise
    broken/corrupt.jpg       a JPEG header followed by noise
    broken/truncated.jpg     the first 30% of a real JPEG
    broken/garbage.pdf       a PDF header followed by noise

6 good pages and 3 broken inputs. Pages are scaled to 900 px so a run takes seconds.
"""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image
from support.pages import text_page

# (seed, layout) of the six pages.
SOURCES = ((10, "text"), (11, "table"), (12, "columns"), (13, "text"), (14, "table"), (15, "columns"))


@dataclass
class Collection:
    root: Path
    #: relative path -> the upright page(s) (BGR) its outputs should show, in page order
    upright: dict[str, list[np.ndarray]]
    broken: tuple[str, ...]
    #: relative path -> expected angle of each page
    angles: dict[str, list[int]]


def _page(seed: int, layout: str) -> np.ndarray:
    image = text_page(seed, layout)
    h, w = image.shape[:2]
    scale = 900 / max(h, w)
    return cv2.resize(image, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)


def _rgb(image: np.ndarray) -> Image.Image:
    return Image.fromarray(image[:, :, ::-1])


def build_collection(root: Path) -> Collection:
    pages = [_page(seed, layout) for seed, layout in SOURCES]
    for folder in ("flat", "phone", "docs", "broken"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(root / "flat/page_a.jpg"), pages[0], [cv2.IMWRITE_JPEG_QUALITY, 92])
    cv2.imwrite(str(root / "flat/page_b.png"), pages[1])
    exif = Image.Exif()
    exif[0x0112] = 6  # the viewer turns the stored pixels 90 degrees clockwise
    _rgb(cv2.rotate(pages[2], cv2.ROTATE_90_COUNTERCLOCKWISE)).save(root / "phone/exif6.jpg", quality=92, exif=exif)
    doc = [pages[3], cv2.rotate(pages[4], cv2.ROTATE_90_CLOCKWISE), pages[5]]
    first, *rest = [_rgb(p) for p in doc]
    # 144 dpi: the pipeline renders PDFs at scale 2, so pages come back at their pixel size.
    first.save(root / "docs/report.pdf", save_all=True, append_images=rest, resolution=144.0)
    rng = np.random.default_rng(9)
    (root / "broken/corrupt.jpg").write_bytes(b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + rng.bytes(4000))
    good = io.BytesIO()
    _rgb(pages[0]).save(good, format="JPEG", quality=90)
    (root / "broken/truncated.jpg").write_bytes(good.getvalue()[: len(good.getvalue()) * 3 // 10])
    (root / "broken/garbage.pdf").write_bytes(b"%PDF-1.7\n" + rng.bytes(3000))
    return Collection(
        root=root,
        upright={"flat/page_a.jpg": [pages[0]], "flat/page_b.png": [pages[1]], "phone/exif6.jpg": [pages[2]],
                 "docs/report.pdf": [pages[3], pages[4], pages[5]]},
        broken=("broken/corrupt.jpg", "broken/truncated.jpg", "broken/garbage.pdf"),
        angles={"flat/page_a.jpg": [0], "flat/page_b.png": [0], "phone/exif6.jpg": [0],
                "docs/report.pdf": [0, 90, 0]},
    )


@pytest.fixture(scope="session")
def collection(tmp_path_factory) -> Collection:
    return build_collection(tmp_path_factory.mktemp("collection"))


@pytest.fixture(scope="session")
def local_run(collection, tmp_path_factory):
    """The local engine over the collection, once: (output root, summary). Tests copy what they change."""
    from pagefix.batch import BatchOptions, run_batch

    out = tmp_path_factory.mktemp("local") / "out"
    return out, run_batch(BatchOptions([str(collection.root)], str(out), pipeline={"cpu_threads": 2}))


def run_cli(*args: str, env: dict[str, str] | None = None, timeout: float = 240) -> subprocess.CompletedProcess:
    """`pagefix batch ...` in a fresh process, as a user runs it."""
    full_env = dict(os.environ)
    full_env.pop("RAY_ADDRESS", None)  # a cluster named in the developer's shell is not the test's
    full_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "pagefix", "batch", *args], capture_output=True, text=True, timeout=timeout,
        env=full_env, stdin=subprocess.DEVNULL,
    )


def copy_tree(source: Path, target: Path) -> Path:
    shutil.copytree(source, target)
    return target
