"""Orientation models side by side, group by group: every page of each folder in four turns, each
model with the reference's single view and with pagefix's default views, the pages read once.

    python bench/orientation_models.py eval_pages/ ../shared/data/orientation/upright \\
        --model shipped=PP-LCNet_x1_0_doc_ori --model v1=pagefix_doc_ori_v1 --json figures.json

A model is a name from the model table or a model directory. Groups are the folders' sub-folders
(or file-name prefixes before '__'). The last column says whether the last model is at least as
good as the first one with both view sets. Nothing here is imported by pagefix.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from pagefix import DocPreprocessor
from pagefix.evaluation.datasets import open_orientation_source
from pagefix.evaluation.orientation import ClassifierScorer, Scorer, compare_orientation

VIEWS = ("reference", "default")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data", nargs="*", help="folders of upright pages")
    parser.add_argument("--model", action="append", default=[], metavar="LABEL=NAME_OR_DIR")
    parser.add_argument("--json", metavar="FILE", help="also write the figures as JSON")
    parser.add_argument("--merge", nargs="+", metavar="JSON",
                        help="print one table from the JSON of earlier runs (e.g. one per model) instead")
    parser.add_argument("--threads", type=int, default=min(2, os.cpu_count() or 1))
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
    for item in args.model:
        label, _, model = item.partition("=")
        where = {"doc_orientation_classify_model_dir": model} if Path(model).is_dir() else {
            "doc_orientation_classify_model_name": model}
        pipeline = DocPreprocessor(device="cpu", cpu_threads=args.threads, use_doc_unwarping=False, **where)
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
    return 0


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
