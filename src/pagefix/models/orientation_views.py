"""Views of a page for the orientation classifier, and how their answers are combined.

A view is a 224x224 crop made by a named recipe, turned by k quarter turns clockwise. The
classifier scores each view; the score of angle a is the sum over views of log p_view[(a + k) mod 4]
(a view of the page turned by k more quarter turns sees the content turned a + 90k). The
`reference` set is the reference's single view: short side 256 (bilinear), centre crop 224.

A view set may first score a cheap stage of views and stop there when they agree (a cascade). The
centre crop in its four turns needs no large resize and a quarter of the model's crops, and four
copies of one crop that each read the same turn, confidently, are a self-check that the larger
vote does not overturn (measured: bench/orientation_views.py --cascade, docs/orientation.md).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from ..errors import ConfigError
from ..geometry.shrink import ShrinkablePage, shrinkable

__all__ = [
    "DEFAULT_CASCADE_STOP",
    "VIEW_SETS",
    "ViewSet",
    "combine_views",
    "in_page_turns",
    "make_crops",
    "remaining_views",
    "resolve_view_set",
    "shared_views",
    "unanimous_angle",
    "view_agreement",
]

CROP = 224
_MAX_RESIZED_SIDE = 4096
_WHITE = (255, 255, 255)


def centre_crop(image: np.ndarray | ShrinkablePage, short_side: int = 256,
                interpolation: int = cv2.INTER_LINEAR) -> list[np.ndarray]:
    """The reference's view: short side to 256 (Python round, bilinear), centre crop 224, from the
    full page as the reference makes it (bilinear reads only the pixels it samples)."""
    if isinstance(image, ShrinkablePage):
        image = image.image
    height, width = image.shape[:2]
    scale = short_side / min(height, width)
    new_w, new_h = round(width * scale), round(height * scale)
    if max(new_w, new_h) > _MAX_RESIZED_SIDE:
        # Extreme aspect ratio: cut the source region that becomes the crop, then resize only it.
        src_w, src_h = min(width, round(CROP / scale)), min(height, round(CROP / scale))
        x0, y0 = (width - src_w) // 2, (height - src_h) // 2
        return [cv2.resize(image[y0:y0 + src_h, x0:x0 + src_w], (CROP, CROP), interpolation=interpolation)]
    if (new_w, new_h) != (width, height):
        image = cv2.resize(image, (new_w, new_h), interpolation=interpolation)
    x0, y0 = max(0, (new_w - CROP) // 2), max(0, (new_h - CROP) // 2)
    return [image[y0:y0 + CROP, x0:x0 + CROP]]


def long_side_crops(image: np.ndarray | ShrinkablePage, short_side: int, count: int = 3) -> list[np.ndarray]:
    """`count` crops centred on the short axis, spread along the long axis (centres at
    1/(count+1), 2/(count+1), ...), after resizing the short side to `short_side`."""
    page = shrinkable(image)
    height, width = page.shape[:2]
    scale = short_side / min(height, width)
    new_w = max(CROP, min(round(width * scale), _MAX_RESIZED_SIDE))
    new_h = max(CROP, min(round(height * scale), _MAX_RESIZED_SIDE))
    resized = page.shrunk((new_w, new_h))
    crops = []
    for i in range(count):
        fraction = (i + 1) / (count + 1)
        if new_h >= new_w:
            y0 = int(np.clip(round(new_h * fraction - CROP / 2), 0, new_h - CROP))
            x0 = (new_w - CROP) // 2
        else:
            x0 = int(np.clip(round(new_w * fraction - CROP / 2), 0, new_w - CROP))
            y0 = (new_h - CROP) // 2
        crops.append(resized[y0:y0 + CROP, x0:x0 + CROP])
    return crops


def letterbox(image: np.ndarray | ShrinkablePage, fit: float = CROP, side: int = CROP) -> list[np.ndarray]:
    """The whole page shrunk so its long side is `fit` pixels, centred on a white `side`-square
    (as a view: 224 on 224; training draws a slightly smaller page on a larger square)."""
    page = shrinkable(image)
    height, width = page.shape[:2]
    scale = fit / max(height, width)
    new_w, new_h = max(1, round(width * scale)), max(1, round(height * scale))
    small = page.shrunk((new_w, new_h))
    canvas = np.full((side, side, 3), _WHITE, dtype=np.uint8)
    y0, x0 = (side - new_h) // 2, (side - new_w) // 2
    canvas[y0:y0 + new_h, x0:x0 + new_w] = small
    return [canvas]


#: The short side each recipe resizes a page to (the letterbox fits the long side to one crop).
RECIPE_SHORT_SIDES = {"centre256": 256, "letterbox": CROP, "long3_384": 384, "long3_512": 512, "long3_640": 640}

#: Crop recipes by name: each takes a page, as an array or with its working copy (the letterbox and
#: the long-side crops are shrunk from that copy, geometry/shrink.py).
RECIPES: dict[str, Callable[[np.ndarray | ShrinkablePage], list[np.ndarray]]] = {
    "centre256": centre_crop,
    "letterbox": letterbox,
    "long3_384": lambda image: long_side_crops(image, 384),
    "long3_512": lambda image: long_side_crops(image, 512),
    "long3_640": lambda image: long_side_crops(image, 640),
}


@dataclass(frozen=True)
class ViewSet:
    """Which recipes to run, each at which quarter turns; optionally gated on the first view."""

    name: str
    views: tuple[tuple[str, tuple[int, ...]], ...]
    #: Run the views after the first only when the first view's top probability is below this.
    gate: float | None = None
    #: A cascade's cheap first stage (None: none). The page is decided by these views alone when
    #: each of them gives the same turn a probability of at least `stop`; otherwise the rest of
    #: `views` is scored and `views` vote, as without the first stage.
    first: tuple[tuple[str, tuple[int, ...]], ...] | None = None
    #: None: the classifier's own value (`ModelSpec.cascade_stop`), else `DEFAULT_CASCADE_STOP`.
    stop: float | None = None

    @property
    def is_reference(self) -> bool:
        return self.views == (("centre256", (0,)),)

    @property
    def min_short_side(self) -> int:
        """The short side a page needs for every view to be made by shrinking it, never enlarging."""
        return max(RECIPE_SHORT_SIDES[recipe] for recipe, _ in self.views)


_VOTING_VIEWS = (("centre256", (0,)), ("letterbox", (0, 1, 2, 3)), ("long3_512", (0, 1, 2, 3)))
#: The cascade's first stage: the reference's crop in four turns (its turn 0 is a voting view).
_CENTRE_TURNS = (("centre256", (0, 1, 2, 3)),)
#: Stop probability of a cascade for a model without its own (`ModelSpec.cascade_stop`): no page of
#: the development sets is decided differently at it than by the full vote, with either shipped
#: model (bench/orientation_views.py --cascade).
DEFAULT_CASCADE_STOP = 0.9

#: The view sets, measured with bench/orientation_views.py on scans and unwarped photos in four
#: turns (docs/orientation.md has the figures); "fast" stops most scans after the reference view.
VIEW_SETS: dict[str, ViewSet] = {
    "reference": ViewSet("reference", (("centre256", (0,)),)),
    # The reference's view, the whole page letterboxed in four turns (scripts whose lines confuse
    # a centre crop), and three crops at short side 512 in four turns (photos, receipts).
    "default": ViewSet("default", _VOTING_VIEWS, first=_CENTRE_TURNS),
    # The 17 views on every page, without the cascade (what "default" decides when it does not stop).
    "full": ViewSet("full", _VOTING_VIEWS),
    "fast": ViewSet("fast", _VOTING_VIEWS, gate=0.9),
}


def resolve_view_set(views: str | ViewSet | None) -> ViewSet:
    if isinstance(views, ViewSet):
        return views
    name = views or "default"
    try:
        return VIEW_SETS[name]
    except KeyError:
        raise ConfigError(f"unknown orientation_views {name!r}; known: {', '.join(sorted(VIEW_SETS))}") from None


def make_crops(image: np.ndarray | ShrinkablePage, views: Sequence[tuple[str, tuple[int, ...]]],
               made: dict[str, list[np.ndarray]] | None = None) -> tuple[list[np.ndarray], list[int]]:
    """All crops of `image` for `views`, turned, with the quarter turn k of each. `made`: the
    unturned crops of each recipe already made from `image` (filled in), so that one recipe
    asked for in several calls resizes the page once. Pass a `ShrinkablePage` to share its
    working copy between calls."""
    made = {} if made is None else made
    crops, turns = [], []
    for recipe, ks in views:
        if recipe not in made:
            made[recipe] = RECIPES[recipe](image)
        base = made[recipe]
        for k in ks:
            for crop in base:
                # k quarter turns clockwise (np.rot90 turns counter-clockwise for positive k).
                crops.append(np.rot90(crop, -k) if k % 4 else crop)
                turns.append(k % 4)
    return crops, turns


def combine_views(probabilities: np.ndarray, turns: Sequence[int]) -> np.ndarray:
    """Per-angle log-score of one page from its views' probabilities [n_views, 4]."""
    logs = np.log(np.clip(probabilities, 1e-6, 1.0))
    score = np.zeros(probabilities.shape[1], dtype=np.float64)
    for row, k in zip(logs, turns):
        score += np.roll(row, -k)  # element a of the rolled row is row[(a + k) mod n]
    return score


