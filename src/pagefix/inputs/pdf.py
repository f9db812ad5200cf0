"""Render PDF pages one at a time with pypdfium2, under the page, size and password rules.

Pages are rendered lazily, so a 500-page PDF never sits in memory at once. PDFium is not
thread-safe: every call into it holds one process-wide lock (not across yields).

PDFium keeps every object it has parsed until its document is closed, the raw bytes of each
page's image streams included (closing the page does not let them go), so reading a scanned PDF
through one open document grows by about the file's size. Measured on a 400-page PDF of 150-DPI
JPEG pages (0.36 MB a page of file): loading the pages alone, without rendering, grew RSS by
0.35 MB a page, and `predict_iter` went from 523 MB at page 20 to 633 MB at page 350. So the
document is closed and opened again every `_REOPEN_EVERY` pages, which bounds what it holds to
that many pages' worth: 512 MB at page 20, 513 MB at page 350.
"""

from __future__ import annotations

import logging
import math
import os
import threading
from collections.abc import Iterator

import numpy as np
import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c

from ..errors import InputError, LimitExceededError, PagefixError, PasswordProtectedError
from ..limits import Limits

__all__ = ["count_pdf_pages", "embedded_image_dpi", "iter_pdf_page_sizes", "iter_pdf_pages", "iter_pdf_pages_sized",
           "pdf_render_scale"]

logger = logging.getLogger(__name__)

PDFIUM_LOCK = threading.RLock()
_FPDF_ERR_PASSWORD = 4

RenderedPage = tuple[int, "np.ndarray | PagefixError"]
#: (page index, BGR page or its error, pixels per inch (x, y) of the page or None with an error)
SizedPage = tuple[int, "np.ndarray | PagefixError", "tuple[float, float] | None"]

# Pages in a row that cannot be loaded before the page tree is taken to be broken (a lying
# /Count, a cycle) and reading stops.
_MISSING_RUN = 20

# Pages read through one open document before it is opened again (see the module's docstring).
# Opening again is cheap next to the scan data a page would otherwise keep held for the rest of
# the file, even where PDFium must rebuild a broken cross-reference table
# (docs/research/2026-11-speed-work.md, PDF memory).
_REOPEN_EVERY = 16
#: The highest resolution a page's images can ask it to be rendered at: scans go up to 600 DPI; an
#: image far denser than that on its page box is a bomb or a mistake, not detail to keep.
_MAX_SCAN_DPI = 600.0

# Share of the page that images at least as sharp as a resolution must cover for the page to be
# rendered at it: a scanned page (one image, or strips of one) counts, a small logo does not.
_IMAGE_AREA_SHARE = 0.1

def pdf_render_scale(width_pt: float, height_pt: float, limits: Limits, wanted: float | None = None,
                     quiet: bool = False) -> float:
    """The scale to render a page at: the configured one, or `wanted` (the scale its scanned images
    need) when higher; lowered to fit `max_pdf_page_pixels` and `max_pixels` (with a warning,
    unless `quiet`)."""
    if not (math.isfinite(width_pt) and math.isfinite(height_pt)) or width_pt <= 0 or height_pt <= 0:
        raise InputError(f"PDF page has an invalid size {width_pt}x{height_pt} pt")
    scale = max(limits.pdf_render_scale, wanted or 0.0)
    cap = min(limits.max_pixels, limits.max_pdf_page_pixels)
    if math.ceil(width_pt * scale) * math.ceil(height_pt * scale) <= cap:
        return scale
    # ceil() makes the rendered size a step function of the scale: shrink until it fits.
    fitted = math.sqrt(cap / (width_pt * height_pt))
    while fitted > 0 and math.ceil(width_pt * fitted) * math.ceil(height_pt * fitted) > cap:
        fitted *= 0.999
    if fitted < limits.pdf_min_render_scale:
        raise LimitExceededError(
            f"PDF page of {width_pt:.0f}x{height_pt:.0f} pt cannot be rendered under the limit of "
            f"{cap / 1e6:.1f} MP even at scale {limits.pdf_min_render_scale}",
            limit="pdf_min_render_scale", value=limits.pdf_min_render_scale, actual=max(fitted, 0.0),
        )
    if not quiet:
        logger.warning(
            "PDF page of %.0fx%.0f pt rendered at %.0f DPI instead of %.0f DPI%s to stay under %.1f MP "
            "(Limits.max_pixels, Limits.max_pdf_page_pixels): the output is softer than the input",
            width_pt, height_pt, fitted * 72, scale * 72,
            " (its scanned images' resolution)" if wanted and wanted > limits.pdf_render_scale else "",
            cap / 1e6,
        )
    return fitted


