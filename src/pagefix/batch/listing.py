"""What a batch run reads: the input arguments expanded into files, each with the URI the manifest
records and the relative path its outputs are named after.

Local paths and directories are walked with `os` (no pyarrow needed to list them); `file://`,
`s3://`, `gs://` (and anything else `pyarrow.fs.FileSystem.from_uri` knows, e.g. `hdfs://`) go
through pyarrow's filesystems, which take credentials the usual way (environment, config files,
instance metadata). A `.txt` argument lists one URI a line; a `.parquet` argument lists them in its
`path` column.
"""

from __future__ import annotations

import os
import posixpath
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ConfigError, InputError, LimitExceededError
from ..inputs import IMAGE_SUFFIXES

__all__ = ["InputFile", "Listing", "Namer", "filesystem_groups", "list_inputs", "open_filesystem", "read_input"]

_LISTING_SUFFIXES = (".txt", ".parquet")


@dataclass(frozen=True)
class InputFile:
    """One file to process.

    `uri` is what the manifest records (an absolute local path, or `scheme://bucket/key`);
    `fs_path` is the same file as its pyarrow filesystem names it (`bucket/key` on S3);
    `rel` is the path its outputs are named after, relative to the directory it was found under.
    """

    uri: str
    fs_path: str
    rel: str
    scheme: str = ""  # "" for local files read with os, else the URI scheme ("s3", "gs", "file", ...)
    base: str = ""    # the directory `rel` is relative to (as the filesystem names it)


class Namer:
    """Gives a file its manifest URI and output name from its filesystem path alone, the way the
    listing did: relative to the deepest input directory that holds it. Ray's readers report only
    the path, so its workers name files with this too.
    """

    def __init__(self, prefix: str, scheme: str, bases: Iterable[str]) -> None:
        self.prefix = prefix
        self.scheme = scheme
        self.bases = sorted({b.rstrip("/") for b in bases}, key=len, reverse=True)

    def item(self, fs_path: str) -> InputFile:
        for base in self.bases:
            if fs_path.startswith(base + "/") or (base == "" and fs_path):
                rel = fs_path[len(base) + 1:] if base else fs_path.lstrip("/")
                return InputFile(self.prefix + fs_path, fs_path, rel, self.scheme, base)
        raise InputError(f"{fs_path} lies under none of the inputs")

    @classmethod
    def for_files(cls, files: list[InputFile]) -> Namer:
        """The namer of files that share one filesystem (one scheme and URI prefix)."""
        prefixes = {f.uri[: len(f.uri) - len(f.fs_path)] for f in files}
        if len(prefixes) != 1 or len({f.scheme for f in files}) != 1:
            raise ConfigError("one namer covers files of one filesystem only")
        return cls(prefixes.pop(), files[0].scheme, (f.base for f in files))


@dataclass
class Listing:
    files: list[InputFile]

    @property
    def schemes(self) -> set[str]:
        return {item.scheme for item in self.files}


def list_inputs(arguments: Iterable[str]) -> Listing:
    """Expand the command line's inputs into files, in a stable order (each argument's files sorted).

    Raises `InputError` for an argument that names nothing, and `ConfigError` when two files would
    write to the same output name.
    """
    found: list[InputFile] = []
    for argument in arguments:
        text = str(argument)
        if _is_listing_file(text):
            found.extend(_from_listing_file(text))
        else:
            found.extend(_expand(text))
    first: dict[str, InputFile] = {}
    for item in found:
        first.setdefault(item.uri, item)  # a file named twice is processed once
    unique = list(first.values())
    files = [namer.item(item.fs_path) for namer, item in _with_namers(unique)]
    _check_unique(files)
    return Listing(files)


def filesystem_groups(files: list[InputFile]) -> dict[str, list[InputFile]]:
    """Files by URI prefix: each group is read through one filesystem."""
    groups: dict[str, list[InputFile]] = {}
    for item in files:
        groups.setdefault(item.uri[: len(item.uri) - len(item.fs_path)], []).append(item)
    return groups


