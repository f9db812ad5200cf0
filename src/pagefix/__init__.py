"""pagefix: turn photographed and scanned document pages upright and flat (PaddleOCR 3.x
doc_preprocessor, on ONNX Runtime).

>>> from pagefix import DocPreprocessor
>>> [r.print() for r in DocPreprocessor().predict("photo.jpg")]  # doctest: +SKIP
"""

from .errors import (
    ChecksumError,
    ConfigError,
    DeviceError,
    FetchError,
    InputError,
    LimitExceededError,
    ModelStoreError,
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