def embedded_image_dpi(page: pdfium.PdfPage) -> float | None:
    """The resolution the page's images need to be rendered without loss, or None for a page
    without a sizeable image (vector text): the highest DPI that images covering at least
    `_IMAGE_AREA_SHARE` of the page reach. Read from the page's objects, nothing is decoded.
    Call with `PDFIUM_LOCK` held."""
    width, height = page.get_size()
    found = []
    for image in page.get_objects(filter=(pdfium_c.FPDF_PAGEOBJ_IMAGE,)):
        try:
            info = image.get_metadata()
            left, bottom, right, top = image.get_bounds()
        except pdfium.PdfiumError:
            continue
        dpi = max(float(info.horizontal_dpi), float(info.vertical_dpi))
        # Not clipped to the page box: its origin need not be (0, 0) and /Rotate swaps its sides.
        area = min(max(0.0, right - left) * max(0.0, top - bottom), width * height)
        if math.isfinite(dpi) and dpi > 0 and area > 0:
            found.append((dpi, area))
    covered = 0.0
    for dpi, area in sorted(found, reverse=True):
        covered += area
        if covered >= _IMAGE_AREA_SHARE * width * height:
            return dpi
    return None


def iter_pdf_page_sizes(source: bytes, limits: Limits, max_pages: int | None = None) -> Iterator[tuple[int, int]]:
    """(width, height) in pixels of each page as `iter_pdf_pages` would render it, read from the
    page boxes without rendering anything. Pages that cannot be loaded or sized are left out
    (rendering reports them); an unreadable file yields nothing."""
    try:
        document = _open(source)
    except PagefixError:
        return
    try:
        with PDFIUM_LOCK:
            count = len(document)
        for bound in (limits.max_pdf_pages, max_pages):
            if bound is not None:
                count = min(count, bound)
        for index in range(count):
            with PDFIUM_LOCK:
                try:
                    page = document[index]
                except (pdfium.PdfiumError, IndexError):
                    continue
                try:
                    width, height = page.get_size()
                finally:
                    page.close()
            try:
                scale = pdf_render_scale(width, height, limits, quiet=True)
            except PagefixError:
                continue
            yield math.ceil(width * scale), math.ceil(height * scale)
    finally:
        with PDFIUM_LOCK:
            document.close()


def iter_pdf_pages(source: bytes | str | os.PathLike[str], limits: Limits,
                   min_short_side: int | None = None) -> Iterator[RenderedPage]:
    """Yield (page index, BGR page or the error of that page) for each page, in order (see
    `iter_pdf_pages_sized`, which also gives each page's resolution)."""
    for index, page, _ in iter_pdf_pages_sized(source, limits, min_short_side):
        yield index, page


def iter_pdf_pages_sized(source: bytes | str | os.PathLike[str], limits: Limits,
                         min_short_side: int | None = None) -> Iterator[SizedPage]:
    """Yield (page index, BGR page or the error of that page, pixels per inch) for each page, in
    order. The pixels per inch are the rendered size over the page's size in points, so the page's
    physical size is known whatever scale it was rendered at.

    Each page is rendered at `limits.pdf_render_scale`, or higher when its scanned images are
    sharper (`embedded_image_dpi`), so the rendering is not blurrier than the file; lower only to
    stay under `limits.max_pixels`, with a warning.

    `min_short_side`: render each page only as large as this short side needs (never larger than
    `limits.pdf_render_scale` makes it), for work that reads a small copy of each page only.

    The page count PDFium reports is the page tree's own `/Count`, which a file may inflate (a
    million pages with one real one) or make up around a cycle in `/Kids`. So the count is capped
    at `limits.max_pdf_pages` first, and pages that cannot even be loaded are held back: they are
    reported one by one when a later page loads, or as one "broken page tree" failure when the
    file ends or `_MISSING_RUN` of them come in a row (and reading stops there).
    """
    document = _open(source)
    try:
        with PDFIUM_LOCK:
            claimed = len(document)
        if claimed <= 0:
            raise InputError("PDF has no pages")
        n_pages = claimed
        if limits.max_pdf_pages is not None and claimed > limits.max_pdf_pages:
            logger.warning(
                "PDF claims %d pages; only the first %d are processed (Limits.max_pdf_pages)",
                claimed, limits.max_pdf_pages,
            )
            n_pages = limits.max_pdf_pages
        missing: list[tuple[int, PagefixError]] = []
        for index in range(n_pages):
            if index and index % _REOPEN_EVERY == 0:
                document = _reopen(document, source)
            try:
                page = _load(document, index)
            except PagefixError as exc:
                missing.append((index, exc))
                if len(missing) >= _MISSING_RUN:
                    break
                continue
            for failed, error in missing:  # pages that failed before one that loads: each is its own failure
                yield failed, error, None
            missing = []
            try:
                yield (index, *_render(page, index, limits, min_short_side))
            except PagefixError as exc:
                yield index, exc, None
        if missing:
            first = missing[0][0]
            stopped = "; stopped reading" if missing[-1][0] < n_pages - 1 else ""
            yield first, InputError(
                f"PDF page tree is broken: page {first} and later cannot be loaded, though the file "
                f"claims {claimed} page(s){stopped}"
            ), None
    finally:
        with PDFIUM_LOCK:
            document.close()


