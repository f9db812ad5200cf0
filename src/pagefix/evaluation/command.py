"""`pagefix eval orientation DATA` and `pagefix eval unwarping MANIFEST`: measure the pipeline's
models on labelled data and print tables (or JSON with --json)."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from typing import Any

from ..cli import add_pipeline_arguments, pipeline_kwargs

__all__ = ["register", "run_orientation", "run_unwarping"]

logger = logging.getLogger("pagefix")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "eval", help="measure orientation accuracy or unwarping quality on labelled data",
        description="Measure the pipeline's models the way the papers do.",
    )
    tasks = parser.add_subparsers(dest="eval_task", metavar="TASK", required=True)

    orientation = tasks.add_parser(
        "orientation", help="top-1 accuracy, per-class accuracy, confusion matrix, worst pages",
        description="DATA is a dataset in the reference's classification format (label.txt, "
        "train.txt/val.txt) or a folder of upright pages, each scored at 0, 90, 180 and 270 degrees. "
        "Sub-folders of an upright folder are reported as groups.",
    )
    orientation.add_argument("data", metavar="DATA", help="classification dataset or folder of upright pages")
    orientation.add_argument("--split", default="val", help="dataset split(s) to score, comma-separated (default: val)")
    orientation.add_argument("--worst", type=int, default=10, metavar="N", help="list the N worst pages (default: 10)")
    orientation.add_argument("--json", action="store_true", help="print the report as JSON")
    add_pipeline_arguments(orientation)
    orientation.set_defaults(func=run_orientation)

    unwarping = tasks.add_parser(
        "unwarping", help="MS-SSIM, local distortion and CER before and after unwarping",
        description="MANIFEST is a CSV with 'distorted' and 'ground_truth' columns (optional "
        "'words_json', 'warp_type'), paths relative to it. Each photo is run through the pipeline "
        "(orientation off unless --use_doc_orientation_classify True) and both photo and output "
        "are compared with the flat original.",
    )
    unwarping.add_argument("manifest", metavar="MANIFEST", help="CSV of photo / flat original pairs")
    unwarping.add_argument("--ocr-reference", choices=("flat", "words", "none"), default="flat",
                           help="CER against the OCR of the flat original (default, as the DocUNet "
                           "papers), the manifest's word ground truth, or no CER")
    unwarping.add_argument("--ocr-language", default="eng", metavar="LANG", help="tesseract language (default: eng)")
    unwarping.add_argument("--limit", type=int, metavar="N", help="score only the first N photos")
    unwarping.add_argument("--workers", type=int, default=2, metavar="N",
                           help="threads for scoring and OCR beside the pipeline (default: 2)")
    unwarping.add_argument("--worst", type=int, default=10, metavar="N", help="list the N least helped photos")
    unwarping.add_argument("--json", action="store_true", help="print the report as JSON")
    add_pipeline_arguments(unwarping)
    unwarping.set_defaults(func=run_unwarping)


def _progress(total: int, args: argparse.Namespace, unit: str) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, unit=unit, leave=False, disable=not sys.stderr.isatty() or args.quiet)


def run_orientation(args: argparse.Namespace) -> int:
    from ..pipeline import DocPreprocessor
    from .datasets import open_orientation_source
    from .orientation import ClassifierScorer, evaluate_orientation

    kwargs = pipeline_kwargs(args) | {"use_doc_unwarping": False, "use_doc_orientation_classify": True}
    pipeline = DocPreprocessor(**kwargs)
    classifier = pipeline.orientation_classifier
    splits = [s for s in args.split.split(",") if s]
    source = open_orientation_source(args.data, splits, pipeline.limits)
    with _progress(len(source), args, "page") as bar:
        report = evaluate_orientation(
            source, ClassifierScorer(classifier), batch_size=args.batch_size or 8,
            labels=classifier.labels, worst=args.worst, progress=bar.update,
        )
    print(json.dumps(report.to_dict(), indent=2) if args.json else report.format())
    return 1 if report.failures else 0


def run_unwarping(args: argparse.Namespace) -> int:
    from ..pipeline import DocPreprocessor
    from .ocr import tesseract_path
    from .unwarping import evaluate_unwarping, read_manifest

    kwargs = pipeline_kwargs(args)
    if kwargs["use_doc_orientation_classify"] is None:
        kwargs["use_doc_orientation_classify"] = False  # the literature scores unwarping alone
    if kwargs["use_doc_unwarping"] is None:
        kwargs["use_doc_unwarping"] = True
    pairs = read_manifest(args.manifest)[: args.limit]
    reference = None if args.ocr_reference == "none" else args.ocr_reference
    if reference and tesseract_path() is None:
        logger.warning("tesseract is not installed: no CER (Debian/Ubuntu: apt-get install tesseract-ocr)")
        reference = None
    pipeline = DocPreprocessor(**kwargs)
    with _progress(len(pairs), args, "photo") as bar:
        report = evaluate_unwarping(pairs, pipeline, reference, args.ocr_language, args.workers, bar.update)
    print(json.dumps(report.to_dict(), indent=2) if args.json else report.format(args.worst))
    return 1 if any(p.error for p in report.pairs) else 0
