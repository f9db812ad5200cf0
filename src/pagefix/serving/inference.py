"""One request's work, run on a worker thread: file bytes → pages (the input layer) → the pipeline,
one page at a time → encoded images and `dataInfo`. Pages are encoded and dropped as they are
done, so a request holds at most one decoded page at a time."""

from __future__ import annotations

import base64
import itertools
from collections.abc import Callable, Generator, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, NoReturn, Protocol

import cv2
import numpy as np

from ..errors import InputError
from ..inputs import Page, PageFailure, iter_page_sizes, pages_from_bytes
from ..limits import Limits
from ..outputs.files import encode_image
from ..pipeline.result import SKEW_ANGLE_DECIMALS, WARP_SCORE_DECIMALS, PageResult, reported_score
from ..pipeline.settings import PipelineConfig
from .files import check_file_type, read_file_field
from .responses import ServiceError
from .schemas import (
    DocPreprocessingResult,
    ImageInfo,
    InferRequest,
    InferResponse,
    InferResult,
    ModelSettings,
    PageInfo,
    PDFInfo,
    PrunedResult,
    TIFFInfo,
)
from .settings import ServingSettings

__all__ = ["Job", "PagePipeline", "answer_json", "check_pixel_budget", "fit_within", "run_job"]


class PagePipeline(Protocol):
    """What the service needs from a pipeline (`DocPreprocessor` has it)."""

    config: PipelineConfig
    limits: Limits

    def process_pages(self, pages: Iterable[Page], settings: dict[str, bool]) -> list[PageResult | PageFailure]: ...


@dataclass(frozen=True)
class Job:
    request: InferRequest
    #: The per-request settings handed to `process_pages` (stages, skip_flat_pages, keep_margin).
    model_settings: dict[str, Any]
    visualize: bool


def answer_json(log_id: str, job: Job, *args: Any) -> bytes:
    """The whole 200 answer, serialised here on the worker so the event loop never copies images."""
    result = run_job(job, *args)
    return InferResponse(logId=log_id, result=result).model_dump_json(exclude_none=True).encode()


def run_job(
    job: Job, pipeline: PagePipeline, settings: ServingSettings, limits: Limits,
    check_cancelled: Callable[[], None], on_page: Callable[[], None],
) -> InferResult:
    """Process one request. Input problems raise `InputError` (HTTP 422)."""
    data, url = read_file_field(job.request.file, limits)
    fmt = check_file_type(data, job.request.fileType)
    check_pixel_budget(data, limits, settings)
    pages = pages_from_bytes(data, url, limits)
    del data  # the stream keeps what it needs
    try:
        results, sizes, multi_page = _process(pages, job, pipeline, settings, check_cancelled, on_page)
    finally:
        if isinstance(pages, Generator):
            pages.close()  # a PDF left early (page limit, error, timeout) is closed now, not at GC
    if not results:
        raise InputError("the file has no pages")
    return InferResult(docPreprocessingResults=results, dataInfo=_data_info(fmt, multi_page, sizes))


def check_pixel_budget(data: bytes, limits: Limits, settings: ServingSettings) -> None:
    """Refuse (413) a file whose pages add up to more than `Serving.max_request_pixels`, from the
    sizes in its headers and page boxes, before a single page is decoded."""
    budget = settings.max_request_pixels
    if budget is None:
        return
    total = 0
    for index, (width, height) in enumerate(iter_page_sizes(data, limits, settings.max_num_input_imgs)):
        total += width * height
        if total > budget:
            pages = f"pages 0 to {index} add up to" if index else f"its first page ({width}x{height}) is"
            raise ServiceError(
                413, f"the file is over the request's pixel budget of {budget / 1e6:g} MP "
                f"(Serving.max_request_pixels): {pages} {total / 1e6:.1f} MP",
            )


def _process(
    pages: Iterator[Page | PageFailure], job: Job, pipeline: PagePipeline, settings: ServingSettings,
    check_cancelled: Callable[[], None], on_page: Callable[[], None],
) -> tuple[list[DocPreprocessingResult], list[PageInfo], bool]:
    # PDFs stop at Limits.max_pdf_pages already; this also stops TIFF frames.
    stream = itertools.islice(pages, settings.max_num_input_imgs)
    results: list[DocPreprocessingResult] = []
    sizes: list[PageInfo] = []
    multi_page = False
    for item in stream:
        check_cancelled()
        if isinstance(item, PageFailure):
            _fail(item)
        multi_page = multi_page or item.page_index is not None
        height, width = item.image.shape[:2]
        sizes.append(PageInfo(width=width, height=height))
        (processed,) = pipeline.process_pages([item], job.model_settings)
        if isinstance(processed, PageFailure):
            _fail(processed)
        results.append(_page_answer(processed, job.visualize, settings.max_output_img_size))
        on_page()
    return results, sizes, multi_page


def _fail(failure: PageFailure) -> NoReturn:
    """Raise a page's error, naming the page (0-based) of a PDF or TIFF; never a server path."""
    where = f"page {failure.page_index}: " if failure.page_index is not None else ""
    raise failure.error.with_message(f"{where}{failure.error}") from failure.error


def _page_answer(result: PageResult, visualize: bool, cap: tuple[int, int] | None) -> DocPreprocessingResult:
    answer: dict[str, Any] = {
        "outputImage": _b64(encode_image(fit_within(result.output_img, cap), ".png")),
        "prunedResult": PrunedResult(
            model_settings=ModelSettings(**result.model_settings), angle=result.angle,
            unwarp_applied=result.unwarp_applied, warp_score=reported_score(result.warp_score, WARP_SCORE_DECIMALS),
            skew_angle=reported_score(result.skew_angle, SKEW_ANGLE_DECIMALS), angle_model=result.angle_model,
        ),
    }
    if visualize:
        panels = cv2.cvtColor(np.asarray(result.img["preprocessed_img"].convert("RGB")), cv2.COLOR_RGB2BGR)
        answer["docPreprocessingImage"] = _b64(encode_image(fit_within(panels, cap), ".jpg"))
        answer["inputImage"] = _b64(encode_image(fit_within(result.input_img, cap), ".jpg"))
    return DocPreprocessingResult(**answer)


def _data_info(fmt: str, multi_page: bool, sizes: list[PageInfo]) -> ImageInfo | PDFInfo | TIFFInfo:
    if fmt == "pdf":
        return PDFInfo(numPages=len(sizes), pages=sizes)
    if multi_page:  # a multi-frame TIFF, one result per frame
        return TIFFInfo(numPages=len(sizes), pages=sizes)
    return ImageInfo(width=sizes[0].width, height=sizes[0].height)


def fit_within(image: np.ndarray, cap: tuple[int, int] | None) -> np.ndarray:
    """Shrink `image` (keeping its aspect) to fit `cap` = (width, height); None or a fitting image: as is."""
    if cap is None:
        return image
    height, width = image.shape[:2]
    factor = min(cap[0] / width, cap[1] / height)
    if factor >= 1:
        return image
    size = (max(1, int(width * factor)), max(1, int(height * factor)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
