"""Orientation models side by side, group by group: every page of each folder in four turns, each
model with the reference's single view and with pagefix's default views, the pages read once.

    python bench/orientation_models.py eval_pages/ ../shared/data/orientation/upright \\
        --model shipped=PP-LCNet_x1_0_doc_ori --model v1=pagefix_doc_ori_v1 --json figures.json

A model is a name from the model table or a model directory. Groups are the folders' sub-folders
(or file-name prefixes before '__'). The last column says whether the last model is at least as
good as the first one with both view sets. Nothing here is imported by pagefix.

With --speed N it also times `predict_angles` (default views, decode included) on the folders'
pages as they are, each model in turn, N interleaved repeats: models of one graph differ in speed
only by how often the views' cascade stops after its first stage.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

from pagefix import DocPreprocessor
from pagefix.evaluation.datasets import open_orientation_source
from pagefix.evaluation.orientation import ClassifierScorer, Scorer, compare_orientation
from pagefix.inputs import iter_pages, list_directory

VIEWS = ("reference", "default")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data", nargs="*", help="folders of upright pages")
    parser.add_argument("--model", action="append", default=[], metavar="LABEL=NAME_OR_DIR")
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    parser.add_argument("--merge", nargs="+", metavar="JSON",
                        help="print one table from the JSON of earlier runs (e.g. one per model) instead")
    parser.add_argument("--threads", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--speed", type=int, default=0, metavar="N",
                        help="also time predict_angles on the pages, N interleaved repeats")
    args = parser.parse_args()
    if args.merge:
        merged: dict[str, dict[str, list[int]]] = {}
        for path in args.merge:
            for group, row in json.loads(Path(path).read_text(encoding="utf-8")).items():
                merged.setdefault(group, {}).update(row)
        _print(merged, list(dict.fromkeys(label for row in merged.values() for label in row)))
        return 0
    if not args.data or not args.model:
        parser.error("give folders and at least one --model (or --merge)")
    scorers: dict[str, Scorer] = {}
    pipelines: dict[str, DocPreprocessor] = {}
    for item in args.model:
        label, _, model = item.partition("=")
        where = {"doc_orientation_classify_model_dir": model} if Path(model).is_dir() else {
            "doc_orientation_classify_model_name": model}
        pipeline = pipelines[label] = DocPreprocessor(device="cpu", cpu_threads=args.threads,
                                                      use_doc_unwarping=False, **where)
        for views in VIEWS:
            scorers[f"{label}/{views}"] = ClassifierScorer(pipeline.orientation_classifier, views)
    figures: dict[str, dict[str, list[int]]] = {}
    for folder in args.data:
        reports = compare_orientation(open_orientation_source(folder), scorers, batch_size=8)
        name = Path(folder).name
        for label, report in reports.items():
            for group, (correct, total) in report.per_group.items():
                figures.setdefault(f"{name}/{group}" if group else name, {})[label] = [correct, total]
            figures.setdefault(f"{name} (all)", {})[label] = [report.correct, report.total]
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=1), encoding="utf-8")
    _print(figures, list(scorers))
    if args.speed:
        _print_speed(pipelines, [str(path) for folder in args.data for path in _pages(Path(folder))], args.speed)
    return 0


def _pages(folder: Path) -> list[Path]:
    """The folder's pages, its sub-folders' too (the groups)."""
    return list_directory(folder) + [p for sub in sorted(folder.iterdir()) if sub.is_dir() for p in _pages(sub)]


def _print_speed(pipelines: dict[str, DocPreprocessor], pages: list[str], repeat: int) -> None:
    times: dict[str, list[float]] = {label: [] for label in pipelines}
    stopped: dict[str, float] = {}
    images = [page.image for path in pages for page in iter_pages(path)]
    for label, pipeline in pipelines.items():  # a warm-up each, and how often the cascade stops
        pipeline.predict_angles(pages)
        found = [pipeline.orientation_classifier.predict([image], pipeline.view_set)[0] for image in images]
        stopped[label] = sum(angle.views < 17 for angle in found) / len(found)
    for _ in range(repeat):
        for label, pipeline in pipelines.items():
            start = time.perf_counter()
            pipeline.predict_angles(pages)
            times[label].append(time.perf_counter() - start)
    print(f"\npredict_angles on {len(pages)} pages as they are, default views, median of {repeat} interleaved repeats")
    print("model".ljust(20) + "s".rjust(10) + "pages/s".rjust(10) + "  decided after the first stage")
    for label, spent in times.items():
        median = statistics.median(spent)
        print(label.ljust(20) + f"{median:10.2f}{len(pages) / median:10.1f}  {100 * stopped[label]:.0f}%")


def _print(figures: dict[str, dict[str, list[int]]], labels: list[str]) -> None:
    first, last = labels[:2], labels[-2:]
    print("group".ljust(34) + "".join(label.rjust(20) for label in labels) + "  not worse")
    for group, row in figures.items():
        cells = "".join(f"{100 * row[label][0] / row[label][1]:7.2f}% ({row[label][0]:3d}/{row[label][1]:3d})".rjust(20)
                        for label in labels)
        ok = all(row[b][0] >= row[a][0] for a, b in zip(first, last))
        print(group.ljust(34) + cells + ("  yes" if ok else "  NO"))


if __name__ == "__main__":
    sys.exit(main())
