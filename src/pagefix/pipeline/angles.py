"""Orientation only: which way each page is turned, without making the corrected page.

For sorting an archive ("which of these million pages are sideways?") the full-size page is never
needed: the classifier reads crops of a few hundred pixels. So JPEGs are decoded at 1/2, 1/4 or
1/8 of their size in the DCT and PDF pages rendered at a lower scale (as small as the view set
allows), single-page files are decoded on every core while the classifier runs, and pages go
through the model in batches. Other formats are decoded whole.
"""

from __future__ import annotations

import itertools
import os
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from ..errors import ConfigError
from ..inputs import Page, PageFailure, iter_pages, iter_sources
from ..limits import Limits
from ..models.runtime import usable_cpu_count

if TYPE_CHECKING:
    from .preprocessor import DocPreprocessor

__all__ = ["PageAngle", "iter_angles"]

#: Pages per classifier call unless the caller says otherwise.
_BATCH = 8
#: Files decoded ahead of the classifier: decoding is most of the work, so keep a batch waiting.
_AHEAD = 8
#: Files that may hold thousands of pages (`max_pdf_pages`, `max_frames`; TIFF frames come at full
#: size): read one page at a time, in order, never all pages of one file at once.
_STREAMED_SUFFIXES = (".pdf", ".tif", ".tiff")


@dataclass(frozen=True)
class PageAngle:
    """How far one page's content is turned clockwise (0, 90, 180, 270: the reference's label);
    turning the page back by `angle` makes it upright. `score`: the classifier's confidence."""

    input_path: str | None
    page_index: int | None
    angle: int
    score: float
    ok: bool = True
    #: The orientation model that decided (None when the classifier was handed in without a name).
    model: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"input_path": self.input_path, "page_index": self.page_index, "angle": self.angle, "score": self.score,
                "angle_model": self.model}


def iter_angles(pipeline: DocPreprocessor, input: Any, *, errors: Literal["raise", "yield"] = "raise",
                batch_size: int | None = None) -> Iterator[PageAngle | PageFailure]:
    """One `PageAngle` per page of `input` (any input `predict` takes), in order, with the
    pipeline's classifier and view set; failures as in `predict_iter`. `batch_size`: pages per
    classifier call (default: the pipeline's batch_size, at least 8)."""
    if errors not in ("raise", "yield"):
        raise ConfigError("errors must be 'raise' or 'yield'")
    classifier = pipeline.orientation_classifier
    views = pipeline.view_set
    # Crops are small: a batch of pages costs little memory and saves model calls.
    size = max(1, batch_size or max(_BATCH, pipeline.config.batch_size))
    pages = _decode_ahead(input, pipeline.limits, views.min_short_side)
    while chunk := list(itertools.islice(pages, size)):
        found = iter(classifier.predict([item.image for item in chunk if isinstance(item, Page)], views))
        for item in chunk:
            if isinstance(item, PageFailure):
                if errors == "raise":
                    item.raise_error()
                yield item
                continue
            decision = next(found)
            yield PageAngle(item.input_path, item.page_index, decision.angle, decision.score, model=classifier.name)


def _decode_ahead(input: Any, limits: Limits, min_short_side: int) -> Iterator[Page | PageFailure]:
    """The pages of `input` in order, single-page files decoded on a pool of threads (Pillow lets
    go of the GIL while it decodes, so every core decodes); PDFs and TIFFs are streamed."""
    with ThreadPoolExecutor(max_workers=usable_cpu_count(), thread_name_prefix="pagefix-decode") as pool:
        pending: deque[Future[list[Page | PageFailure]]] = deque()
        for item in iter_sources(input):
            if isinstance(item, (str, os.PathLike)) and os.fspath(item).lower().endswith(_STREAMED_SUFFIXES):
                while pending:
                    yield from pending.popleft().result()
                yield from iter_pages(item, limits, min_short_side)
                continue
            pending.append(pool.submit(_all_pages, item, limits, min_short_side))
            while len(pending) > _AHEAD:
                yield from pending.popleft().result()
        while pending:
            yield from pending.popleft().result()


def _all_pages(item: Any, limits: Limits, min_short_side: int) -> list[Page | PageFailure]:
    return list(iter_pages(item, limits, min_short_side))
