"""Unwarping quality over pairs of photo and flat original: MS-SSIM, local distortion and, with
tesseract, CER/edit distance, each for the untouched photo (the baseline) and for the pipeline's
output, so every number has the figure it should beat.

Manifest (CSV, header row; paths relative to the manifest's folder), as Inv3DReal's:
`distorted` (the photo), `ground_truth` (the flat original), optional `words_json` (word boxes with
`text`, in reading order) and optional `warp_type` (reports break results down by it).
"""

from __future__ import annotations

import csv
import json
import math
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, cast

import numpy as np

from ..errors import InputError, PagefixError
from ..inputs import Page, iter_pages
from ..limits import Limits
from ..pipeline.preprocessor import DocPreprocessor
from ..pipeline.result import PageResult
from .metrics import character_error_rate, local_distortion, ms_ssim, prepare_pair
from .ocr import ocr_text
from .tables import format_table

__all__ = ["PairScore", "Scores", "UnwarpPair", "UnwarpingReport", "evaluate_unwarping", "read_manifest"]

METRICS = ("ms_ssim", "ld", "cer", "ed")
_BETTER_HIGHER = {"ms_ssim": True, "ld": False, "cer": False, "ed": False}


@dataclass(frozen=True)
class UnwarpPair:
    name: str
    distorted: Path
    original: Path
    words: Path | None = None
    group: str = ""


def read_manifest(path: str | Path) -> list[UnwarpPair]:
    manifest = Path(path).expanduser()
    try:
        with open(manifest, newline="", encoding="utf-8") as handle:
            rows = list(csv.DictReader(handle))
    except OSError as exc:
        raise InputError(f"cannot read manifest {manifest}: {exc.strerror or exc}") from exc
    if not rows or not {"distorted", "ground_truth"} <= set(rows[0]):
        raise InputError(f"{manifest} needs a header with 'distorted' and 'ground_truth' columns")
    for line, row in enumerate(rows, start=2):
        # An empty cell would name the manifest's own folder, whose first image would silently
        # stand in for every flat original (a manifest of photos without originals, say).
        empty = [column for column in ("distorted", "ground_truth") if not (row[column] or "").strip()]
        if empty:
            raise InputError(f"{manifest}, line {line}: {' and '.join(repr(c) for c in empty)} is empty; "
                             "every photo needs its file and the file of its flat original")
    root = manifest.parent
    return [
        UnwarpPair(
            name=row["distorted"],
            distorted=root / row["distorted"],
            original=root / row["ground_truth"],
            words=root / row["words_json"] if row.get("words_json") else None,
            group=row.get("warp_type") or "",
        )
        for row in rows
    ]


@dataclass
class Scores:
    ms_ssim: float
    ld: float
    cer: float | None = None
    ed: int | None = None


@dataclass
class PairScore:
    name: str
    group: str
    before: Scores | None = None  # the photo as it is
    after: Scores | None = None  # the pipeline's output
    error: str | None = None


def _mean(values: Sequence[float | None]) -> float | None:
    kept = [v for v in values if v is not None]
    return float(np.mean(kept)) if kept else None


@dataclass
class UnwarpingReport:
    pairs: list[PairScore]
    ocr_reference: str | None  # "flat" or "words" when CER was measured, else None
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def scored(self) -> list[PairScore]:
        return [p for p in self.pairs if p.error is None]

    def summary(self, pairs: Sequence[PairScore] | None = None) -> dict[str, dict[str, float | None]]:
        pairs = self.scored if pairs is None else pairs
        return {
            metric: {
                "photo": _mean([getattr(p.before, metric) for p in pairs]),
                "unwarped": _mean([getattr(p.after, metric) for p in pairs]),
            }
            for metric in METRICS
        }

    def per_group(self) -> dict[str, dict[str, dict[str, float | None]]]:
        groups: dict[str, list[PairScore]] = defaultdict(list)
        for pair in self.scored:
            groups[pair.group].append(pair)
        return {group: self.summary(pairs) for group, pairs in sorted(groups.items())}

    def to_dict(self) -> dict[str, Any]:
        return {
            "pages": len(self.pairs),
            "scored": len(self.scored),
            "ocr_reference": self.ocr_reference,
            "settings": self.settings,
            "summary": self.summary(),
            "per_group": self.per_group(),
            "pairs": [asdict(p) for p in self.pairs],
        }

    def format(self, worst: int = 10) -> str:
        metrics = [m for m in METRICS if self.summary()[m]["photo"] is not None]
        lines = [f"{len(self.scored)} of {len(self.pairs)} photos scored"
                 + (f"; CER against the OCR of the {'flat original' if self.ocr_reference == 'flat' else 'ground-truth words'}"
                    if self.ocr_reference else "; no CER (tesseract not installed or --ocr_reference none)"), ""]
        summary = self.summary()
        lines.append(format_table(
            ("metric", "photo (baseline)", "unwarped", "change", "better"),
            [(_label(m), _fmt(summary[m]["photo"]), _fmt(summary[m]["unwarped"]),
              _fmt_change(summary[m]["photo"], summary[m]["unwarped"]), "higher" if _BETTER_HIGHER[m] else "lower")
             for m in metrics],
        ))
        groups = self.per_group()
        if len(groups) > 1:
            lines += ["", "per group (photo -> unwarped)"]
            lines.append(format_table(
                ("group", "pages", *(_label(m) for m in metrics)),
                [(g or "(none)", sum(1 for p in self.scored if p.group == g),
                  *(f"{_fmt(s[m]['photo'])} -> {_fmt(s[m]['unwarped'])}" for m in metrics))
                 for g, s in groups.items()],
            ))
        compared = [(p.name, p.before, p.after) for p in self.scored if p.before is not None and p.after is not None]
        ranked = sorted(compared, key=lambda c: (c[2].ms_ssim - c[1].ms_ssim, c[0]))[:worst]
        if ranked:
            lines += ["", "pages unwarping helped least (MS-SSIM change)"]
            lines.append(format_table(
                ("photo", "MS-SSIM photo", "MS-SSIM unwarped", "LD photo", "LD unwarped"),
                [(name, _fmt(before.ms_ssim), _fmt(after.ms_ssim), _fmt(before.ld), _fmt(after.ld))
                 for name, before, after in ranked],
            ))
        failed = [p for p in self.pairs if p.error]
        if failed:
            lines += ["", f"{len(failed)} photo(s) could not be scored:"] + [f"  {p.name}: {p.error}" for p in failed]
        return "\n".join(lines)


