"""Turn anything a user may pass (array, bytes, path, URL, directory, list) into pages.

Every source goes through the same gate: bytes are sniffed (`formats`), images decoded by
`decode`, PDFs rendered by `pdf`, URLs fetched by `fetch`. A source that fails becomes a
`PageFailure` in the stream, so the sources after it are still read.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError, LimitExceededError, PagefixError
from ..limits import Limits
from .decode import array_to_bgr, decode_image_sized, has_exif_turn, iter_image_sizes
from .fetch import fetch_url, is_url
from .formats import sniff_format
from .page import Page, PageFailure
from .pdf import iter_pdf_page_sizes, iter_pdf_pages_sized

__all__ = [
    "IMAGE_SUFFIXES", "Source", "iter_page_sizes", "iter_pages", "iter_sources", "list_directory", "pages_from_bytes",
]

#: What a directory listing picks up; the format itself is still decided from the bytes.
IMAGE_SUFFIXES = frozenset(
    {".jpg", ".jpeg", ".jpe", ".png", ".bmp", ".dib", ".tif", ".tiff", ".webp", ".gif", ".pdf"}
)

Source = np.ndarray | bytes | str | os.PathLike | Iterable[Any]
PageOrFailure = Page | PageFailure


def iter_pages(source: Source, limits: Limits | None = None, min_short_side: int | None = None) -> Iterator[PageOrFailure]:
    """Yield the pages of `source` in order; failures come as `PageFailure` items.

    `min_short_side`: JPEG files may be decoded smaller and PDF pages rendered smaller, down to
    this short side (see `decode_image`, `iter_pdf_pages`); for work that reads a small copy of
    each page only.

    >>> [p.page_index for p in iter_pages("report.pdf")]  # doctest: +SKIP
    [0, 1, 2]
    """
    limits = limits or Limits()
    for item in iter_sources(source):
        yield from _single_source_pages(item, limits, min_short_side)


def iter_sources(source: Source) -> Iterator[Any]:
    """`source` split into single inputs (one file, URL, array or bytes each), in the order
    `iter_pages` reads them: directories listed, lists flattened; for callers that decode
    several inputs at once, and for `iter_pages` itself. `iter_pages(item)` of each gives the
    pages `iter_pages(source)` gives."""
    if isinstance(source, (str, os.PathLike)):
        text = os.fspath(source)
        path = Path(text).expanduser()
        if not is_url(text) and path.is_dir():
            yield from (str(file) for file in list_directory(path))
            return
        yield source
    elif isinstance(source, (Page, PageFailure, np.ndarray, bytes, bytearray, memoryview)):
        yield source
    elif isinstance(source, Iterable):
        items: Iterable[Any] = source  # any item: iter_sources names an unsupported one
        for item in items:
            if isinstance(item, (list, tuple)) and not isinstance(item, np.ndarray):
                yield PageFailure(None, None, InputError("nested lists are not accepted as input"))
                continue
            yield from iter_sources(item)
    else:
        yield source  # iter_pages names the unsupported type


def _single_source_pages(item: Any, limits: Limits, min_short_side: int | None) -> Iterator[PageOrFailure]:
    """The pages of one item of `iter_sources` (a file, URL, array, bytes or a decoded page)."""
    if isinstance(item, (Page, PageFailure)):  # already decoded by a front end
        yield item
    elif isinstance(item, np.ndarray):
        yield _array_page(item)
    elif isinstance(item, (bytes, bytearray, memoryview)):
        yield from pages_from_bytes(bytes(item), None, limits, min_short_side)
    elif isinstance(item, (str, os.PathLike)):
        yield from _path_pages(os.fspath(item), limits, min_short_side)
    else:
        yield PageFailure(None, None, InputError(f"unsupported input type {type(item).__name__}"))


def _array_page(array: np.ndarray) -> PageOrFailure:
    try:
        return Page(array_to_bgr(array))
    except PagefixError as exc:
        return PageFailure(None, None, exc)


def _path_pages(text: str, limits: Limits, min_short_side: int | None = None) -> Iterator[PageOrFailure]:
    if is_url(text):
        try:
            data = fetch_url(text, limits)
        except PagefixError as exc:
            yield PageFailure(text, None, exc)
            return
        yield from pages_from_bytes(data, text, limits, min_short_side)
        return
    # Directories were listed by iter_sources.
    yield from _file_pages(Path(text).expanduser(), limits, shown=text, min_short_side=min_short_side)


def list_directory(root: Path) -> list[Path]:
    """Image and PDF files under `root`, recursively, in sorted order."""
    found = []
    for folder, dirs, files in os.walk(root):
        dirs.sort()
        for name in files:
            if Path(name).suffix.lower() in IMAGE_SUFFIXES and not name.startswith("."):
                found.append(Path(folder) / name)
    return sorted(found)


def _file_pages(path: Path, limits: Limits, shown: str | None = None,
                min_short_side: int | None = None) -> Iterator[PageOrFailure]:
    name = shown or str(path)
    try:
        size = path.stat().st_size
        if not path.is_file():
            raise InputError("not a regular file")
    except FileNotFoundError:
        yield PageFailure(name, None, InputError("no such file or directory"))
        return
    except PagefixError as exc:
        yield PageFailure(name, None, exc)
        return
    except OSError as exc:
        yield PageFailure(name, None, InputError(f"cannot read file: {exc.strerror or exc}"))
        return
    if size > limits.max_file_bytes:
        yield PageFailure(name, None, LimitExceededError(
            f"file is {size} bytes, over the limit of {limits.max_file_bytes} bytes "
            "(raise it with PAGEFIX_MAX_FILE_BYTES or Limits.max_file_bytes)",
            limit="max_file_bytes", value=limits.max_file_bytes, actual=size,
        ))
        return
    try:
        data = path.read_bytes()
    except OSError as exc:
        yield PageFailure(name, None, InputError(f"cannot read file: {exc.strerror or exc}"))
        return
    pages = pages_from_bytes(data, name, limits, min_short_side)
    del data  # the decoder lets go of the bytes once it has the pixels
    yield from pages


def pages_from_bytes(data: bytes, input_path: str | None, limits: Limits,
                     min_short_side: int | None = None) -> Iterator[PageOrFailure]:
    """Decode one file's bytes (image or PDF) into its pages (`min_short_side`: see `iter_pages`).

    Callers that drop their own reference to `data` after this call let a single image's bytes
    be freed as soon as it is decoded (a 300 MB uncompressed TIFF is not kept beside its pixels).
    """
    try:
        if len(data) > limits.max_file_bytes:
            raise LimitExceededError(
                f"file is {len(data)} bytes, over the limit of {limits.max_file_bytes} bytes "
                "(raise it with PAGEFIX_MAX_FILE_BYTES or Limits.max_file_bytes)",
                limit="max_file_bytes", value=limits.max_file_bytes, actual=len(data),
            )
        fmt = sniff_format(data[:1024])
        if fmt == "pdf":
            for page_number, page, dpi in iter_pdf_pages_sized(data, limits, min_short_side):
                yield _page_or_failure(page, input_path, page_number, "pdf", dpi)
            return
        # The file's own bytes can stand for a page left untouched, unless it was decoded smaller.
        encoded = data if fmt == "jpeg" and not min_short_side and not has_exif_turn(data) else None
        frames = decode_image_sized(data, limits, fmt, min_short_side)
        del data
        for index, frame, dpi in frames:
            item = _page_or_failure(frame, input_path, index, fmt, dpi)
            del frame
            if isinstance(item, Page) and index is None:
                item.encoded = encoded
            yield item
    except PagefixError as exc:
        yield PageFailure(input_path, None, exc)


def iter_page_sizes(data: bytes, limits: Limits, max_pages: int | None = None) -> Iterator[tuple[int, int]]:
    """(width, height) in pixels of each page `pages_from_bytes` would give (at most `max_pages`),
    read from image headers and PDF page boxes: nothing is decoded or rendered. Pages whose size
    cannot be read are left out; decoding them reports why.

    >>> sum(w * h for w, h in iter_page_sizes(open("scan.pdf", "rb").read(), Limits()))  # doctest: +SKIP
    """
    try:
        fmt = sniff_format(data[:1024])
    except PagefixError:
        return
    if fmt == "pdf":
        yield from iter_pdf_page_sizes(data, limits, max_pages)
    else:
        yield from iter_image_sizes(data, fmt, limits, max_pages)


def _page_or_failure(page: np.ndarray | PagefixError, path: str | None, index: int | None, fmt: str,
                     dpi: tuple[float, float] | None = None) -> PageOrFailure:
    if isinstance(page, PagefixError):
        return PageFailure(path, index, page)
    return Page(page, path, index, source_format=fmt, dpi=dpi)
