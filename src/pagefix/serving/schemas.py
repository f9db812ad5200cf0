"""The HTTP API's request and response bodies, with the reference's exact camelCase field names
(docs/http.md); they also make the served OpenAPI schema."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model

from ..pipeline.settings import SETTINGS, Setting

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


class _RequestFile(BaseModel):
    model_config = ConfigDict(extra="ignore")

    def pipeline_settings(self) -> dict[str, Any]:
        """The request's per-call settings by setting name (None: the server's own)."""
        return {row.name: getattr(self, row.http.name) for row in SETTINGS if row.http is not None}

    @staticmethod
    def field_of(setting: str) -> str:
        """The request field of a setting ('useDocUnwarping' for use_doc_unwarping)."""
        http = next(row.http for row in SETTINGS if row.name == setting)
        return http.name if http else setting

    file: str = Field(
        description="An http(s) URL of an image or PDF the server may fetch, or the file's bytes in "
        "base64 (a `data:...;base64,` prefix is accepted).",
    )
    fileType: Literal[0, 1] | None = Field(
        default=None,
        description="0: PDF, 1: image. Checked against the file's content; null: taken from the content.",
    )


def _setting_field(row: Setting) -> tuple[Any, Any]:
    """A request field for a per-call setting: its type or null, with the setting's bounds."""
    assert row.http is not None
    bounds: dict[str, Any] = {}
    if row.minimum is not None:
        bounds["gt" if row.above_minimum else "ge"] = row.kind(row.minimum)
    if row.maximum is not None:
        bounds["le"] = row.kind(row.maximum)
    return (row.kind | None, Field(default=None, description=row.http.description, **bounds))


_VISUALIZE = (bool | None, Field(
    default=None, description="Return docPreprocessingImage and inputImage; null: Serving.visualize of the config.",
))

if TYPE_CHECKING:
    class InferRequest(_RequestFile):
        visualize: bool | None
else:
    # The settings' fields come from the settings table (`http` of each row): the reference's
    # first, then `visualize`, then pagefix's additions, which clients of the reference leave out.
    InferRequest = create_model(
        "InferRequest",
        __base__=_RequestFile,
        __doc__="Body of `POST /document-preprocessing`. Unknown keys are ignored, as the reference does.",
        __module__=__name__,
        **{row.http.name: _setting_field(row) for row in SETTINGS if row.http and row.reference},
        visualize=_VISUALIZE,
        **{row.http.name: _setting_field(row) for row in SETTINGS if row.http and not row.reference},
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
    skew_angle: float | None = Field(
        default=None, description="The page's fine skew in degrees, counter-clockwise positive (pagefix); "
        "a flat page leaning by more than the dead zone was turned back by it; absent when not measured.",
    )
    angle_model: str | None = Field(
        default=None, description="The orientation model that set `angle` (pagefix); absent when not classified.",
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
