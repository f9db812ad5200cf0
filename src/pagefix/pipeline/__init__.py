"""The pipeline layer: `DocPreprocessor`, its settings, the per-page stages, the orientation-only
path and the result type. It knows pages and models, never where a page came from or where it goes.

Modules: `preprocessor` (the class), `settings` (every setting, declared once, and the
YAML configuration), `stages` (prepare, find grids, finish: what batch engines run apart), `angles`
(`predict_angles`), `result` (`PageResult`), `prefetch` (decoding ahead, writing behind).

Internal: these modules may change between releases; the public API is what `pagefix`
exports (`pagefix.__all__`), which includes `DocPreprocessor`, `PageResult` and `PageAngle`.
"""

from .angles import PageAngle
from .preprocessor import DocPreprocessor
from .result import AngleDecision, PageResult

__all__ = ["AngleDecision", "DocPreprocessor", "PageAngle", "PageResult"]
