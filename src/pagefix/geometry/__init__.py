"""Page geometry: exact quarter turns, point maps both ways, grid resampling. Below the models:
nothing here loads a model or knows where a page came from.

Internal: these modules may change between releases; the public API is what `pagefix`
exports (`pagefix.__all__`)."""

from .point_maps import PageMap
from .resample import apply_grid, margin_pixels
from .turns import quarter_turn, turn_matrix

__all__ = ["PageMap", "apply_grid", "margin_pixels", "quarter_turn", "turn_matrix"]
