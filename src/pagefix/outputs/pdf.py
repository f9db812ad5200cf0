"""Corrected pages as PDF files: one image per page. Each page keeps its input's physical size: a PDF
page's size in points, an image's stated DPI; pages whose input stated none (arrays, images
without DPI) are laid out at the writer's `dpi`. A page left untouched keeps its source JPEG bytes
(embedded as they are, no re-encoding); every other page is encoded once, as JPEG.

>>> pagefix.save_pdf(DocPreprocessor().predict("scan.pdf"), "scan_fixed.pdf")  # doctest: +SKIP
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pypdfium2 as pdfium
from PIL import Image

from ..errors import ConfigError, OutputError
from ..inputs.pdf import PDFIUM_LOCK
from .files import encode_image, write_atomic

if TYPE_CHECKING:  # the pipeline sits above the outputs: no import at run time
    from ..pipeline.result import PageResult

__all__ = ["DEFAULT_DPI", "DEFAULT_JPEG_QUALITY", "DocumentPdfs", "PdfWriter", "save_pdf"]

#: Resolution the pixels of a page whose input stated none are laid out at: a 2480 x 3508 px page
#: becomes A4.
DEFAULT_DPI = 300.0
DEFAULT_JPEG_QUALITY = 95
# JPEG colour layouts a PDF shows correctly without extra decode parameters (CMYK JPEGs are
# often stored inverted, which a bare DCTDecode stream would show as a negative).
_PLAIN_JPEG_MODES = ("L", "RGB")


class PdfWriter:
    """Collect pages into one PDF in memory, then write it at once (atomically).

    >>> with PdfWriter() as writer:  # doctest: +SKIP
    ...     writer.add(result); writer.save("out.pdf")
    """

    def __init__(self, dpi: float = DEFAULT_DPI, jpeg_quality: int = DEFAULT_JPEG_QUALITY) -> None:
        if not dpi > 0:
            raise ConfigError(f"dpi must be positive, got {dpi!r}")
        self.dpi = float(dpi)
        self.jpeg_quality = int(jpeg_quality)
        with PDFIUM_LOCK:
            self._pdf = pdfium.PdfDocument.new()
        self.pages = 0

    def add(self, result: PageResult) -> None:
        """Append the result's corrected page (its source JPEG when the page was left untouched), at
        its input's physical size (`result.dpi`; the writer's `dpi` when that is None)."""
        self.add_image(result.output_img, result.source_jpeg, getattr(result, "dpi", None))

    def add_image(self, image: np.ndarray, jpeg: bytes | None = None,
                  dpi: tuple[float, float] | None = None) -> None:
        """Append a BGR page; `jpeg`, when given, must be that page's exact pixels as a JPEG file;
        `dpi` (x, y) sets the page's size, else the writer's `dpi` does."""
        height, width = image.shape[:2]
        if jpeg is None or not _embeddable(jpeg, (width, height)):
            jpeg = encode_image(np.ascontiguousarray(image), ".jpg", self.jpeg_quality)
        dpi_x, dpi_y = dpi if dpi is not None else (self.dpi, self.dpi)
        page_w, page_h = width * 72.0 / dpi_x, height * 72.0 / dpi_y
        with PDFIUM_LOCK:
            page = self._pdf.new_page(page_w, page_h)
            try:
                picture = pdfium.PdfImage.new(self._pdf)
                # inline: pdfium copies the bytes now, so nothing has to stay open until saving.
                picture.load_jpeg(io.BytesIO(jpeg), inline=True)
                picture.set_matrix(pdfium.PdfMatrix().scale(page_w, page_h))
                page.insert_obj(picture)
                page.gen_content()
            finally:
                page.close()
        self.pages += 1

    def to_bytes(self) -> bytes:
        buffer = io.BytesIO()
        with PDFIUM_LOCK:
            self._pdf.save(buffer)
        return buffer.getvalue()

    def save(self, path: str | os.PathLike[str]) -> Path:
        if self.pages == 0:
            raise OutputError(f"no pages to write to {os.fspath(path)}")
        return write_atomic(path, self.to_bytes())

    def close(self) -> None:
        with PDFIUM_LOCK:
            self._pdf.close()

    def __enter__(self) -> PdfWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _embeddable(jpeg: bytes, size: tuple[int, int]) -> bool:
    """Whether the JPEG can go into the PDF as it is and shows `size` pixels."""
    try:
        with Image.open(io.BytesIO(jpeg)) as header:
            return header.format == "JPEG" and header.mode in _PLAIN_JPEG_MODES and header.size == size
    except Exception:  # noqa: BLE001 - anything Pillow cannot read is simply encoded afresh
        return False


def save_pdf(
    results: Iterable[PageResult], path: str | os.PathLike[str], dpi: float = DEFAULT_DPI,
    jpeg_quality: int = DEFAULT_JPEG_QUALITY,
) -> Path:
    """Write the corrected pages of `results`, in order, as one PDF (failures are skipped by the
    caller: pass `PageResult`s). Each page keeps its input's physical size (`PageResult.dpi`);
    `dpi` lays out the pages whose input stated no resolution (arrays, images without DPI)."""
    with PdfWriter(dpi, jpeg_quality) as writer:
        for result in results:
            if getattr(result, "ok", False) is not True or not hasattr(result, "output_img"):
                raise OutputError(f"save_pdf takes PageResult objects, got {type(result).__name__}")
            writer.add(result)
        return writer.save(path)


class DocumentPdfs:
    """One PDF per input document from a stream of results in input order (what the CLI's
    `--save_pdf` does): a new `input_path` closes the previous document's PDF.

    `target` is a `.pdf` file (one document expected) or a directory (`{stem}.pdf` per document).
    """

    def __init__(self, target: str | os.PathLike[str], dpi: float = DEFAULT_DPI,
                 jpeg_quality: int = DEFAULT_JPEG_QUALITY) -> None:
        self.target = Path(target)
        self.single_file = self.target.suffix.lower() == ".pdf"
        self.dpi = dpi
        self.jpeg_quality = jpeg_quality
        self.written: list[Path] = []
        self._used: set[str] = set()
        self._writer: PdfWriter | None = None
        self._document: tuple[str | None, str] | None = None

    def add(self, result: PageResult) -> Path | None:
        """Add a page; returns the PDF written when this page started a new document."""
        key = (result.input_path, _document_stem(result))
        finished = None
        if self._document is not None and key[0] != self._document[0]:
            finished = self.flush()
        if self._writer is None:
            if self.single_file and self.written:
                raise OutputError(
                    f"{self.target} names one PDF file but the input has several documents; "
                    "give a directory to get one PDF per document"
                )
            self._writer = PdfWriter(self.dpi, self.jpeg_quality)
            self._document = key
        self._writer.add(result)
        return finished

    def flush(self) -> Path | None:
        """Write the current document's PDF, if any pages were added."""
        writer, document = self._writer, self._document
        self._writer, self._document = None, None
        if writer is None or document is None:
            return None
        try:
            path = self._path_for(document[1])
            writer.save(path)
        finally:
            writer.close()
        self.written.append(path)
        return path

    def _path_for(self, stem: str) -> Path:
        if self.single_file:
            return self.target
        name, n = f"{stem}.pdf", 1
        while name in self._used:  # two inputs with the same stem from different folders
            name, n = f"{stem}_{n}.pdf", n + 1
        self._used.add(name)
        return self.target / name


def _document_stem(result: PageResult) -> str:
    """The document's name without the page number (`report_3` of `report.pdf` is `report`)."""
    base = result.base_name
    if result.page_index is not None and base.endswith(f"_{result.page_index}"):
        base = base[: -len(f"_{result.page_index}")]
    return base or "document"
