"""The `pagefix` command: a thin shell over the public API.

    pagefix doc_preprocessor -i photo.jpg --save_path out/
    pagefix models fetch | list | import FILE

Each subcommand is a module of this package (`COMMAND_MODULES`) with `register(subparsers)`,
which sets `func` on its parser.
Exit status: 0 success, 1 some inputs failed (the others were processed), 2 usage or setup error.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from .. import __version__
from ..errors import PagefixError
from .flags import CommandParser, add_global_flags, str2bool
from .shutdown import Terminated

__all__ = ["main", "parse_args", "str2bool"]

logger = logging.getLogger("pagefix")

#: One module per subcommand, each with `register(subparsers)` setting `func` on its parser;
#: a module whose optional dependencies are missing is left out.
COMMAND_MODULES = (
    "pagefix.cli.doc_preprocessor",
    "pagefix.cli.models",
    "pagefix.cli.serve",
    "pagefix.cli.batch",
    "pagefix.cli.eval",
    "pagefix.cli.train",
)

def build_parser() -> argparse.ArgumentParser:
    parser = CommandParser(
        prog="pagefix", description="Turn document photos and scans upright and flat (doc_preprocessor)."
    )
    parser.add_argument("--version", action="version", version=f"pagefix {__version__}")
    add_global_flags(parser)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

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
    except Terminated:
        logger.error("terminated (SIGTERM); every file written before it is complete")
        return 143


