"""Orientation accuracy: score labelled pages and summarise them like a classification benchmark
(top-1, per-class accuracy, confusion matrix, the worst pages, accuracy per group).

Three parts that can be swapped independently:
- a source yields `LabelledPage`s (see `datasets.py`: reference-format lists, upright folders);
- a scorer turns batches of them into `Prediction`s. `ClassifierScorer` runs the pipeline's own
  `OrientationClassifier`; a scorer for photos that go through the whole pipeline and are judged
  against their flat original only has to produce the same `Prediction` records;
- `OrientationReport.from_predictions` aggregates, whatever produced the predictions.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol, TypeGuard

from ..inputs import PageFailure
from ..models import OrientationClassifier
from ..models.orientation_views import ViewSet
from .datasets import ANGLES, LabelledPage
from .tables import format_table

__all__ = [
    "ClassifierScorer",
    "OrientationReport",
    "Prediction",
    "Scorer",
    "compare_orientation",
    "evaluate_orientation",
    "format_comparison",
]


@dataclass(frozen=True)
class Prediction:
    name: str
    group: str
    true_angle: int
    predicted_angle: int
    score: float  # probability of the predicted angle
    true_score: float  # probability the model gave the true angle

    @property
    def correct(self) -> bool:
        return self.true_angle == self.predicted_angle


class Scorer(Protocol):
    def __call__(self, pages: Sequence[LabelledPage]) -> list[Prediction]: ...


class ClassifierScorer:
    """Scores pages with the pipeline's orientation classifier, one model call per batch."""

    def __init__(self, classifier: OrientationClassifier, views: str | ViewSet = "reference") -> None:
        self.classifier = classifier
        self.views = views

    def __call__(self, pages: Sequence[LabelledPage]) -> list[Prediction]:
        found = self.classifier.predict([page.image for page in pages], self.views)
        labels = self.classifier.labels
        return [
            Prediction(page.name, page.group, page.angle, o.angle, o.score,
                       o.probabilities[labels.index(page.angle)] if page.angle in labels else 0.0)
            for page, o in zip(pages, found)
        ]


@dataclass
class OrientationReport:
    total: int
    correct: int
    labels: tuple[int, ...]
    per_class: dict[int, tuple[int, int]]  # true angle -> (correct, total)
    confusion: dict[int, dict[int, int]]  # true angle -> predicted angle -> count
    per_group: dict[str, tuple[int, int]]
    worst: list[Prediction]
    failures: list[tuple[str, str]] = field(default_factory=list)  # (name, error)

    @property
    def accuracy(self) -> float:
        return self.correct / self.total if self.total else 0.0

    @classmethod
    def from_predictions(
        cls, predictions: Iterable[Prediction], labels: Sequence[int] = ANGLES, worst: int = 10,
        failures: Sequence[tuple[str, str]] = (),
    ) -> OrientationReport:
        predictions = list(predictions)
        labels = tuple(labels)
        confusion = {t: {p: 0 for p in labels} for t in labels}
        per_class: dict[int, list[int]] = {t: [0, 0] for t in labels}
        per_group: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        for p in predictions:
            row = confusion.setdefault(p.true_angle, {})
            row[p.predicted_angle] = row.get(p.predicted_angle, 0) + 1
            per_class.setdefault(p.true_angle, [0, 0])
            per_class[p.true_angle][0] += p.correct
            per_class[p.true_angle][1] += 1
            per_group[p.group][0] += p.correct
            per_group[p.group][1] += 1
        ranked = sorted(predictions, key=lambda p: (p.true_score, p.name))
        return cls(
            total=len(predictions),
            correct=sum(p.correct for p in predictions),
            labels=labels,
            per_class={k: (v[0], v[1]) for k, v in per_class.items()},
            confusion={k: dict(v) for k, v in confusion.items()},
            per_group={k: (v[0], v[1]) for k, v in sorted(per_group.items())},
            worst=[p for p in ranked[:worst] if not p.correct or p.true_score < 0.5],
            failures=list(failures),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "correct": self.correct,
            "accuracy": round(self.accuracy, 6),
            "per_class": {str(k): {"correct": c, "total": n, "accuracy": round(c / n, 6) if n else None}
                          for k, (c, n) in self.per_class.items()},
            "confusion": {"rows": "true angle", "columns": "predicted angle",
                          "matrix": {str(t): {str(p): n for p, n in row.items()} for t, row in self.confusion.items()}},
            "per_group": {k: {"correct": c, "total": n, "accuracy": round(c / n, 6) if n else None}
                          for k, (c, n) in self.per_group.items()},
            "worst": [asdict(p) | {"correct": p.correct} for p in self.worst],
            "failures": [{"name": n, "error": e} for n, e in self.failures],
        }

    def format(self) -> str:
        lines = [f"top-1 accuracy: {_pct(self.correct, self.total)} ({self.correct}/{self.total} pages)", ""]
        lines.append(format_table(
            ("true angle", "accuracy", "correct", "pages"),
            [(k, _pct(c, n), c, n) for k, (c, n) in self.per_class.items()],
        ))
        lines += ["", "confusion matrix (rows: true angle, columns: predicted angle)"]
        columns = sorted({p for row in self.confusion.values() for p in row} | set(self.labels))
        lines.append(format_table(
            ("true \\ pred", *columns),
            [(t, *(row.get(p, 0) for p in columns)) for t, row in self.confusion.items()],
        ))
        if len(self.per_group) > 1:
            lines += ["", "accuracy per group (sub-folder)"]
            lines.append(format_table(
                ("group", "accuracy", "correct", "pages"),
                [(g or "(top level)", _pct(c, n), c, n) for g, (c, n) in self.per_group.items()],
            ))
        if self.worst:
            lines += ["", "worst pages (lowest probability of the true angle)"]
            lines.append(format_table(
                ("page", "true", "predicted", "p(predicted)", "p(true)"),
                [(p.name, p.true_angle, p.predicted_angle, f"{p.score:.3f}", f"{p.true_score:.3f}") for p in self.worst],
            ))
        if self.failures:
            lines += ["", f"{len(self.failures)} file(s) could not be read:"]
            lines += [f"  {name}: {error}" for name, error in self.failures]
        return "\n".join(lines)


