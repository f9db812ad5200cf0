"""The command line's conventions, shared by every subcommand: the reference's boolean spelling,
its snake_case flags (kebab-case spellings accepted), the global flags after the subcommand too,
and the pipeline's flags, made from the settings table (`pagefix.pipeline.settings.SETTINGS`)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable
from typing import Any

from ..errors import ConfigError
from ..limits import did_you_mean, parse_bool
from ..pipeline.settings import SETTINGS, Setting

__all__ = [
    "CommandParser",
    "SubcommandParser",
    "add_global_flags",
    "add_pipeline_arguments",
    "pipeline_kwargs",
    "str2bool",
]


def str2bool(text: str) -> bool:
    """The reference's boolean flags: true/yes/t/y/1 (any case); false/no/f/n/0 for False."""
    try:
        return parse_bool(text, "flag")
    except ConfigError:
        hint = did_you_mean(text.strip().lower(), ("true", "false", "yes", "no"))
        raise argparse.ArgumentTypeError(f"expected True or False, got {text!r}{hint}") from None


def add_global_flags(parser: argparse.ArgumentParser, default: Any = False) -> None:
    """-q and -v. The top-level parser gives them False; a subcommand's parser gives them
    argparse.SUPPRESS, so they may come after the subcommand without resetting what came before."""
    parser.add_argument("-q", "--quiet", action="store_true", default=default, help="only print errors")
    parser.add_argument("-v", "--verbose", action="store_true", default=default, help="print debug logging")


class CommandParser(argparse.ArgumentParser):
    """An argparse parser with pagefix's flag conventions: `--batch-size` is read as `--batch_size`
    wherever this parser has the snake_case flag (help shows only that one), and the parsers of
    its subcommands (`add_subparsers().add_parser(...)`) are `SubcommandParser`s."""

    def add_subparsers(self, **kwargs: Any) -> Any:
        kwargs.setdefault("parser_class", SubcommandParser)
        return super().add_subparsers(**kwargs)

    def parse_known_args(self, args: Iterable[str] | None = None, namespace: Any = None) -> tuple[Any, list[str]]:
        arguments = list(sys.argv[1:] if args is None else args)
        return super().parse_known_args(self._snake_case(arguments), namespace)

    def _snake_case(self, arguments: list[str]) -> list[str]:
        """`--make-dataset X` and `--make-dataset=X` as `--make_dataset`, for this parser's own
        flags only (a subcommand's parser does the same for its own); nothing after `--`."""
        out: list[str] = []
        for index, argument in enumerate(arguments):
            if argument == "--":
                return out + arguments[index:]
            if argument.startswith("--") and "-" in argument[2:]:
                name, sep, value = argument.partition("=")
                snake = "--" + name[2:].replace("-", "_")
                if name not in self._option_string_actions and snake in self._option_string_actions:
                    argument = snake + sep + value
            out.append(argument)
        return out


class SubcommandParser(CommandParser):
    """A subcommand's parser: also takes -q and -v, so `pagefix doc_preprocessor -q ...` works."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        add_global_flags(self, default=argparse.SUPPRESS)


def add_pipeline_arguments(parser: argparse.ArgumentParser) -> None:
    """The pipeline settings (the reference CLI's, then --paddlex_config, then pagefix's), one flag
    per row of the settings table that has one, shared by every front end."""
    group = parser.add_argument_group("pipeline")
    rows = [row for row in SETTINGS if row.flag]
    for row in rows:
        if row.reference:
            _add_flag(group, row)
    group.add_argument("--paddlex_config", metavar="YAML", help="pipeline configuration file (reference keys)")
    for row in rows:
        if not row.reference:
            _add_flag(group, row)


def _add_flag(group: Any, row: Setting) -> None:
    options: dict[str, Any] = {"help": row.help}
    if row.kind is bool:
        options.update(type=str2bool, metavar=row.metavar or "BOOL")
    elif row.kind in (int, float):
        options.update(type=row.kind, metavar=row.metavar or "N")
    elif row.metavar:
        options["metavar"] = row.metavar
    if row.choices:
        options["choices"] = row.choices
    group.add_argument(f"--{row.name}", **options)


def pipeline_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """The DocPreprocessor arguments the pipeline flags gave (None where a flag was left out)."""
    names = [row.name for row in SETTINGS if row.flag] + ["paddlex_config"]
    return {name: getattr(args, name) for name in names}