def count_pdf_pages(source: bytes | str | os.PathLike[str], limits: Limits) -> int:
    """The pages `iter_pdf_pages` will read at most: the page tree's count, capped by
    `limits.max_pdf_pages` (nothing is rendered). Raises like `iter_pdf_pages` for a file it cannot open."""
    document = _open(source)
    try:
        with PDFIUM_LOCK:
            claimed = len(document)
    finally:
        with PDFIUM_LOCK:
            document.close()
    return claimed if limits.max_pdf_pages is None else min(claimed, limits.max_pdf_pages)


def _open(source: bytes | str | os.PathLike[str]) -> pdfium.PdfDocument:
    with PDFIUM_LOCK:
        try:
            document = pdfium.PdfDocument(source)
        except pdfium.PdfiumError as exc:
            if getattr(exc, "err_code", None) == _FPDF_ERR_PASSWORD or "password" in str(exc).lower():
                raise PasswordProtectedError("PDF is password protected") from exc
            raise InputError(f"not a readable PDF: {exc}") from exc
        try:
            document.init_forms()
        except pdfium.PdfiumError:
            logger.debug("PDF forms could not be initialised; rendering without them")
        return document


def _reopen(document: pdfium.PdfDocument, source: bytes | str | os.PathLike[str]) -> pdfium.PdfDocument:
    """The same file in a fresh document, so PDFium lets go of what it parsed for earlier pages."""
    with PDFIUM_LOCK:
        document.close()
    return _open(source)


def _load(document: pdfium.PdfDocument, index: int) -> pdfium.PdfPage:
    with PDFIUM_LOCK:
        try:
            return document[index]
        except (pdfium.PdfiumError, IndexError) as exc:
            raise InputError(f"PDF page {index} cannot be loaded: {exc}") from exc


def _render(page: pdfium.PdfPage, index: int, limits: Limits,
            min_short_side: int | None = None) -> tuple[np.ndarray, tuple[float, float]]:
    with PDFIUM_LOCK:
        try:
            width, height = page.get_size()
            # The size is capped before render() allocates: pdf_render_scale lowers the scale.
            wanted = embedded_image_dpi(page)
            if wanted is not None:
                wanted = min(wanted, _MAX_SCAN_DPI) / 72.0
            scale = pdf_render_scale(width, height, limits, wanted, quiet=bool(min_short_side))
            if min_short_side:  # a small copy: never larger than the full page
                scale = min(scale, max(min_short_side / max(min(width, height), 1.0), limits.pdf_min_render_scale))
            bitmap = page.render(scale=scale, rotation=0, may_draw_forms=True)
            try:
                # pypdfium2 renders packed BGR into a buffer Python owns (closing the bitmap keeps
                # it): the array is that buffer, not a copy beside it (300 MB less at 100 MP).
                pixels = np.ascontiguousarray(bitmap.to_numpy()[:, :, :3])
            finally:
                bitmap.close()
        except pdfium.PdfiumError as exc:
            raise InputError(f"PDF page {index} cannot be rendered: {exc}") from exc
        finally:
            page.close()
    # From the pixels PDFium made, not the scale asked for: it rounds each side to whole pixels.
    rendered_h, rendered_w = pixels.shape[:2]
    return pixels, (rendered_w * 72.0 / width, rendered_h * 72.0 / height)
