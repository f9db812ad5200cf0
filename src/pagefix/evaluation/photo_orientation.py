"""Orientation on photos, judged through the whole pipeline: each photo of a manifest (photo, flat
original) is turned four ways, corrected by the pipeline, and counted right when its output,
of its four quarter turns, matches the flat original unturned best (`page_match`). This scores
what a user sees (turn, unwarp, re-classification), and copes with photos taken sideways: the
true angle of a turned photo is what the pipeline turned plus what is left to turn.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import cast

import numpy as np

from ..errors import PagefixError
from ..inputs import PageFailure
from ..limits import Limits
from ..pipeline.preprocessor import DocPreprocessor
from ..pipeline.result import PageResult
from .datasets import ANGLES, LabelledPage, turn_content
from .orientation import Prediction
from .page_match import upright_turn
from .unwarping import first_page, read_manifest

__all__ = ["PipelineScorer", "TurnedPhoto", "TurnedPhotos"]


@dataclass
class TurnedPhoto(LabelledPage):
    flat: np.ndarray | None = None  # the flat original, BGR


class TurnedPhotos:
    """The photos of an unwarping manifest, each turned to every angle of `angles`."""

    def __init__(
        self, manifest: str, angles: Sequence[int] = ANGLES, limits: Limits | None = None, limit: int | None = None,
    ) -> None:
        self.pairs = read_manifest(manifest)[:limit]
        self.angles = tuple(angles)
        self.limits = limits or Limits()

    def __len__(self) -> int:
        return len(self.pairs) * len(self.angles)

    def __iter__(self) -> Iterator[TurnedPhoto | PageFailure]:
        flat_path, flat = None, None
        for pair in self.pairs:
            photo = self._first_page(pair.distorted)
            if pair.original != flat_path:  # manifests list a document's photos together
                flat_path, flat = pair.original, self._first_page(pair.original)
            for item in (photo, flat):
                if isinstance(item, PageFailure):
                    yield item
            if isinstance(photo, PageFailure) or isinstance(flat, PageFailure):
                continue
            for angle in self.angles:
                yield TurnedPhoto(turn_content(photo, angle), angle, f"{pair.name}@{angle}", pair.group, flat)

    def _first_page(self, path: Path) -> np.ndarray | PageFailure:
        try:
            return first_page(path, self.limits)
        except PagefixError as exc:
            return PageFailure(str(path), None, exc)


class PipelineScorer:
    """Runs turned photos through a whole pipeline and judges the outputs against the flat page."""

    def __init__(self, pipeline: DocPreprocessor) -> None:
        self.pipeline = pipeline

    def __call__(self, pages: Sequence[LabelledPage]) -> list[Prediction]:
        # errors="raise" (the default) returns results only.
        results = cast("list[PageResult]", self.pipeline.predict([page.image for page in pages]))
        predictions = []
        for page, result in zip(pages, results):
            applied = max(result.angle, 0)
            if not isinstance(page, TurnedPhoto) or page.flat is None:
                raise TypeError("PipelineScorer judges TurnedPhoto pages, which carry their flat original")
            left = upright_turn(result.output_img, page.flat)
            true = (applied + left) % 360
            score = result.angle_score or 0.0
            predictions.append(Prediction(page.name, page.group, true, applied, score, score if left == 0 else 0.0))
        return predictions
