"""The result of one page: typed fields, the reference's mapping keys, and the reference's verbs
(`print`, `save_to_json`, `save_to_img`, `.json`, `.img`)."""

from __future__ import annotations

import json
import os
import random
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, overload
from urllib.parse import unquote, urlsplit

import numpy as np
from PIL import Image

from ..errors import PagefixError
from ..geometry.point_maps import PageMap
from ..outputs.files import encode_image, image_suffix, write_atomic
from ..outputs.panels import compose_panels, compose_panels_bgr

__all__ = ["ANGLE_SCORE_DECIMALS", "SKEW_ANGLE_DECIMALS", "WARP_SCORE_DECIMALS", "AngleDecision", "PageResult", "reported_score"]

#: Decimals `angle_score`, `warp_score` and `skew_angle` carry in every JSON and table pagefix
#: writes (the CLI's lines, `save_to_json`, the HTTP `prunedResult`, the batch manifest): one
#: rounding, made here.
ANGLE_SCORE_DECIMALS = 4
WARP_SCORE_DECIMALS = 3
SKEW_ANGLE_DECIMALS = 2

# unwarp_applied, warp_score, skew_angle and angle_model are pagefix's additions to the reference's JSON.
_JSON_KEYS = ("input_path", "page_index", "model_settings", "angle", "unwarp_applied", "warp_score", "skew_angle", "angle_model")
_MAPPING_KEYS = _JSON_KEYS + ("angle_score", "angle_decisions", "input_img", "rot_img", "output_img")
_IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")


@dataclass(frozen=True)
class AngleDecision:
    """One orientation decision: on the input page, or again on the unwarped page."""

    stage: str  # "input" or "unwarped"
    angle: int  # clockwise turn of the content that was undone
    score: float  # the classifier's (combined) probability for it

    def to_dict(self) -> dict[str, Any]:
        return {"stage": self.stage, "angle": self.angle, "score": reported_score(self.score, ANGLE_SCORE_DECIMALS)}