def _with_namers(files: list[InputFile]) -> list[tuple[Namer, InputFile]]:
    """Each file with the namer of its filesystem, keeping the listing's order."""
    namers = {prefix: Namer.for_files(group) for prefix, group in filesystem_groups(files).items()}
    return [(namers[item.uri[: len(item.uri) - len(item.fs_path)]], item) for item in files]


def _is_listing_file(text: str) -> bool:
    return not _scheme_of(text) and Path(text).suffix.lower() in _LISTING_SUFFIXES and Path(text).is_file()


def _scheme_of(text: str) -> str:
    head, sep, _ = text.partition("://")
    return head.lower() if sep and head.isalnum() and len(head) > 1 else ""


def _expand(text: str, rel_base: str | None = None) -> list[InputFile]:
    """An argument (or a listing file's line) to its files; `rel_base` is the directory that names
    outputs for entries of a listing file (their common parent)."""
    scheme = _scheme_of(text)
    if scheme:
        return _expand_remote(text, scheme, rel_base)
    path = Path(text).expanduser().resolve()
    if path.is_dir():
        return [
            InputFile(str(file), str(file), _relative(str(file), str(path)), "", str(path))
            for file in _walk_local(path)
        ]
    if path.is_file() or rel_base is not None:
        # A missing file in a listing becomes an error row when it is read, not a failed listing.
        base = rel_base if rel_base is not None else str(path.parent)
        return [InputFile(str(path), str(path), _relative(str(path), base), "", base)]
    raise InputError(f"no such file or directory: {text}")


def _walk_local(root: Path) -> Iterator[Path]:
    found: list[Path] = []
    for folder, dirs, names in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        found.extend(Path(folder) / name for name in names if _wanted(name))
    return iter(sorted(found))


def _wanted(name: str) -> bool:
    return not name.startswith(".") and posixpath.splitext(name)[1].lower() in IMAGE_SUFFIXES


def _relative(path: str, base: str) -> str:
    rel = os.path.relpath(path, base) if not base.endswith("://") else path[len(base):]
    return rel.replace(os.sep, "/")


def open_filesystem(uri: str) -> tuple[Any, str]:
    """The pyarrow filesystem of `uri` and the path in it (pyarrow needed: the `batch` extra)."""
    if _scheme_of(uri) in ("http", "https"):
        # A web server lists nothing and resumes nothing; pyarrow would only say "unrecognized".
        raise InputError(
            f"{uri[:200]}: http(s) URLs are not batch inputs (batch reads files and file://, s3://, gs:// "
            "URIs); download it first, or give it to `pagefix doc_preprocessor`, which fetches URLs"
        )
    fs_module = _pyarrow_fs()
    try:
        return fs_module.FileSystem.from_uri(uri)
    except (ValueError, OSError) as exc:
        raise InputError(f"cannot open {uri}: {exc}") from exc


def _expand_remote(uri: str, scheme: str, rel_base: str | None) -> list[InputFile]:
    fs_module = _pyarrow_fs()
    filesystem, root = open_filesystem(uri)
    prefix = _uri_prefix(uri, scheme, root)
    try:
        info = filesystem.get_file_info(root)
    except OSError as exc:
        raise InputError(f"cannot list {uri}: {exc}") from exc
    if info.type == fs_module.FileType.Directory:
        selector = fs_module.FileSelector(root, recursive=True)
        try:
            infos = filesystem.get_file_info(selector)
        except OSError as exc:
            raise InputError(f"cannot list {uri}: {exc}") from exc
        paths = sorted(i.path for i in infos if i.type == fs_module.FileType.File and _wanted(i.base_name))
        base = root.rstrip("/")
        return [InputFile(prefix + p, p, posixpath.relpath(p, base), scheme, base) for p in paths]
    if info.type == fs_module.FileType.File or rel_base is not None:
        base = rel_base if rel_base is not None else posixpath.dirname(root)
        return [InputFile(prefix + root, root, posixpath.relpath(root, base) if base else root, scheme, base)]
    raise InputError(f"no such file or directory: {uri}")


