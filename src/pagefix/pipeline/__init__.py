"""The pipeline layer: `DocPreprocessor`, its settings, the per-page stages, the orientation-only
path and the result type. It knows pages and models, never where a page came from or where it goes.

Internal modules: `preprocessor` (the class), `settings` (every setting, declared once, and the
YAML configuration), `stages` (prepare, find grids, finish: what batch engines run apart), `angles`
(`predict_angles`), `result` (`PageResult`), `prefetch` (decoding ahead, writing behind).
"""

from .angles import PageAngle
from .preprocessor import DocPreprocessor
from .result import AngleDecision, PageResult

__all__ = ["AngleDecision", "DocPreprocessor", "PageAngle", "PageResult"]
