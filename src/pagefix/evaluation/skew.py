"""`pagefix eval skew`: how well the fine-skew estimate finds known angles.

Each upright page is turned by known small angles (seeded, both ways) as a crooked scan would be:
the whole page on a canvas grown to hold it, the corners the paper's own colour. The estimate on
the turned page is compared with the turn plus the estimate on the page as published (no page is
perfectly straight, and that part is not the estimator's error). A labelled manifest (.csv with
`image` and `skew_angle` columns, paths relative to it) is scored as it is.
"""

from __future__ import annotations

import csv
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from ..errors import InputError
from ..geometry.rotate import deskew_matrix, paper_colour
from ..geometry.skew import SkewEstimate, estimate_skew
from ..inputs.sources import IMAGE_SUFFIXES
from ..limits import Limits
from .unwarping import first_page

__all__ = ["SkewCase", "SkewReport", "evaluate_skew", "skew_cases", "turn_like_a_scan"]

#: An estimator: a page (BGR uint8) to its skew in degrees (counter-clockwise), None when unsure.
Estimator = Callable[[np.ndarray], "float | None"]


@dataclass(frozen=True)
class SkewCase:
    name: str
    image: np.ndarray
    #: The skew the estimate should find (degrees, counter-clockwise).
    truth: float


@dataclass
class SkewReport:
    errors: list[float] = field(default_factory=list)
    #: Pages the estimator declined (no angle).
    declined: list[str] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    worst: list[tuple[float, str, float, float]] = field(default_factory=list)

    @property
    def cases(self) -> int:
        return len(self.errors) + len(self.declined)

    def summary(self) -> dict[str, Any]:
        errors = np.asarray(self.errors) if self.errors else np.asarray([math.nan])
        return {
            "cases": self.cases,
            "declined": len(self.declined),
            "median_error_deg": round(float(np.median(errors)), 3),
            "p95_error_deg": round(float(np.percentile(errors, 95)), 3),
            "max_error_deg": round(float(np.max(errors)), 3),
            "over_1_deg": int(np.sum(errors > 1.0)),
            "ms_per_page": round(1000 * float(np.median(self.seconds)), 1) if self.seconds else None,
        }

    def format(self, worst: int = 10) -> str:
        s = self.summary()
        lines = [
            f"pages scored: {s['cases']} ({s['declined']} declined: no angle given)",
            f"error (degrees): median {s['median_error_deg']}, 95th percentile {s['p95_error_deg']}, "
            f"max {s['max_error_deg']}, over 1 degree: {s['over_1_deg']}",
            f"time: {s['ms_per_page']} ms a page (median, one thread)",
        ]
        if worst and self.worst:
            lines.append("worst pages (error, page, truth, found):")
            for error, name, truth, found in sorted(self.worst, reverse=True)[:worst]:
                lines.append(f"  {error:6.3f}  {name}  {truth:+.2f}  {found:+.2f}")
        return "\n".join(lines)


def turn_like_a_scan(image: np.ndarray, angle: float) -> np.ndarray:
    """`image` turned `angle` degrees counter-clockwise on a canvas that holds all of it, the new
    corners in the page's paper colour (a crooked page on a scanner)."""
    matrix, (h, w) = deskew_matrix(image.shape[:2], -angle)
    return cv2.warpAffine(image, matrix, (w, h), flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_CONSTANT,
                          borderValue=paper_colour(image))


def skew_cases(source: str | Path, turns_per_page: int = 2, max_angle: float = 7.0, seed: int = 0,
               estimator: Estimator | None = None, limit: int | None = None) -> Iterator[SkewCase]:
    """The cases of a folder of upright pages (each turned `turns_per_page` times by angles drawn
    within +-`max_angle`; the estimate on the page as published is added to the truth) or of a
    labelled manifest."""
    path = Path(source)
    if path.suffix.lower() == ".csv":
        yield from _manifest_cases(path, limit)
        return
    if not path.is_dir():
        raise InputError(f"{source} is neither a folder of upright pages nor a .csv manifest")
    estimator = estimator or _pagefix_estimator
    rng = np.random.default_rng(seed)
    files = sorted(p for p in path.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)[:limit]
    if not files:
        raise InputError(f"no images in {source}")
    for file in files:
        page = first_page(file, Limits())
        base = estimator(page)
        angles = rng.uniform(-max_angle, max_angle, size=turns_per_page)
        if base is None:  # the page as published gives no angle: nothing to measure against
            continue
        for angle in angles:
            yield SkewCase(f"{file.relative_to(path)}@{angle:+.2f}", turn_like_a_scan(page, float(angle)),
                           float(angle) + base)


def _manifest_cases(manifest: Path, limit: int | None) -> Iterator[SkewCase]:
    with manifest.open(newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    if rows and not {"image", "skew_angle"} <= set(rows[0]):
        raise InputError(f"{manifest} needs 'image' and 'skew_angle' columns")
    for row in rows[:limit]:
        page = first_page(manifest.parent / row["image"], Limits())
        yield SkewCase(row["image"], page, float(row["skew_angle"]))


def _pagefix_estimator(image: np.ndarray) -> float | None:
    return estimate_skew(image).angle


def evaluate_skew(cases: Iterator[SkewCase], estimate: Callable[[np.ndarray], SkewEstimate] = estimate_skew,
                  progress: Callable[[int], Any] | None = None) -> SkewReport:
    """Score the estimator on each case (timed on the page alone, decode and turn excluded)."""
    report = SkewReport()
    for case in cases:
        start = time.perf_counter()
        found = estimate(case.image)
        report.seconds.append(time.perf_counter() - start)
        if found.angle is None:
            report.declined.append(case.name)
        else:
            error = abs(found.angle - case.truth)
            report.errors.append(error)
            report.worst.append((error, case.name, case.truth, found.angle))
        if progress:
            progress(1)
    return report
