"""The `pagefix` command line: `main`, the shared flags (`flags`), one module per subcommand."""

from .flags import str2bool
from .main import build_parser, main, parse_args

__all__ = ["build_parser", "main", "parse_args", "str2bool"]
