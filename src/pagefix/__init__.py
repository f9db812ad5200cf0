"""pagefix: turn photographed and scanned document pages upright and flat (PaddleOCR 3.x
doc_preprocessor, on ONNX Runtime).

>>> from pagefix import DocPreprocessor
>>> [r.print() for r in DocPreprocessor().predict("photo.jpg")]  # doctest: +SKIP

The public API is the names in `__all__`: the pipeline, its results, the limits, the PDF writer
and the error tree (documented, with the attributes each error carries, in `pagefix.errors`).
The subpackages (`pagefix.inputs`, `pagefix.models`, `pagefix.pipeline`, ...) are internal and may
change between releases.
"""

from .errors import (
    ChecksumError,
    ConfigError,
    DeviceError,
    FetchError,
    InputError,
    LimitExceededError,
    ModelStoreError,
    OcrError,
    OutputError,
    PagefixError,
    PasswordProtectedError,
    UnsupportedFormatError,
)
from .inputs import Page, PageFailure
from .limits import Limits
from .outputs.pdf import save_pdf
from .pipeline.angles import PageAngle
from .pipeline.preprocessor import DocPreprocessor
from .pipeline.result import PageResult

__version__ = "0.1.0"

__all__ = [
    "ChecksumError",
    "ConfigError",
    "DeviceError",
    "DocPreprocessor",
    "FetchError",
    "InputError",
    "LimitExceededError",
    "Limits",
    "ModelStoreError",
    "OcrError",
    "OutputError",
    "Page",
    "PageAngle",
    "PageFailure",
    "PageResult",
    "PagefixError",
    "PasswordProtectedError",
    "UnsupportedFormatError",
    "__version__",
    "save_pdf",
]