def _uri_prefix(uri: str, scheme: str, fs_path: str) -> str:
    """What goes before a filesystem path to make the manifest's URI: `s3://` for `bucket/key`,
    `file://` for `/dir/x.jpg`, `hdfs://host:8020` for `/dir/x.jpg`."""
    trimmed = uri.split("?", 1)[0].rstrip("/")
    path = fs_path.rstrip("/")
    if path and trimmed.endswith(path):
        return trimmed[: len(trimmed) - len(path)]
    return f"{scheme}://"


def _from_listing_file(text: str) -> list[InputFile]:
    path = Path(text)
    if path.suffix.lower() == ".parquet":
        entries = _parquet_paths(path)
    else:
        lines = path.read_text(encoding="utf-8").splitlines()
        entries = [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]
    if not entries:
        raise InputError(f"listing file {text} names no inputs")
    # Relative entries are relative to the listing file; outputs are named below the entries'
    # common directory, so a listing of /a/b/x.jpg and /a/c/y.jpg writes b/x.jpg and c/y.jpg.
    resolved = [e if _scheme_of(e) else str((path.parent / e).expanduser().resolve()) for e in entries]
    files: list[InputFile] = []
    for scheme, group in _by_scheme(resolved).items():
        if scheme:
            fs_paths = [open_filesystem(e)[1] for e in group]
            base = posixpath.dirname(fs_paths[0]) if len(fs_paths) == 1 else posixpath.commonpath(fs_paths)
            files.extend(f for e in group for f in _expand_remote(e, scheme, base))
        else:
            base = os.path.dirname(group[0]) if len(group) == 1 else os.path.commonpath(group)
            if os.path.isfile(base):
                base = os.path.dirname(base)
            files.extend(f for e in group for f in _expand(e, base))
    return files


def _by_scheme(entries: list[str]) -> dict[str, list[str]]:
    groups: dict[str, list[str]] = {}
    for entry in entries:
        groups.setdefault(_scheme_of(entry), []).append(entry)
    return groups


def _parquet_paths(path: Path) -> list[str]:
    parquet = _pyarrow_parquet()
    try:
        table = parquet.read_table(path, columns=["path"])
    except (OSError, ValueError, KeyError) as exc:
        raise InputError(f"cannot read the 'path' column of {path}: {exc}") from exc
    return [str(p) for p in table.column("path").to_pylist() if p]


def _check_unique(files: list[InputFile]) -> None:
    seen: dict[str, str] = {}
    for item in files:
        other = seen.setdefault(item.rel, item.uri)
        if other != item.uri:
            raise ConfigError(
                f"{other} and {item.uri} would both be written as {item.rel}; "
                "give their common parent directory as the input instead"
            )


def read_input(item: InputFile, max_bytes: int | None = None) -> bytes:
    """The bytes of one input (the local engine's reader; Ray reads with `read_binary_files`);
    never more than `max_bytes` + 1 are read, so an oversized file is refused without being loaded."""
    wanted = -1 if max_bytes is None else max_bytes + 1
    try:
        if not item.scheme:
            with open(item.fs_path, "rb") as handle:
                data = handle.read(wanted)
        else:
            filesystem, path = open_filesystem(item.uri)
            with filesystem.open_input_stream(path) as stream:
                data = stream.read(None if wanted < 0 else wanted)
    except FileNotFoundError:
        raise InputError("no such file or directory") from None
    except OSError as exc:
        raise InputError(f"cannot read file: {exc.strerror or exc}") from exc
    if max_bytes is not None and len(data) > max_bytes:
        raise LimitExceededError(
            f"file is over the limit of {max_bytes} bytes (raise it with PAGEFIX_MAX_FILE_BYTES or Limits.max_file_bytes)",
            limit="max_file_bytes", value=max_bytes, actual=len(data),
        )
    return data


def _pyarrow_fs() -> Any:
    try:
        import pyarrow.fs as fs_module
    except ModuleNotFoundError as exc:
        raise ConfigError(_PYARROW_HINT) from exc
    return fs_module


def _pyarrow_parquet() -> Any:
    try:
        import pyarrow.parquet as parquet
    except ModuleNotFoundError as exc:
        raise ConfigError(_PYARROW_HINT) from exc
    return parquet


_PYARROW_HINT = 'pagefix batch needs pyarrow: pip install "pagefix[batch]"'
