"""A page on its way into the pipeline: pixels plus where they came from."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NoReturn

import numpy as np

from ..errors import PagefixError

__all__ = ["Page", "PageFailure"]


@dataclass
class Page:
    """One decoded page: BGR uint8 HxWx3, as in the rest of the pipeline.

    `encoded` keeps the original file bytes of a single-image JPEG source, so a page that is
    left untouched can be written out again without re-encoding.
    """

    image: np.ndarray
    input_path: str | None = None
    page_index: int | None = None
    encoded: bytes | None = field(default=None, repr=False)
    #: Format the page was decoded from ("jpeg", "png", "pdf", ...), None for arrays.
    source_format: str | None = None
    #: Pixels per inch of `image` along x and y, so that its pixel size over this is the page's
    #: physical size: from the page's size in points for a PDF page (whatever the render scale),
    #: from the file (JFIF density, PNG pHYs, TIFF resolution) for an image; None when unknown.
    dpi: tuple[float, float] | None = None


@dataclass
class PageFailure:
    """A source (or one page of it) that could not be processed, in place of its result.

    Yielded only when the caller asked for failures to be reported instead of raised
    (`DocPreprocessor.predict_iter(..., errors="yield")`), so one bad file does not stop a batch.
    """

    input_path: str | None
    page_index: int | None
    error: PagefixError

    ok = False

    @property
    def message(self) -> str:
        where = self.input_path or "<input without a name>"
        if self.page_index is not None:
            where += f" (page {self.page_index})"
        return f"{where}: {self.error}"

    def raise_error(self) -> NoReturn:
        """Raise the failure as its own error type and attributes, with the source named in the message."""
        raise self.error.with_message(self.message) from self.error
