"""The work on one input file, the same for both engines: decode (the pipeline's own input gate),
run the pages through `DocPreprocessor.process_pages`, encode, write atomically, and describe each
page as a manifest row. Nothing here knows which engine called it."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..errors import LimitExceededError, PagefixError
from ..inputs import Page, PageFailure, pages_from_bytes
from ..models.store import sha256_of
from ..outputs.files import encode_image
from ..outputs.pdf import PdfWriter
from ..pipeline.preprocessor import DocPreprocessor
from ..pipeline.result import (
    ANGLE_SCORE_DECIMALS,
    SKEW_ANGLE_DECIMALS,
    WARP_SCORE_DECIMALS,
    PageResult,
    reported_score,
)
from .listing import InputFile
from .tree import OutputTree

__all__ = ["ChunkRunner", "FileProcessor", "OutputOptions", "model_versions", "page_numbers"]

logger = logging.getLogger(__name__)

IMAGE_FORMATS = ("jpg", "png", "webp")

#: (input, chunk of pages, rows to append to, PDF writer or None, start time) -> the time it ended.
ChunkRunner = Callable[
    [InputFile, "list[Page | PageFailure]", "list[dict[str, Any]]", "PdfWriter | None", float], float]


@dataclass(frozen=True)
class OutputOptions:
    image_format: str = "jpg"
    jpeg_quality: int = 95
    save_pdf: bool = False
    pdf_dpi: float = 300.0


class FileProcessor:
    """Turns one input's bytes into written outputs and manifest rows.

    `stop`, when set, ends the work between pages: the pages done are returned, with `n_pages`
    left null so that a later run knows the input is unfinished.
    """

    def __init__(
        self, pipeline: DocPreprocessor, tree: OutputTree, options: OutputOptions, run_id: str,
        stop: threading.Event | None = None,
    ) -> None:
        self.pipeline = pipeline
        self.tree = tree
        self.options = options
        self.run_id = run_id
        self.stop = stop or threading.Event()
        self.models = model_versions(pipeline)
        self._suffix = "." + options.image_format

    def process(self, item: InputFile, read: Callable[[], bytes],
                run_chunk: ChunkRunner | None = None) -> list[dict[str, Any]]:
        """The manifest rows of one input. `run_chunk` replaces the pipeline-and-write step of
        each chunk of pages (a staged engine's first stage returns pending rows from it)."""
        run_chunk = run_chunk or self._run_chunk
        started = time.perf_counter()
        rows: list[dict[str, Any]] = []
        pdf = PdfWriter(self.options.pdf_dpi, self.options.jpeg_quality) if self.options.save_pdf else None
        try:
            try:
                data = read()
                _check_size(len(data), self.pipeline.limits.max_file_bytes)
            except PagefixError as exc:
                return [self.row(item, None, started, error=exc)]
            pages = pages_from_bytes(data, item.uri, self.pipeline.limits)
            del data
            try:
                finished = self._run_pages(item, pages, rows, pdf, started, run_chunk)
            except Exception as exc:  # noqa: BLE001 - an odd file hitting a bug must not end a run of millions
                logger.warning("unexpected error on %s", item.uri, exc_info=True)
                rows.append(self.row(item, None, started, error=exc))
                finished = False  # n_pages stays null: the input is tried again next run
            if pdf is not None and pdf.pages and finished:
                self._write_pdf(item, pdf, rows)
        finally:
            if pdf is not None:
                pdf.close()
        if finished and rows and not (len(rows) == 1 and rows[0]["page_index"] is None):
            for row in rows:
                row["n_pages"] = len(rows)
        return rows

    def _run_pages(self, item: InputFile, pages: Any, rows: list[dict[str, Any]], pdf: PdfWriter | None,
                   started: float, run_chunk: ChunkRunner) -> bool:
        """Process pages one batch at a time; False when stopped before the input's last page."""
        batch_size = self.pipeline.config.batch_size
        chunk: list[Page | PageFailure] = []
        for page in pages:
            chunk.append(page)
            if len(chunk) >= batch_size:
                started = run_chunk(item, chunk, rows, pdf, started)
                chunk = []
                if self.stop.is_set():
                    return _exhausted(pages)
        if chunk:
            run_chunk(item, chunk, rows, pdf, started)
        return True

    def _run_chunk(self, item: InputFile, chunk: list[Page | PageFailure], rows: list[dict[str, Any]],
                   pdf: PdfWriter | None, started: float) -> float:
        indices = page_numbers(chunk)
        results = self.pipeline.process_pages(chunk, {})
        del chunk[:]  # the decoded pages go as soon as their results exist
        share = len(results)
        for index, result in zip(indices, results):
            rows.append(self.record(item, index, result, started, share, pdf))
        return time.perf_counter()

    def record(self, item: InputFile, index: int | None, result: PageResult | PageFailure, started: float,
               share: int = 1, pdf: PdfWriter | None = None) -> dict[str, Any]:
        """Write one page's output and return its manifest row (an error row when it failed)."""
        if isinstance(result, PageFailure):
            return self.row(item, index, started, error=result.error, share=share)
        if index is None:  # `page_numbers` numbers every decoded page
            raise ValueError(f"{item.rel}: a page result without a page number")
        try:
            name = self.tree.page_name(item.rel, index, self.options.image_format)
            self.tree.write(name, self._encode(result))
            if pdf is not None:
                pdf.add(result)
        except PagefixError as exc:
            return self.row(item, index, started, error=exc, share=share)
        return self.row(item, index, started, result=result, output=name, share=share)

    def _encode(self, result: PageResult) -> bytes:
        if result.source_jpeg is not None and self._suffix == ".jpg":
            return result.source_jpeg  # the page was left as it was: its own file, no re-encoding
        return encode_image(result.output_img, self._suffix, self.options.jpeg_quality)

    def _write_pdf(self, item: InputFile, pdf: PdfWriter, rows: list[dict[str, Any]]) -> None:
        try:
            self.tree.write(self.tree.pdf_name(item.rel), pdf.to_bytes())
        except PagefixError as exc:
            # The pages are written; the document's PDF is not: mark its pages so a re-run redoes it.
            for row in rows:
                if row["error"] is None:
                    row["error"] = f"{type(exc).__name__}: PDF not written: {exc}"

    def row(self, item: InputFile, page_index: int | None, started: float, *, result: PageResult | None = None,
            output: str | None = None, error: BaseException | None = None, share: int = 1) -> dict[str, Any]:
        """One manifest row; with neither `result` nor `error`, the row of a page still in work."""
        image = result.output_img if result is not None else None
        return {
            "input_path": item.uri,
            "page_index": page_index,
            "n_pages": None,
            "angle": result.angle if result is not None else None,
            "angle_score": reported_score(result.angle_score, ANGLE_SCORE_DECIMALS) if result is not None else None,
            "unwarped": result.unwarp_applied if result is not None else None,
            "warp_score": reported_score(result.warp_score, WARP_SCORE_DECIMALS) if result is not None else None,
            "skew_angle": reported_score(result.skew_angle, SKEW_ANGLE_DECIMALS) if result is not None else None,
            "output_path": output,
            "width": int(image.shape[1]) if image is not None else None,
            "height": int(image.shape[0]) if image is not None else None,
            "error": None if error is None else f"{type(error).__name__}: {error}",
            "run_id": self.run_id,
            "elapsed_ms": round((time.perf_counter() - started) * 1000.0 / share, 1),
            "orientation_model": self.models.get("orientation"),
            "unwarping_model": self.models.get("unwarping"),
        }


def page_numbers(chunk: list[Page | PageFailure]) -> list[int | None]:
    """Each item's page in the manifest: a decoded single image is page 0 of its file; a failure
    to read the file has no page."""
    return [(0 if p.page_index is None else int(p.page_index)) if isinstance(p, Page) else p.page_index for p in chunk]


def _exhausted(pages: Any) -> bool:
    """True when the page iterator has nothing left (the stop came after the last page)."""
    try:
        next(pages)
    except StopIteration:
        return True
    pages.close()
    return False


def _check_size(size: int, limit: int) -> None:
    # Both engines check here, with the same words: Ray has read the bytes, the local engine too.
    if size > limit:
        raise LimitExceededError(
            f"file is {size} bytes, over the limit of {limit} bytes "
            "(raise it with PAGEFIX_MAX_FILE_BYTES or Limits.max_file_bytes)",
            limit="max_file_bytes", value=limit, actual=size,
        )


def model_versions(pipeline: DocPreprocessor) -> dict[str, str]:
    """`name@sha256[:12]` of each model the pipeline's settings use (recorded in every row)."""
    config = pipeline.config
    used = {
        "orientation": (config.use_doc_orientation_classify, config.doc_orientation_classify_model_name,
                        config.doc_orientation_classify_model_dir),
        "unwarping": (config.use_doc_unwarping, config.doc_unwarping_model_name, config.doc_unwarping_model_dir),
    }
    versions = {}
    for task, (on, name, directory) in used.items():
        if not on:
            continue
        precision = pipeline.runtime.precision if task == "unwarping" else "fp32"
        files = pipeline.store.resolve(task, name, directory, precision=precision)
        digest = (files.config.get("files") or {}).get(files.path.name) or sha256_of(files.path)
        versions[task] = f"{files.name}@{digest[:12]}"
    return versions


def missing_file_row(item: InputFile, run_id: str) -> dict[str, Any]:
    """The row of an input that was listed but is gone when read (the local reader's words)."""
    return {
        "input_path": item.uri, "page_index": None, "n_pages": None, "angle": None, "angle_score": None,
        "unwarped": None, "warp_score": None, "skew_angle": None, "output_path": None, "width": None, "height": None,
        "error": "InputError: no such file or directory", "run_id": run_id, "elapsed_ms": 0.0,
        "orientation_model": None, "unwarping_model": None,
    }
