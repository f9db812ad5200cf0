"""Labelled orientation data: the reference's classification format and folders of upright pages.

A source yields `LabelledPage`s (a decoded page with its true clockwise turn) or `PageFailure`s
for files that cannot be read, so one bad file is reported, not fatal. Sources know nothing about
models; a scorer (see `orientation.py`) turns pages into predictions.

Reference format (PaddleX ClsDataset)::

    DATASET/label.txt   "<id> <name>" per line; names are the angles 0 90 180 270
    DATASET/train.txt   "<relative image path> <id>" per line
    DATASET/val.txt     same
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..inputs import Page, PageFailure, iter_pages, list_directory
from ..limits import Limits

__all__ = [
    "ANGLES",
    "ClassificationList",
    "LabelledPage",
    "UprightFolder",
    "is_classification_dataset",
    "open_orientation_source",
    "read_label_names",
    "read_split",
    "turn_content",
]

ANGLES = (0, 90, 180, 270)


def turn_content(image: np.ndarray, angle: int) -> np.ndarray:
    """Turn the content `angle` degrees clockwise: an upright page becomes a page labelled `angle`."""
    import cv2

    codes = {90: cv2.ROTATE_90_CLOCKWISE, 180: cv2.ROTATE_180, 270: cv2.ROTATE_90_COUNTERCLOCKWISE}
    angle %= 360
    return image if angle == 0 else cv2.rotate(image, codes[angle])


@dataclass
class LabelledPage:
    image: np.ndarray  # BGR uint8, already turned to `angle`
    angle: int  # true clockwise turn of the content
    name: str  # file (and page, and applied turn) for reports
    group: str = ""  # sub-folder of an upright folder; reports break accuracy down by it


def is_classification_dataset(path: Path) -> bool:
    return path.is_dir() and (path / "label.txt").is_file()


def read_label_names(root: Path) -> dict[int, int]:
    """label.txt as {class id: angle}; the names must be angles, as the pipeline needs."""
    mapping: dict[int, int] = {}
    text = _read_text(root / "label.txt")
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        fields = line.split()
        if len(fields) != 2:
            raise InputError(f"{root / 'label.txt'} line {number}: expected '<id> <angle>', got {line!r}")
        try:
            class_id, angle = int(fields[0]), int(fields[1])
        except ValueError:
            raise InputError(f"{root / 'label.txt'} line {number}: id and name must be integers (angles)") from None
        if angle not in ANGLES:
            raise InputError(f"{root / 'label.txt'} line {number}: class name {angle} is not one of {ANGLES}")
        mapping[class_id] = angle
    if not mapping:
        raise InputError(f"{root / 'label.txt'} lists no classes")
    return mapping


def read_split(root: Path, split: str) -> list[tuple[Path, int]]:
    """(image path, angle) for every line of `<split>.txt`."""
    names = read_label_names(root)
    list_file = root / f"{split}.txt"
    entries = []
    for number, line in enumerate(_read_text(list_file).splitlines(), 1):
        if not line.strip():
            continue
        relative, _, label = line.rstrip().rpartition(" ")
        try:
            class_id = int(label)
        except ValueError:
            raise InputError(f"{list_file} line {number}: expected '<path> <id>', got {line!r}") from None
        if not relative or class_id not in names:
            raise InputError(f"{list_file} line {number}: unknown class id {class_id} or empty path")
        entries.append((root / relative, names[class_id]))
    return entries


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from exc


class ClassificationList:
    """The pages of one or more splits of a reference-format dataset, as labelled."""

    def __init__(self, root: str | Path, splits: Sequence[str] = ("val",), limits: Limits | None = None) -> None:
        self.root = Path(root)
        self.limits = limits or Limits()
        self.entries = [entry for split in splits for entry in read_split(self.root, split)]

    def __len__(self) -> int:
        return len(self.entries)

    def __iter__(self) -> Iterator[LabelledPage | PageFailure]:
        for path, angle in self.entries:
            name = str(path.relative_to(self.root)) if path.is_relative_to(self.root) else str(path)
            for item in iter_pages(path, self.limits):
                if isinstance(item, Page):
                    suffix = f"#{item.page_index}" if item.page_index else ""
                    yield LabelledPage(item.image, angle, name + suffix)
                else:
                    yield PageFailure(name, item.page_index, item.error)


class UprightFolder:
    """Every page under a folder of upright pages, turned to each of `angles` (4 samples a page)."""

    def __init__(self, root: str | Path, angles: Sequence[int] = ANGLES, limits: Limits | None = None) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise InputError(f"{self.root} is not a folder")
        self.angles = tuple(angles)
        self.limits = limits or Limits()
        self.files = list_directory(self.root)
        if not self.files:
            raise InputError(f"no images or PDFs under {self.root}")

    def __len__(self) -> int:
        return len(self.files) * len(self.angles)

    def __iter__(self) -> Iterator[LabelledPage | PageFailure]:
        for path in self.files:
            relative = path.relative_to(self.root)
            group = relative.parts[0] if len(relative.parts) > 1 else _name_prefix(path.name)
            for item in iter_pages(path, self.limits):
                if not isinstance(item, Page):
                    yield PageFailure(str(relative), item.page_index, item.error)
                    continue
                suffix = f"#{item.page_index}" if item.page_index else ""
                for angle in self.angles:
                    yield LabelledPage(turn_content(item.image, angle), angle, f"{relative}{suffix}@{angle}", group)


def _name_prefix(name: str) -> str:
    """The source of a file in a flat folder, when its name says it: `source__rest.jpg`."""
    prefix, separator, _ = name.partition("__")
    return prefix if separator else ""


def open_orientation_source(
    path: str | Path, splits: Sequence[str] = ("val",), limits: Limits | None = None
) -> ClassificationList | UprightFolder:
    """A reference-format dataset when `path` has a label.txt, else a folder of upright pages."""
    root = Path(path).expanduser()
    if is_classification_dataset(root):
        return ClassificationList(root, splits, limits)
    return UprightFolder(root, limits=limits)