def _pct(correct: int, total: int) -> str:
    return f"{100.0 * correct / total:.2f}%" if total else "n/a"


def evaluate_orientation(
    source: Iterable[LabelledPage | PageFailure], scorer: Scorer, batch_size: int = 8,
    labels: Sequence[int] = ANGLES, worst: int = 10, progress: Callable[[int], None] | None = None,
) -> OrientationReport:
    """Score every page of `source` in batches and summarise.

    >>> evaluate_orientation(UprightFolder("pages/"), ClassifierScorer(classifier)).accuracy  # doctest: +SKIP
    0.98
    """
    return compare_orientation(source, {"": scorer}, batch_size, labels, worst, progress)[""]


def compare_orientation(
    source: Iterable[LabelledPage | PageFailure], scorers: dict[str, Scorer], batch_size: int = 8,
    labels: Sequence[int] = ANGLES, worst: int = 10, progress: Callable[[int], None] | None = None,
) -> dict[str, OrientationReport]:
    """Score the same pages with several scorers (read once), one report per scorer."""
    predictions: dict[str, list[Prediction]] = {name: [] for name in scorers}
    failures: list[tuple[str, str]] = []
    for batch in _batches(source, failures, max(1, batch_size)):
        for name, scorer in scorers.items():
            predictions[name] += scorer(batch)
        if progress is not None:
            progress(len(batch))
    return {name: OrientationReport.from_predictions(found, labels, worst, failures) for name, found in predictions.items()}


def format_comparison(reports: dict[str, OrientationReport]) -> str:
    """Accuracy per group, one column per report (e.g. the reference's view next to the default)."""
    names = list(reports)
    groups = sorted({g for report in reports.values() for g in report.per_group})
    rows = [(g or "(all pages)", *(_pct(*reports[n].per_group.get(g, (0, 0))) for n in names)) for g in groups]
    rows.append(("all", *(_pct(reports[n].correct, reports[n].total) for n in names)))
    return format_table(("group", *names), rows)


def _batches(
    source: Iterable[LabelledPage | PageFailure], failures: list[tuple[str, str]], size: int
) -> Iterator[list[LabelledPage]]:
    pages = (item for item in source if _keep(item, failures))
    while batch := list(itertools.islice(pages, size)):
        yield batch


def _keep(item: LabelledPage | PageFailure, failures: list[tuple[str, str]]) -> TypeGuard[LabelledPage]:
    if isinstance(item, PageFailure):
        failures.append((str(item.input_path), str(item.error)))
        return False
    return True
