"""`pagefix doc_preprocessor`: the reference's command, one JSON line per page, files on request."""

from __future__ import annotations

import argparse
import functools
import logging
import sys
import time
from pathlib import Path
from typing import Any

from ..errors import ConfigError, PagefixError
from ..inputs import PageFailure
from ..limits import Limits
from ..pipeline.prefetch import BackgroundWriter
from .flags import add_pipeline_arguments, pipeline_kwargs
from .shutdown import sigterm_raises

logger = logging.getLogger("pagefix")


def register(commands: Any) -> None:
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
                     help="resolution of the PDF pages whose input states none (images without DPI); "
                     "PDF pages keep their size, images their DPI (default: 300)")
    add_pipeline_arguments(run)
    run.set_defaults(func=_run_doc_preprocessor)


def _run_doc_preprocessor(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from ..pipeline.preprocessor import DocPreprocessor

    started = time.monotonic()
    pdfs = _pdf_sink(args)
    pipeline = DocPreprocessor(**pipeline_kwargs(args))
    failures = pages_ok = pages_failed = 0
    inputs: set[str | None] = set()
    show_progress = sys.stderr.isatty() and not args.quiet
    total = count_pages(args.input, pipeline.limits) if show_progress else None
    # Page n-1 is encoded and written on a thread while page n is in the models.
    writer: BackgroundWriter[int] = BackgroundWriter()
    with sigterm_raises(), writer, tqdm(desc="pages", unit="page", total=total, disable=not show_progress,
                                        leave=False) as progress:
        for item in pipeline.predict_iter(args.input, errors="yield"):
            if progress.total is not None and progress.n >= progress.total:
                progress.total = None  # more pages than counted (a multi-frame TIFF): no false ETA
            progress.update(1)
            inputs.add(item.input_path)
            if isinstance(item, PageFailure):
                failures += 1
                pages_failed += 1
                logger.error("%s", item.message)
                continue
            pages_ok += 1
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
    if not args.quiet:
        print(summary_line(pages_ok, pages_failed, len(inputs), time.monotonic() - started,
                           failures - pages_failed), file=sys.stderr, flush=True)
    if failures:
        logger.error("%d input(s) or page(s) failed", failures)
        return 1
    return 0


def summary_line(pages_ok: int, pages_failed: int, inputs: int, elapsed_s: float, not_written: int = 0) -> str:
    """The run in one line, as `pagefix batch` ends: pages done and failed, time, pages per second."""
    rate = (pages_ok + pages_failed) / elapsed_s if elapsed_s > 0 else 0.0
    line = (f"pagefix: {pages_ok} pages ok, {pages_failed} failed, from {inputs} inputs in {elapsed_s:.1f} s "
            f"({rate:.2f} pages/s)")
    if not_written:
        line += f"; {not_written} output(s) not written"
    return line


def count_pages(inputs: list[str], limits: Limits) -> int | None:
    """How many pages the inputs hold, for the progress bar's total and ETA; None when that is not
    cheap to know (a URL). Files in folders count one page each; a PDF its page count (its page
    tree only is read, nothing is rendered); a multi-frame TIFF counts one, and the bar drops its
    total when it is passed."""
    from ..inputs.fetch import is_url
    from ..inputs.pdf import count_pdf_pages
    from ..inputs.sources import list_directory

    files: list[Path] = []
    for text in inputs:
        if is_url(text):
            return None
        path = Path(text).expanduser()
        files.extend(list_directory(path) if path.is_dir() else [path])
    total = 0
    for path in files:
        pages = 1
        if path.suffix.lower() == ".pdf":
            try:
                pages = max(1, count_pdf_pages(path, limits))
            except (PagefixError, OSError):
                pages = 1  # the pipeline reports what is wrong with it
        total += pages
    return total


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
    from ..outputs.pdf import DocumentPdfs

    if args.pdf_dpi <= 0:
        raise ConfigError(f"--pdf_dpi must be positive, got {args.pdf_dpi}")
    several = len(args.input) > 1 or Path(args.input[0]).is_dir()
    if Path(args.save_pdf).suffix.lower() == ".pdf" and several:
        raise ConfigError(f"--save_pdf {args.save_pdf} is one file but the input is several documents; "
                          "give a directory for one PDF per document")
    return DocumentPdfs(args.save_pdf, dpi=args.pdf_dpi)