@dataclass(frozen=True, eq=False)
class PageResult(Mapping[str, Any]):
    """One processed page. Also a read-only mapping with the reference's keys, so
    `result["output_img"]` is the corrected page (BGR uint8).

    >>> result = DocPreprocessor().predict("photo.jpg")[0]  # doctest: +SKIP
    >>> result.angle, result.output_img.shape  # doctest: +SKIP
    (180, (3024, 4032, 3))
    """

    input_path: str | None
    page_index: int | None
    model_settings: dict[str, bool]
    #: Clockwise turn of the input's content, undone in `rot_img`: 0/90/180/270, or -1 when
    #: classification was off.
    angle: int
    #: The classifier's probability for `angle` (None when classification was off).
    angle_score: float | None
    input_img: np.ndarray
    rot_img: np.ndarray
    output_img: np.ndarray
    #: What each orientation decision said: on the input, then (when the page was unwarped and
    #: `reclassify_unwarped` is on) on the unwarped page; `angle` is the sum of their turns.
    angle_decisions: tuple[AngleDecision, ...] = ()
    #: Whether UVDoc's grid was applied (False when unwarping was off or the page was found flat).
    unwarp_applied: bool = False
    #: The padded probe's warp score, per mille of the page diagonal (None when the probe did not
    #: run: unwarping off, or skip_flat_pages=False).
    warp_score: float | None = None
    #: The fine skew of the upright page in degrees, counter-clockwise positive (lines rising to
    #: the right), None when it was not measured (deskew off, or the page went to UVDoc with
    #: skip_flat_pages off) or the page gave no angle. A flat page leaning by at least the dead zone
    #: was turned back by it (docs: skew.md).
    skew_angle: float | None = None
    #: The name of the orientation model that decided `angle` (None when classification was off,
    #: or the classifier was handed in without a name).
    angle_model: str | None = None
    #: The turn, grid and margin that made `output_img` (for `map_to_input` / `map_to_output`).
    page_map: PageMap | None = field(default=None, repr=False)
    #: The source file's JPEG bytes when `output_img` is exactly that file's pixels (a page left
    #: untouched), so it can be written out again without re-encoding.
    source_jpeg: bytes | None = field(default=None, repr=False)
    #: Pixels per inch of `output_img` along x and y: the input page's (a PDF page's size in points,
    #: an image's stated DPI), turned with the page; None when the input stated none (arrays,
    #: images without DPI). Unwarping keeps the scale, so a kept margin adds to the physical size.
    dpi: tuple[float, float] | None = field(default=None, repr=False)
    _name: str = field(default="", repr=False)

    def __post_init__(self) -> None:
        if not self._name:
            object.__setattr__(self, "_name", _base_name(self.input_path, self.page_index))

    # -- mapping -------------------------------------------------------------------------------

    def __getitem__(self, key: str) -> Any:
        if key not in _MAPPING_KEYS:
            raise KeyError(key)
        return getattr(self, key)

    def __iter__(self) -> Iterator[str]:
        return iter(_MAPPING_KEYS)

    def __len__(self) -> int:
        return len(_MAPPING_KEYS)

    # A result holds arrays: compare by identity, not by the Mapping mixin's item equality.
    __eq__ = object.__eq__
    __hash__ = object.__hash__

    def __repr__(self) -> str:
        return f"PageResult({self.to_dict()!r})"

    # -- the reference's verbs -------------------------------------------------------------------

    ok = True

    def to_dict(self) -> dict[str, Any]:
        """The JSON fields of the reference, no pixels."""
        return {
            "input_path": self.input_path,
            "page_index": self.page_index,
            "model_settings": dict(self.model_settings),
            "angle": self.angle,
            "unwarp_applied": self.unwarp_applied,
            "warp_score": reported_score(self.warp_score, WARP_SCORE_DECIMALS),
            "skew_angle": reported_score(self.skew_angle, SKEW_ANGLE_DECIMALS),
            "angle_model": self.angle_model,
        }

    # -- coordinates -----------------------------------------------------------------------------

    @overload
    def map_to_input(self, points: Any, return_valid: Literal[False] = False) -> np.ndarray: ...

    @overload
    def map_to_input(self, points: Any, return_valid: Literal[True]) -> tuple[np.ndarray, np.ndarray]: ...

    def map_to_input(self, points: Any, return_valid: bool = False) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
        """Pixel coordinates (x, y) [N, 2] in `output_img` to the same points in `input_img`.

        A point in a kept margin (`keep_margin` > 0) maps to where the unwarp's grid, extended
        linearly into the margin, puts it, which may lie outside `input_img`; a point off
        `output_img` is NaN. With `return_valid=True` the answer is `(points, valid)`, `valid`
        True where the output point shows part of the input (the page, not the margin's fill).

        >>> result.map_to_input([[120.0, 80.0]])  # doctest: +SKIP
        array([[ 96.4, 131.0]])
        >>> points, valid = result.map_to_input([[120.0, 80.0], [-5.0, 0.0]], return_valid=True)  # doctest: +SKIP
        """
        if return_valid:
            return self._page_map().to_input(points, True)
        return self._page_map().to_input(points)

    @overload
    def map_to_output(self, points: Any, return_valid: Literal[False] = False) -> np.ndarray: ...

    @overload
    def map_to_output(self, points: Any, return_valid: Literal[True]) -> tuple[np.ndarray, np.ndarray]: ...

    def map_to_output(self, points: Any, return_valid: bool = False) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
        """Pixel coordinates (x, y) [N, 2] in `input_img` to the same points in `output_img`; the
        inverse of `map_to_input`, margin included. NaN where the point has no place in
        `output_img` (cut off by the unwarp). With `return_valid=True`: `(points, valid)`,
        `valid` True where the point is on `input_img` and shown in `output_img`."""
        if return_valid:
            return self._page_map().to_output(points, True)
        return self._page_map().to_output(points)

    def _page_map(self) -> PageMap:
        if self.page_map is None:
            raise PagefixError("this result carries no coordinate map (it was not made by DocPreprocessor)")
        return self.page_map

    @property
    def page_size_pt(self) -> tuple[float, float] | None:
        """The corrected page's physical size (width, height) in points (1/72 in), from `dpi`;
        None when the input stated no resolution."""
        if self.dpi is None:
            return None
        height, width = self.output_img.shape[:2]
        return width * 72.0 / self.dpi[0], height * 72.0 / self.dpi[1]

    @property
    def json(self) -> dict[str, Any]:
        return {"res": self.to_dict()}

    @property
    def img(self) -> dict[str, Image.Image]:
        """`{"preprocessed_img": PIL.Image}`: input, rotated and unwarped pages side by side."""
        return {"preprocessed_img": compose_panels(self._panels())}

    def _panels(self) -> list[tuple[np.ndarray, str]]:
        settings = self.model_settings
        return [
            (self.input_img, "Original Image"),
            (self.rot_img, f"Rotated Image ({settings['use_doc_orientation_classify']}, {self.angle})"),
            (self.output_img, f"Unwarping Image ({settings['use_doc_unwarping']})"),
        ]

    @property
    def base_name(self) -> str:
        """The stem saved files are named after: input stem, `_{page}` for PDF pages and TIFF frames."""
        return self._name

    def print(self, format_json: bool = True, indent: int = 4, ensure_ascii: bool = False) -> None:
        if format_json:
            print(json.dumps(self.json, indent=indent, ensure_ascii=ensure_ascii))
        else:
            print(self.json)

    def save_to_json(self, save_path: str | os.PathLike[str], indent: int = 4, ensure_ascii: bool = False) -> Path:
        """Write the JSON fields to `save_path` (a `.json` file, or a directory: `{base}.json`)."""
        target = _target(save_path, (".json",), f"{self._name}.json")
        text = json.dumps(self.to_dict(), indent=indent, ensure_ascii=ensure_ascii)
        return write_atomic(target, text.encode("utf-8"))

    def save_to_img(self, save_path: str | os.PathLike[str]) -> Path:
        """Write the three-panel picture (`{base}_doc_preprocessor_res_img.{ext}` in a directory)."""
        name = f"{self._name}_doc_preprocessor_res_img{self._suffix}"
        target = _target(save_path, _IMAGE_SUFFIXES, name)
        # Straight from the BGR canvas: no Pillow picture and no RGB/BGR copies of it.
        return write_atomic(target, encode_image(compose_panels_bgr(self._panels()), target.suffix))

    def save_output(self, save_path: str | os.PathLike[str]) -> Path:
        """Write the corrected page itself (`{base}_doc_preprocessor_out.{ext}` in a directory)."""
        name = f"{self._name}_doc_preprocessor_out{self._suffix}"
        target = _target(save_path, _IMAGE_SUFFIXES, name)
        return write_atomic(target, encode_image(self.output_img, target.suffix))

    def save_all(self, save_path: str | os.PathLike[str]) -> list[Path]:
        return [self.save_to_json(save_path), self.save_to_img(save_path), self.save_output(save_path)]

    @property
    def _suffix(self) -> str:
        # PDF pages have no image suffix of their own: PNG, lossless.
        return image_suffix(_source_name(self.input_path)) if self.input_path else ".png"


def reported_score(value: float | None, decimals: int) -> float | None:
    """A score as pagefix reports it: a Python float rounded to `decimals` (`ANGLE_SCORE_DECIMALS`,
    `WARP_SCORE_DECIMALS`), so every front end writes the same digits; None stays None."""
    return None if value is None else round(float(value), decimals)


def _target(save_path: str | os.PathLike[str], file_suffixes: tuple[str, ...], name: str) -> Path:
    path = Path(save_path)
    if path.suffix.lower() in file_suffixes:
        return path
    return path / name


def _source_name(input_path: str) -> str:
    if input_path.startswith(("http://", "https://")):
        return unquote(urlsplit(input_path).path.rsplit("/", 1)[-1])
    return os.path.basename(input_path)


def _base_name(input_path: str | None, page_index: int | None) -> str:
    if input_path is None:
        # As the reference: arrays have no name, so a time stamp and a random number.
        return f"{int(time.time())}_{random.randint(1000, 9999)}"
    stem = Path(_source_name(input_path)).stem or "page"
    return f"{stem}_{page_index}" if page_index is not None else stem
