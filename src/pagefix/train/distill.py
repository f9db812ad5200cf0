"""Keeping what the base model already gets right while it learns something new ("learning without
forgetting"): pages the user names with `--keep` are shown to the network at all four quarter turns,
and a loss pulls its answers towards the base model's own probabilities on the same views.

The base model (the teacher) is the network as loaded, before any step; its logits are computed
once per view and stored, so the term costs one more batch through the trained layers per step.
No labels are needed: a keep page is whatever the base model reads well today (receipts, tables,
forms, other scripts), and its soft probabilities, not only its top answer, are the target.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from ..errors import InputError
from ..evaluation.datasets import ANGLES, turn_content
from ..inputs import Page, iter_pages, list_directory
from ..limits import Limits
from .dataset import shrink_to_working_size

__all__ = ["KeepPages", "distillation_loss", "load_keep_pages"]


@dataclass
class KeepPages:
    """Decoded keep pages (upright, at the working size), split into training and held-out pages."""

    train: list[np.ndarray]
    val: list[np.ndarray]
    names: list[str]


def load_keep_pages(
    folders: Sequence[str | os.PathLike[str]], limits: Limits, val_fraction: float, seed: int,
    progress: Callable[[int], None] | None = None,
) -> KeepPages:
    """Every page under `folders` (images and PDFs, through pagefix's input layer, so EXIF
    orientation is applied), with `val_fraction` of them held out to measure forgetting."""
    images, names = [], []
    for folder in folders:
        root = Path(folder).expanduser()
        if not root.is_dir():
            raise InputError(f"--keep {root} is not a folder of pages")
        files = list_directory(root)
        if not files:
            raise InputError(f"no images or PDFs under --keep {root}")
        for path in files:
            for item in iter_pages(path, limits):
                if not isinstance(item, Page):
                    raise InputError(f"{path}: {item.error}")
                images.append(shrink_to_working_size(item.image))
                names.append(str(path) + (f"#{item.page_index}" if item.page_index else ""))
            if progress:
                progress(1)
    order = np.random.default_rng([seed, 7_919]).permutation(len(images))
    held = int(round(len(images) * val_fraction)) if len(images) > 1 else 0
    held = min(held, len(images) - 1)
    val_set = set(order[:held].tolist())
    return KeepPages(
        train=[image for i, image in enumerate(images) if i not in val_set],
        val=[image for i, image in enumerate(images) if i in val_set],
        names=names,
    )


def all_turns(images: Sequence[np.ndarray]) -> list[tuple[np.ndarray, int]]:
    """Each page at 0, 90, 180 and 270 degrees, with the angle it was turned by."""
    return [(turn_content(image, angle), angle) for image in images for angle in ANGLES]


def distillation_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """KL divergence from the teacher's softened probabilities to the student's, scaled by T^2 so
    its gradients keep their size whatever the temperature (Hinton et al., 2015)."""
    teacher = F.softmax(teacher_logits / temperature, dim=1)
    student = F.log_softmax(student_logits / temperature, dim=1)
    return F.kl_div(student, teacher, reduction="batchmean") * temperature**2
