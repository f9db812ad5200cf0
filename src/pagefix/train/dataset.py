"""Datasets for fine-tuning: write one in the reference's format from upright pages, and hold one
in memory for training (pages decoded once, kept at a working size)."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ..errors import ConfigError, InputError
from ..evaluation.datasets import ANGLES, read_split, turn_content
from ..inputs import Page, iter_pages, list_directory
from ..limits import Limits
from ..outputs.files import write_atomic

__all__ = ["DatasetSummary", "load_split", "make_dataset", "shrink_to_working_size"]

logger = logging.getLogger(__name__)

# Pages are kept with their short side at most this long: over twice the largest training scale
# (256 x 1.4), so the final resize still subsamples like the classifier's own preprocessing does.
_WORKING_SHORT_SIDE = 720


@dataclass(frozen=True)
class DatasetSummary:
    root: Path
    train_pages: int
    val_pages: int
    train_images: int
    val_images: int


def make_dataset(
    upright: str | os.PathLike[str], out: str | os.PathLike[str], val_fraction: float = 0.2, seed: int = 0,
    limits: Limits | None = None, jpeg_quality: int = 95, progress: Callable[[int], None] | None = None,
) -> DatasetSummary:
    """Write `out` in the reference format: every upright page at 0/90/180/270, pages split into
    train and val as a whole (no page's turns on both sides)."""
    source, target = Path(upright).expanduser(), Path(out).expanduser()
    if not source.is_dir():
        raise InputError(f"{source} is not a folder of upright pages")
    if target.exists() and any(target.iterdir()):
        raise ConfigError(f"{target} exists and is not empty; choose a new folder for the dataset")
    if not 0.0 <= val_fraction < 1.0:
        raise ConfigError("the validation fraction must be in [0, 1)")
    files = list_directory(source)
    if not files:
        raise InputError(f"no images or PDFs under {source}")
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(files))
    val_count = int(round(len(files) * val_fraction))
    if val_fraction > 0 and len(files) > 1:
        val_count = min(max(1, val_count), len(files) - 1)
    val_files = {files[i] for i in order[:val_count]}
    (target / "images").mkdir(parents=True, exist_ok=True)
    lines: dict[str, list[str]] = {"train": [], "val": []}
    pages = {"train": 0, "val": 0}
    limits = limits or Limits()
    for path in files:
        split = "val" if path in val_files else "train"
        stem = "__".join(path.relative_to(source).with_suffix("").parts)
        for item in iter_pages(path, limits):
            if not isinstance(item, Page):
                logger.warning("skipping %s: %s", path, item.error)
                continue
            pages[split] += 1
            page_stem = f"{stem}_p{item.page_index}" if item.page_index is not None else stem
            for class_id, angle in enumerate(ANGLES):
                name = f"images/{page_stem}_{angle}.jpg"
                ok, data = cv2.imencode(".jpg", turn_content(item.image, angle), [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality])
                if not ok:
                    raise InputError(f"could not encode {name}")
                write_atomic(target / name, data.tobytes())
                lines[split].append(f"{name} {class_id}")
        if progress:
            progress(1)
    (target / "label.txt").write_text("".join(f"{i} {a}\n" for i, a in enumerate(ANGLES)), encoding="utf-8")
    for split, rows in lines.items():
        (target / f"{split}.txt").write_text("".join(f"{row}\n" for row in rows), encoding="utf-8")
    return DatasetSummary(target, pages["train"], pages["val"], len(lines["train"]), len(lines["val"]))


def shrink_to_working_size(image: np.ndarray) -> np.ndarray:
    short = min(image.shape[:2])
    if short <= _WORKING_SHORT_SIDE:
        return image
    factor = _WORKING_SHORT_SIDE / short
    return cv2.resize(image, None, fx=factor, fy=factor, interpolation=cv2.INTER_AREA)


def load_split(
    root: Path, split: str, limits: Limits, prepare: Callable[[np.ndarray], np.ndarray] = shrink_to_working_size,
    progress: Callable[[int], None] | None = None,
) -> tuple[list[np.ndarray], list[int]]:
    """Decode every image of a split once and keep `prepare(image)`; returns (arrays, angles)."""
    arrays, angles = [], []
    for path, angle in read_split(root, split):
        page = next((item for item in iter_pages(path, limits)), None)
        if not isinstance(page, Page):
            raise InputError(f"{path}: {page.error if page is not None else 'no page'}")
        arrays.append(prepare(page.image))
        angles.append(angle)
        if progress:
            progress(1)
    return arrays, angles
