"""`pagefix eval orientation DATA` and `pagefix eval unwarping MANIFEST`: measure the pipeline's
models on labelled data and print tables (or JSON with --json)."""

from __future__ import annotations

import argparse
import json
import logging
import sys
from typing import Any

from .flags import add_pipeline_arguments, pipeline_kwargs

__all__ = ["register", "run_orientation", "run_skew", "run_unwarping"]

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
        "train.txt/val.txt), a folder of upright pages, each scored at 0, 90, 180 and 270 degrees "
        "(sub-folders, or file-name prefixes before '__', are reported as groups), or a photo "
        "manifest (.csv with 'distorted' and 'ground_truth' columns, as for eval unwarping): each "
        "photo turned four ways goes through the whole pipeline and is right when its output "
        "matches the flat original unturned. The pipeline's views are printed next to the "
        "reference's single view (and, for photos, the reference's single decision before unwarping).",
    )
    orientation.add_argument("data", metavar="DATA", help="classification dataset, folder of upright pages or photo manifest")
    orientation.add_argument("--limit", type=int, metavar="N", help="photo manifests: score only the first N photos")
    orientation.add_argument("--no_reference", action="store_true", help="do not score the reference's view beside")
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
    unwarping.add_argument("--ocr_reference", choices=("flat", "words", "none"), default="flat",
                           help="CER against the OCR of the flat original (default, as the DocUNet "
                           "papers), the manifest's word ground truth, or no CER")
    unwarping.add_argument("--ocr_language", default="eng", metavar="LANG", help="tesseract language (default: eng)")
    unwarping.add_argument("--limit", type=int, metavar="N", help="score only the first N photos")
    unwarping.add_argument("--workers", type=int, default=2, metavar="N",
                           help="threads for scoring and OCR beside the pipeline (default: 2)")
    unwarping.add_argument("--worst", type=int, default=10, metavar="N", help="list the N least helped photos")
    unwarping.add_argument("--json", action="store_true", help="print the report as JSON")
    add_pipeline_arguments(unwarping)
    unwarping.set_defaults(func=run_unwarping)

    skew = tasks.add_parser(
        "skew", help="error and time of the fine-skew estimate on pages turned by known angles",
        description="DATA is a folder of upright pages, each turned by known small angles as a crooked "
        "scan (the estimate on the page as published is added to the truth), or a .csv manifest "
        "with 'image' and 'skew_angle' columns (degrees, counter-clockwise).",
    )
    skew.add_argument("data", metavar="DATA", help="folder of upright pages or labelled manifest")
    skew.add_argument("--turns_per_page", type=int, default=2, metavar="N",
                      help="angles drawn for each page (default: 2)")
    skew.add_argument("--max_angle", type=float, default=7.0, metavar="DEG",
                      help="the angles are drawn within +-DEG (default: 7)")
    skew.add_argument("--seed", type=int, default=0, help="seed of the angles (default: 0)")
    skew.add_argument("--limit", type=int, metavar="N", help="score only the first N pages")
    skew.add_argument("--worst", type=int, default=10, metavar="N", help="list the N worst pages (default: 10)")
    skew.add_argument("--json", action="store_true", help="print the report as JSON")
    skew.set_defaults(func=run_skew)


def _progress(total: int, args: argparse.Namespace, unit: str) -> Any:
    from tqdm import tqdm

    return tqdm(total=total, unit=unit, leave=False, disable=not sys.stderr.isatty() or args.quiet)


def run_orientation(args: argparse.Namespace) -> int:
    from ..evaluation.datasets import ClassificationList, UprightFolder, open_orientation_source
    from ..evaluation.orientation import ClassifierScorer, Scorer, compare_orientation, format_comparison
    from ..evaluation.photo_orientation import PipelineScorer, TurnedPhotos
    from ..models.store import REFERENCE_ORIENTATION_MODEL
    from ..pipeline.preprocessor import DocPreprocessor

    photos = str(args.data).lower().endswith(".csv")
    kwargs = pipeline_kwargs(args) | {"use_doc_orientation_classify": True}
    if not photos:
        kwargs["use_doc_unwarping"] = False  # pages are scored by the classifier alone
    pipeline = DocPreprocessor(**kwargs)
    classifier = pipeline.orientation_classifier
    # The reference column is the reference's own model with its single view, whichever model
    # pagefix runs (its default is not the reference's since pagefix_doc_ori_v5).
    reference_kwargs = kwargs | {"doc_orientation_classify_model_name": REFERENCE_ORIENTATION_MODEL,
                                 "doc_orientation_classify_model_dir": None, "orientation_views": "reference"}
    same_model = classifier.name == REFERENCE_ORIENTATION_MODEL  # then it is shared, not loaded twice
    ours = pipeline.view_set.name if pipeline.config.reclassify_unwarped or not photos else f"{pipeline.view_set.name} (once)"
    scorers: dict[str, Scorer] = {}
    source: TurnedPhotos | ClassificationList | UprightFolder
    if photos:
        source = TurnedPhotos(args.data, limits=pipeline.limits, limit=args.limit)
        if not args.no_reference:
            # The reference: its single view on the photo, one decision, every page unwarped.
            reference = DocPreprocessor(
                **(reference_kwargs | {"reclassify_unwarped": False, "skip_flat_pages": False}),
                orientation_classifier=classifier if same_model else None, unwarper=pipeline.unwarper,
            )
            scorers["reference"] = PipelineScorer(reference)
        scorers[ours] = PipelineScorer(pipeline)
    else:
        splits = [s for s in args.split.split(",") if s]
        source = open_orientation_source(args.data, splits, pipeline.limits)
        if not args.no_reference and not pipeline.view_set.is_reference:
            scorers["reference"] = ClassifierScorer(
                classifier if same_model else DocPreprocessor(**reference_kwargs).orientation_classifier, "reference")
        scorers[ours] = ClassifierScorer(classifier, pipeline.view_set)
    with _progress(len(source), args, "page") as bar:
        reports = compare_orientation(
            source, scorers, batch_size=args.batch_size or 8, labels=classifier.labels,
            worst=args.worst, progress=bar.update,
        )
    report = reports[ours]
    if args.json:
        data = report.to_dict() | {"views": ours}
        data |= {"compared": {name: r.to_dict() for name, r in reports.items() if name != ours}}
        print(json.dumps(data, indent=2))
    else:
        if len(reports) > 1:
            print(format_comparison(reports), end="\n\n")
        print(f"views: {ours}")
        print(report.format())
    return 1 if report.failures else 0


def run_unwarping(args: argparse.Namespace) -> int:
    from ..evaluation.ocr import tesseract_path
    from ..evaluation.unwarping import evaluate_unwarping, read_manifest
    from ..pipeline.preprocessor import DocPreprocessor

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


def run_skew(args: argparse.Namespace) -> int:
    import cv2

    from ..evaluation.skew import evaluate_skew, skew_cases

    cv2.setNumThreads(1)  # the time is per page on one core, as docs/skew.md reports it
    cases = skew_cases(args.data, args.turns_per_page, args.max_angle, args.seed, limit=args.limit)
    with _progress(0, args, "page") as bar:
        report = evaluate_skew(cases, progress=bar.update)
    if args.json:
        print(json.dumps(report.summary(), indent=2))
    else:
        print(report.format(args.worst))
    return 0
