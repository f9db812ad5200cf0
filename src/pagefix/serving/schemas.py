"""The HTTP API's request and response bodies, with the reference's exact camelCase field names
(spec section 3); they also make the served OpenAPI schema."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from ..pipeline.settings import MAX_KEEP_MARGIN

__all__ = [
    "DataInfo",
    "DocPreprocessingResult",
    "ImageInfo",
    "InferRequest",
    "InferResponse",
    "InferResult",
    "ModelSettings",
    "NoResultResponse",
    "PDFInfo",
    "PageInfo",
    "PrunedResult",
    "ReadyResponse",
    "TIFFInfo",
]


class InferRequest(BaseModel):
    """Body of `POST /document-preprocessing`. Unknown keys are ignored, as the reference does."""

    model_config = ConfigDict(extra="ignore")

    file: str = Field(
        description="An http(s) URL of an image or PDF the server may fetch, or the file's bytes in "
        "base64 (a `data:...;base64,` prefix is accepted).",
    )
    fileType: Literal[0, 1] | None = Field(
        default=None,
        description="0: PDF, 1: image. Checked against the file's content; null: taken from the content.",
    )
    useDocOrientationClassify: bool | None = Field(
        default=None, description="Classify and undo the page's orientation; null: the server's setting."
    )
    useDocUnwarping: bool | None = Field(
        default=None, description="Unwarp the page with UVDoc; null: the server's setting."
    )
    visualize: bool | None = Field(
        default=None,
        description="Return docPreprocessingImage and inputImage; null: Serving.visualize of the config.",
    )
    # pagefix additions; clients of the reference leave them out and get the server's defaults.
    skipFlatPages: bool | None = Field(
        default=None,
        description="Leave pages that a padded UVDoc probe finds flat untouched (pagefix); null: the "
        "server's setting (default true; false unwarps every page, as the reference).",
    )
    keepMargin: float | None = Field(
        default=None, ge=0.0, le=MAX_KEEP_MARGIN,
        description="Border kept around an unwarped page, as a fraction of its size per side (pagefix); "
        "null: the server's setting (default 0).",
    )


class ModelSettings(BaseModel):
    use_doc_orientation_classify: bool
    use_doc_unwarping: bool


class PrunedResult(BaseModel):
    """The page's JSON result without `input_path` and `page_index`."""

    model_settings: ModelSettings
    angle: int = Field(description="Clockwise turn found and undone: 0, 90, 180 or 270; -1 when not classified.")
    unwarp_applied: bool = Field(description="Whether UVDoc's grid was applied (pagefix).")
    warp_score: float | None = Field(
        default=None, description="The padded probe's warp score in per mille of the diagonal (pagefix); "
        "absent when the probe did not run.",
    )


class DocPreprocessingResult(BaseModel):
    outputImage: str = Field(description="The corrected page, PNG, base64.")
    prunedResult: PrunedResult
    docPreprocessingImage: str | None = Field(
        default=None, description="Input, rotated and unwarped page side by side, JPEG, base64 (visualize only)."
    )
    inputImage: str | None = Field(default=None, description="The decoded input page, JPEG, base64 (visualize only).")


class ImageInfo(BaseModel):
    width: int
    height: int
    type: Literal["image"] = "image"


class PageInfo(BaseModel):
    width: int
    height: int


class PDFInfo(BaseModel):
    numPages: int = Field(description="Pages processed (at most Serving.extra.max_num_input_imgs).")
    pages: list[PageInfo]
    type: Literal["pdf"] = "pdf"


class TIFFInfo(BaseModel):
    numPages: int = Field(description="Frames processed (at most Serving.extra.max_num_input_imgs).")
    pages: list[PageInfo]
    type: Literal["tiff"] = "tiff"


DataInfo = Annotated[ImageInfo | PDFInfo | TIFFInfo, Field(discriminator="type")]


class InferResult(BaseModel):
    docPreprocessingResults: list[DocPreprocessingResult]
    dataInfo: DataInfo


class InferResponse(BaseModel):
    logId: str
    result: InferResult
    errorCode: Literal[0] = 0
    errorMsg: Literal["Success"] = "Success"


class NoResultResponse(BaseModel):
    """Every answer without a result: health and readiness, and every error (errorCode == HTTP status)."""

    logId: str
    errorCode: int
    errorMsg: str


class ReadyResponse(NoResultResponse):
    """The readiness answer, with the server's start-up warnings (empty when there are none)."""

    warnings: list[str] = Field(default_factory=list,
                                description="Warnings about how the server runs, e.g. exposed without an API key.")
