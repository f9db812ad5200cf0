"""Write what users see of pagefix's interfaces to a folder, to compare two trees: the `--help`
of every command and subcommand, every flag of each (spelling, default, help, type, choices), and
the OpenAPI JSON the HTTP service serves.

    PYTHONPATH=/other/tree/src python dev/interface_snapshot.py /tmp/before
    PYTHONPATH=src python dev/interface_snapshot.py /tmp/after --compare /tmp/before

`--compare` prints, per file, whether it is identical and, for the flags, which were added,
removed or changed. A change of settings, flags or HTTP fields meant to be invisible to users
leaves every file identical.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import sys
from pathlib import Path
from typing import Any


def commands() -> list[tuple[str, ...]]:
    """Every command and subcommand of this tree's `pagefix`, the top level first."""
    from pagefix.cli.main import build_parser

    found: list[tuple[str, ...]] = []

    def walk(parser: argparse.ArgumentParser, path: tuple[str, ...]) -> None:
        found.append(path)
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for name, sub in action.choices.items():
                    walk(sub, (*path, name))

    walk(build_parser(), ())
    return found


def help_text(command: tuple[str, ...]) -> str:
    from pagefix.cli.main import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):
        main([*command, "--help"])
    return out.getvalue()


def flags(command: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    """Every flag and positional of one command, as the parser holds it."""
    from pagefix.cli.main import build_parser

    parser = build_parser()
    for name in command:
        (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        parser = sub.choices[name]
    found: dict[str, dict[str, Any]] = {}
    for group in parser._action_groups:
        for action in group._group_actions:
            if isinstance(action, argparse._SubParsersAction):
                continue
            key = "/".join(action.option_strings) or action.dest
            found[key] = {
                "group": group.title, "dest": action.dest, "default": repr(action.default), "help": action.help,
                "metavar": repr(action.metavar), "choices": repr(action.choices), "nargs": repr(action.nargs),
                "type": getattr(action.type, "__name__", repr(action.type)), "required": action.required,
            }
    return found


def openapi() -> dict:
    """The schema of an app built on a stand-in pipeline (the schema does not depend on the models)."""
    from pagefix.limits import Limits
    from pagefix.pipeline.settings import load_config
    from pagefix.serving.app import create_app

    class StandIn:
        config = load_config(None)
        limits = Limits()

        def process_pages(self, pages, settings):  # type: ignore[no-untyped-def]
            raise NotImplementedError

    return create_app(StandIn()).openapi()  # type: ignore[arg-type]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path, help="folder to write the snapshot to")
    parser.add_argument("--compare", type=Path, metavar="BEFORE", help="a snapshot to compare this one with")
    options = parser.parse_args()
    out = options.out
    out.mkdir(parents=True, exist_ok=True)
    os.environ["COLUMNS"] = "100"  # argparse wraps help to the terminal; fix it so trees compare
    found = commands()
    for command in found:
        stem = "_".join(("pagefix",) + command)
        (out / f"{stem}.help.txt").write_text(help_text(command), encoding="utf-8")
        (out / f"{stem}.flags.json").write_text(json.dumps(flags(command), indent=1) + "\n", encoding="utf-8")
    (out / "openapi.json").write_text(json.dumps(openapi(), indent=1) + "\n", encoding="utf-8")
    print(f"wrote {2 * len(found) + 1} files to {out}", file=sys.stderr)
    if options.compare:
        compare(options.compare, out)


def compare(before: Path, after: Path) -> None:
    for path in sorted(before.iterdir()):
        if not (after / path.name).exists():
            print(f"{path.name}: gone")
    for path in sorted(after.iterdir()):
        old = before / path.name
        if not old.exists():
            print(f"{path.name}: new")
        elif old.read_bytes() == path.read_bytes():
            print(f"{path.name}: identical")
        elif path.name.endswith(".flags.json"):
            was, now = json.loads(old.read_text()), json.loads(path.read_text())
            changed = [k for k in was.keys() & now.keys() if was[k] != now[k]]
            print(f"{path.name}: added {sorted(now.keys() - was.keys())}, removed {sorted(was.keys() - now.keys())}, "
                  f"changed {sorted(changed)}")
        else:
            print(f"{path.name}: differs")


if __name__ == "__main__":
    main()
