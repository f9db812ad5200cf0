"""The `pagefix` command line: `main`, the shared flags (`flags`), one module per subcommand.

Internal: these modules may change between releases; the public API is what `pagefix`
exports (`pagefix.__all__`); the command line itself is the interface."""

from .flags import str2bool
from .main import build_parser, main, parse_args

__all__ = ["build_parser", "main", "parse_args", "str2bool"]
