"""The output tree of a batch run (`--save_path`): a local directory or any pyarrow filesystem URI.

    OUT/pages/<input relative path>.p<page:04d>.<ext>    corrected pages
    OUT/pdf/<input relative path>.pdf                   one corrected PDF per input (optional)
    OUT/manifest/pages.parquet                          one row per page (see manifest.py)
    OUT/journal/                                        manifest rows of runs not yet merged

Local files are written with `write_atomic` (temporary name, then rename); on object stores a
PUT is atomic already: an object appears whole or not at all.
"""

from __future__ import annotations

import os
import posixpath
from pathlib import Path
from typing import Any

from ..errors import OutputError
from ..outputs.files import write_atomic
from .listing import open_filesystem

__all__ = ["OutputTree"]

PAGES_DIR = "pages"
PDF_DIR = "pdf"


class OutputTree:
    """Where one batch job's files go; paths given to it are relative to its root, with '/'."""

    def __init__(self, save_path: str | os.PathLike[str]) -> None:
        text = os.fspath(save_path)
        self.location = text
        if "://" in text:
            self._fs, root = open_filesystem(text)
            self.root = root.rstrip("/")
            self.local: Path | None = None
        else:
            self._fs = None
            self.local = Path(text).expanduser().resolve()
            self.root = str(self.local)

    # -- names ---------------------------------------------------------------------------------

    @staticmethod
    def page_name(rel: str, page_index: int, extension: str) -> str:
        return f"{PAGES_DIR}/{rel}.p{page_index:04d}.{extension}"

    @staticmethod
    def pdf_name(rel: str) -> str:
        return f"{PDF_DIR}/{rel}.pdf"

    def full(self, name: str) -> str:
        return posixpath.join(self.root, name) if self.local is None else str(self.local / name)

    # -- writing and reading -------------------------------------------------------------------

    def write(self, name: str, data: bytes) -> None:
        if self.local is not None:
            write_atomic(self.local / name, data)
            return
        target = self.full(name)
        try:
            self._fs.create_dir(posixpath.dirname(target), recursive=True)
            with self._fs.open_output_stream(target) as stream:
                stream.write(data)
        except OSError as exc:
            raise OutputError(f"cannot write {self.location}/{name}: {exc}") from exc

    def read(self, name: str) -> bytes:
        try:
            if self.local is not None:
                return (self.local / name).read_bytes()
            with self._fs.open_input_stream(self.full(name)) as stream:
                return stream.read()
        except OSError as exc:
            raise OutputError(f"cannot read {self.location}/{name}: {exc}") from exc

    def delete(self, name: str) -> None:
        try:
            if self.local is not None:
                (self.local / name).unlink(missing_ok=True)
            else:
                self._fs.delete_file(self.full(name))
        except FileNotFoundError:
            pass
        except OSError as exc:
            raise OutputError(f"cannot delete {self.location}/{name}: {exc}") from exc

    def exists(self, name: str) -> bool:
        if self.local is not None:
            return (self.local / name).is_file()
        import pyarrow.fs as fs_module

        return self._fs.get_file_info(self.full(name)).type == fs_module.FileType.File

    def list(self, folder: str) -> set[str]:
        """Every file under `folder`, relative to the root, in one recursive listing (resume uses
        this once rather than asking about each output). Temporary `.part` files are left out."""
        found: set[str] = set()
        if self.local is not None:
            base = self.local / folder
            for current, _dirs, names in os.walk(base):
                prefix = Path(current).relative_to(self.local).as_posix()
                found.update(f"{prefix}/{n}" for n in names if not _temporary(n))
            return found
        import pyarrow.fs as fs_module

        selector = fs_module.FileSelector(self.full(folder), recursive=True, allow_not_found=True)
        try:
            infos: list[Any] = self._fs.get_file_info(selector)
        except OSError as exc:
            raise OutputError(f"cannot list {self.location}/{folder}: {exc}") from exc
        skip = len(self.root) + 1 if self.root else 0
        for info in infos:
            if info.type == fs_module.FileType.File and not _temporary(info.base_name):
                found.add(info.path[skip:])
        return found


def _temporary(name: str) -> bool:
    return name.startswith(".") and name.endswith(".part")