def _label(metric: str) -> str:
    return {"ms_ssim": "MS-SSIM", "ld": "LD", "cer": "CER", "ed": "ED"}[metric]


def _fmt(value: float | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value:.4f}" if abs(value) < 10 else f"{value:.2f}"


def _fmt_change(before: float | None, after: float | None) -> str:
    if before is None or after is None:
        return "n/a"
    return f"{after - before:+.4f}" if abs(after - before) < 10 else f"{after - before:+.2f}"


def first_page(path: Path, limits: Limits) -> np.ndarray:
    """The first page of a file, or its error raised."""
    for item in iter_pages(path, limits):
        if isinstance(item, Page):
            return item.image
        raise item.error
    raise InputError(f"{path} holds no page")


def _words_text(path: Path) -> str:
    try:
        words = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"cannot read ground-truth words {path}: {exc}") from exc
    return " ".join(str(w.get("text", "")) for w in words if isinstance(w, dict))


class _References:
    """Flat originals and their reference text, each read once (many photos share an original)."""

    def __init__(self, limits: Limits, ocr_reference: str | None, language: str) -> None:
        self.limits, self.ocr_reference, self.language = limits, ocr_reference, language
        self.images: dict[Path, np.ndarray] = {}
        self.texts: dict[Path, str] = {}

    def image(self, path: Path) -> np.ndarray:
        if path not in self.images:
            self.images[path] = first_page(path, self.limits)
        return self.images[path]

    def text(self, pair: UnwarpPair) -> str | None:
        if self.ocr_reference is None:
            return None
        key = pair.words if self.ocr_reference == "words" else pair.original
        if key is None:
            raise InputError(f"{pair.name}: the manifest gives no words_json for --ocr_reference words")
        if key not in self.texts:
            self.texts[key] = _words_text(key) if self.ocr_reference == "words" else ocr_text(self.image(key), self.language)
        return self.texts[key]


def _score(image: np.ndarray, original: np.ndarray, reference_text: str | None, language: str) -> Scores:
    x, y = prepare_pair(image, original)
    scores = Scores(ms_ssim(x, y), local_distortion(x, y))
    if reference_text is not None:
        scores.cer, scores.ed = character_error_rate(ocr_text(image, language), reference_text)
    return scores


def evaluate_unwarping(
    pairs: Sequence[UnwarpPair], pipeline: DocPreprocessor, ocr_reference: str | None = "flat",
    language: str = "eng", workers: int = 2, progress: Callable[[int], None] | None = None,
) -> UnwarpingReport:
    """Run every photo through `pipeline` and score photo and output against the flat original.

    `ocr_reference`: "flat" (OCR of the flat original, as the DocUNet papers), "words" (the
    manifest's word ground truth) or None (no CER). The pipeline runs in this thread; scoring and
    OCR of finished pages run on `workers` threads meanwhile.
    """
    references = _References(pipeline.limits, ocr_reference, language)
    results: list[PairScore] = []
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        pending: list[tuple[PairScore, Future[tuple[Scores, Scores]]]] = []
        for pair, outcome in zip(pairs, _run_pipeline(pairs, pipeline)):
            record = PairScore(pair.name, pair.group)
            results.append(record)
            if isinstance(outcome, PagefixError):
                record.error = str(outcome)
                if progress:
                    progress(1)
                continue
            photo, output = outcome
            try:
                original, text = references.image(pair.original), references.text(pair)
            except PagefixError as exc:
                record.error = str(exc)
                continue
            job = pool.submit(_score_both, photo, output, original, text, language)
            pending.append((record, job))
            while len(pending) > 2 * max(1, workers):
                _collect(pending.pop(0), progress)
        for item in pending:
            _collect(item, progress)
    settings = {"use_doc_orientation_classify": pipeline.config.use_doc_orientation_classify,
                "use_doc_unwarping": pipeline.config.use_doc_unwarping}
    return UnwarpingReport(results, ocr_reference, settings)


def _score_both(photo: np.ndarray, output: np.ndarray, original: np.ndarray, text: str | None,
                language: str) -> tuple[Scores, Scores]:
    return _score(photo, original, text, language), _score(output, original, text, language)


def _run_pipeline(pairs: Sequence[UnwarpPair], pipeline: DocPreprocessor) -> Iterator[tuple[np.ndarray, np.ndarray] | PagefixError]:
    for pair in pairs:
        try:
            item = next(iter(pipeline.predict_iter(str(pair.distorted), errors="raise")))
        except PagefixError as exc:
            yield exc
            continue
        result = cast(PageResult, item)  # errors="raise" yields results only
        yield result.input_img, result.output_img


def _collect(item: tuple[PairScore, Future[tuple[Scores, Scores]]], progress: Callable[[int], None] | None) -> None:
    record, job = item
    try:
        record.before, record.after = job.result()
    except PagefixError as exc:
        record.error = str(exc)
    if progress:
        progress(1)
