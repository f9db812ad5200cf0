"""Flags shared by the subcommands: the reference's boolean spelling and the pipeline settings of
the reference CLI (spec 2.1), which every front end accepts."""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["add_pipeline_arguments", "pipeline_kwargs", "str2bool"]

_TRUE = {"true", "yes", "t", "y", "1"}
_FALSE = {"false", "no", "f", "n", "0"}


def str2bool(text: str) -> bool:
    """The reference's boolean flags: true/yes/t/y/1 (any case); false/no/f/n/0 for False."""
    value = text.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise argparse.ArgumentTypeError(f"expected True or False, got {text!r}")


def add_pipeline_arguments(parser: argparse.ArgumentParser) -> None:
    """The pipeline settings of the reference CLI (spec 2.1), shared by every front end."""
    group = parser.add_argument_group("pipeline")
    group.add_argument("--doc_orientation_classify_model_name", metavar="NAME",
                       help="orientation model name (default: PP-LCNet_x1_0_doc_ori; pagefix_doc_ori_v1 is "
                       "pagefix's multi-script model, shipped in the package)")
    group.add_argument("--doc_orientation_classify_model_dir", metavar="DIR",
                       help="orientation model directory (model.onnx + pagefix.yml) or .onnx file")
    group.add_argument("--doc_unwarping_model_name", metavar="NAME", help="unwarping model name (default: UVDoc)")
    group.add_argument("--doc_unwarping_model_dir", metavar="DIR",
                       help="unwarping model directory (model.onnx + pagefix.yml) or .onnx file")
    group.add_argument("--use_doc_orientation_classify", type=str2bool, metavar="BOOL",
                       help="load and use the orientation classifier (default: True)")
    group.add_argument("--use_doc_unwarping", type=str2bool, metavar="BOOL",
                       help="load and use UVDoc unwarping (default: True)")
    group.add_argument("--device", help="cpu, gpu or gpu:N (default: gpu:0 when CUDA is available, else cpu)")
    group.add_argument("--enable_hpi", type=str2bool, metavar="BOOL",
                       help="use the fastest execution provider installed (OpenVINO on CPU)")
    group.add_argument("--use_tensorrt", type=str2bool, metavar="BOOL", help="use TensorRT on GPU")
    group.add_argument("--precision", choices=("fp32", "fp16"), help="model precision (default: fp32)")
    group.add_argument("--enable_mkldnn", type=str2bool, metavar="BOOL",
                       help="use the oneDNN execution provider when this onnxruntime has it")
    group.add_argument("--mkldnn_cache_capacity", type=int, metavar="N", help="oneDNN cache capacity")
    group.add_argument("--cpu_threads", type=int, metavar="N",
                       help="ONNX Runtime threads on the CPU (default: the usable cores)")
    group.add_argument("--paddlex_config", metavar="YAML", help="pipeline configuration file (reference keys)")
    group.add_argument("--batch_size", type=int, metavar="N", help="pages classified per model call (default: 1)")
    group.add_argument("--skip_flat_pages", type=str2bool, metavar="BOOL",
                       help="leave pages that a padded UVDoc probe finds flat untouched (default: True; "
                       "False unwarps every page, as the reference)")
    group.add_argument("--keep_margin", type=float, metavar="F",
                       help="border kept around an unwarped page, as a fraction of its size per side, "
                       "so edges UVDoc would cut off stay (default: 0; e.g. 0.17)")
    group.add_argument("--orientation_views", metavar="NAME",
                       help="views the orientation classifier votes with: default (17 crops), fast (the "
                       "same, only when the reference view is unsure) or reference (one centre crop)")
    group.add_argument("--orientation_gate", type=float, metavar="P",
                       help="run the extra views only when the reference view's top probability is below P")
    group.add_argument("--reclassify_unwarped", type=str2bool, metavar="BOOL",
                       help="decide the final turn again on the unwarped page (default: True; False and "
                       "--orientation_views reference reproduce the reference)")


def pipeline_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    names = (
        "doc_orientation_classify_model_name", "doc_orientation_classify_model_dir",
        "doc_unwarping_model_name", "doc_unwarping_model_dir", "use_doc_orientation_classify",
        "use_doc_unwarping", "device", "enable_hpi", "use_tensorrt", "precision", "enable_mkldnn",
        "mkldnn_cache_capacity", "cpu_threads", "paddlex_config", "batch_size", "skip_flat_pages", "keep_margin",
        "orientation_views", "orientation_gate", "reclassify_unwarped",
    )
    return {name: getattr(args, name) for name in names}
