"""`pagefix batch`: a whole collection through the pipeline, resumable, locally or on Ray.
Importing this module needs only the base install, so `pagefix --help` works without the extras."""

from __future__ import annotations

import argparse
import logging
import sys
from typing import Any

__all__ = ["register", "run"]

logger = logging.getLogger("pagefix")


def register(subparsers: Any) -> None:
    from .flags import add_pipeline_arguments

    parser = subparsers.add_parser(
        "batch", help="process a whole collection (resumable; local or on a Ray cluster)",
        description="Run the pipeline over files, directories (recursive), file:// s3:// gs:// URIs or "
        "listing files (.txt, one URI a line; .parquet with a 'path' column). Writes "
        "SAVE_PATH/pages/<input path>.p<page>.<ext> and a Parquet manifest (SAVE_PATH/manifest/pages.parquet). "
        "Running it again does only what is missing or failed.",
    )
    parser.add_argument("inputs", nargs="+", metavar="INPUT", help="file, directory, URI or listing file")
    parser.add_argument("--save_path", required=True, metavar="OUT", help="output directory or URI")
    parser.add_argument("--engine", choices=("local", "ray"), default="local",
                        help="local: one process, a plain loop (default); ray: Ray Data (pagefix[ray])")
    parser.add_argument("--config", metavar="YAML", help="pipeline configuration (same as --paddlex_config)")
    parser.add_argument("--image_format", choices=("jpg", "png", "webp"), default="jpg",
                        help="format of the corrected pages (default: jpg; png is lossless but slower)")
    parser.add_argument("--jpeg_quality", type=int, default=95, metavar="Q", help="JPEG quality (default: 95)")
    parser.add_argument("--save_pdf", action="store_true",
                        help="also write one corrected PDF per input: SAVE_PATH/pdf/<input path>.pdf")
    parser.add_argument("--pdf_dpi", type=float, default=300.0, metavar="DPI",
                        help="resolution of the PDF pages whose input states none (images without DPI); "
                        "PDF pages keep their size, images their DPI (default: 300)")
    parser.add_argument("--no_retry_errors", dest="retry_errors", action="store_false",
                        help="on a re-run, skip inputs that failed before instead of trying them again")
    parser.add_argument("--fail_on_error", action="store_true",
                        help="exit 1 when the manifest has error rows (default: exit 0 and print the count)")
    ray = parser.add_argument_group("ray engine")
    ray.add_argument("--ray_address", metavar="ADDR",
                     help="cluster to run on (default: $RAY_ADDRESS, else a local Ray for this run)")
    ray.add_argument("--ray_num_cpus", type=int, metavar="N", help="CPUs of the local Ray (default: all)")
    ray.add_argument("--ray_worker_cpus", type=float, default=1.0, metavar="F",
                     help="CPUs per pipeline actor; its ONNX Runtime threads follow (default: 1)")
    ray.add_argument("--ray_workers", type=int, metavar="N",
                     help="pipeline actors (default: the cluster's CPUs / --ray_worker_cpus)")
    ray.add_argument("--ray_object_store_mb", type=int, metavar="MB",
                     help="object store size of the local Ray (default: Ray's, 30%% of memory)")
    ray.add_argument("--ray_worker_gpus", type=float, default=0.0, metavar="F",
                     help="GPUs per pipeline actor, with --device gpu (default: 0)")
    ray.add_argument("--ray_layout", choices=("fused", "staged"), default="fused",
                     help="fused: one actor stage does everything (default, for CPU clusters); staged: "
                     "decode+orient on CPU actors, UVDoc on its own actor pool (GPUs), resample+write on CPU actors")
    ray.add_argument("--ray_unwarp_gpus", type=float, default=0.0, metavar="F",
                     help="staged: GPUs per UVDoc actor; 0 runs UVDoc on CPUs (default: 0)")
    ray.add_argument("--ray_unwarp_workers", type=int, metavar="N",
                     help="staged: UVDoc actors (default: the cluster's GPUs / --ray_unwarp_gpus, else 1)")
    ray.add_argument("--ray_unwarp_batch_size", type=int, default=8, metavar="N",
                     help="staged: pages per UVDoc model call (default: 8)")
    add_pipeline_arguments(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..batch.runner import BatchOptions, RayOptions, run_batch
    from ..batch.work import OutputOptions
    from .flags import pipeline_kwargs

    kwargs = pipeline_kwargs(args)
    if args.config and kwargs.get("paddlex_config"):
        logger.error("give the configuration once: --config or --paddlex_config")
        return 2
    kwargs["paddlex_config"] = args.config or kwargs.get("paddlex_config")
    options = BatchOptions(
        inputs=list(args.inputs),
        save_path=args.save_path,
        engine=args.engine,
        pipeline=kwargs,
        output=OutputOptions(args.image_format, args.jpeg_quality, args.save_pdf, args.pdf_dpi),
        retry_errors=args.retry_errors,
        progress=sys.stderr.isatty() and not args.quiet,
        ray=RayOptions(
            address=args.ray_address, num_cpus=args.ray_num_cpus, worker_cpus=args.ray_worker_cpus,
            workers=args.ray_workers, object_store_mb=args.ray_object_store_mb,
            worker_gpus=args.ray_worker_gpus, layout=args.ray_layout, unwarp_gpus=args.ray_unwarp_gpus,
            unwarp_workers=args.ray_unwarp_workers, unwarp_batch_size=args.ray_unwarp_batch_size,
        ),
    )
    summary = run_batch(options)
    rate = (summary.pages_ok + summary.pages_failed) / summary.elapsed_s if summary.elapsed_s > 0 else 0.0
    line = (
        f"pagefix batch: {summary.pages_ok} pages ok, {summary.pages_failed} failed, from {summary.inputs_run} "
        f"inputs in {summary.elapsed_s:.1f} s ({rate:.2f} pages/s); skipped {summary.inputs_done} done"
    )
    if summary.inputs_failed_skipped:
        line += f" and {summary.inputs_failed_skipped} failed before"
    if summary.pages_by_node:
        line += "; pages per node: " + ", ".join(f"{node[:12]}={n}" for node, n in sorted(summary.pages_by_node.items()))
    line += f"; manifest {summary.manifest_path} ({summary.manifest_errors} error rows)"
    if summary.stopped_by:
        line += f"; stopped by {summary.stopped_by}, run again to finish"
    print(line, flush=True)
    if summary.exit_signal is not None:
        return summary.exit_signal
    if args.fail_on_error and summary.manifest_errors:
        return 1
    return 0