def in_page_turns(probabilities: np.ndarray, turns: Sequence[int]) -> np.ndarray:
    """Each view's probabilities [n_views, n] rolled into the page's own angles: element a of a
    row is what that view, taken k turns further, says of the page being turned a."""
    if not len(turns):
        return np.zeros((0, probabilities.shape[1]))
    return np.stack([np.roll(row, -k) for row, k in zip(probabilities, turns)])


def view_agreement(probabilities: np.ndarray, turns: Sequence[int]) -> np.ndarray:
    """Per angle, the mean probability the views give it (each view's own label for that angle):
    a confidence in [0, 1] that, unlike the product of the votes, does not saturate."""
    if not len(turns):
        return np.zeros(probabilities.shape[1])
    return in_page_turns(probabilities, turns).mean(axis=0)


def remaining_views(views: Sequence[tuple[str, tuple[int, ...]]],
                    done: Sequence[tuple[str, tuple[int, ...]]]) -> tuple[tuple[str, tuple[int, ...]], ...]:
    """The views of `views` not already in `done` (same recipe and turn)."""
    scored = {(recipe, k % 4) for recipe, ks in done for k in ks}
    rest = ((recipe, tuple(k for k in ks if (recipe, k % 4) not in scored)) for recipe, ks in views)
    return tuple((recipe, ks) for recipe, ks in rest if ks)


def shared_views(views: Sequence[tuple[str, tuple[int, ...]]],
                 others: Sequence[tuple[str, tuple[int, ...]]]) -> tuple[tuple[str, tuple[int, ...]], ...]:
    """The views of `views` that are also in `others`."""
    wanted = {(recipe, k % 4) for recipe, ks in others for k in ks}
    kept = ((recipe, tuple(k for k in ks if (recipe, k % 4) in wanted)) for recipe, ks in views)
    return tuple((recipe, ks) for recipe, ks in kept if ks)


def unanimous_angle(probabilities: np.ndarray, turns: Sequence[int]) -> tuple[int | None, float]:
    """The label index every view gives its highest probability (each in its own turn) and the
    lowest probability any view gives it; (None, 0.0) when the views disagree."""
    if not len(turns):
        return None, 0.0
    rolled = in_page_turns(probabilities, turns)
    tops = rolled.argmax(axis=1)
    if not (tops == tops[0]).all():
        return None, 0.0
    return int(tops[0]), float(rolled[:, tops[0]].min())
