"""The manifest: one Parquet row per page, the same schema from both engines.

During a run, rows are appended to small Parquet files under `OUT/journal/` (a crash loses at most
the last few seconds of rows, and their pages are simply done again). When the run ends, cleanly or
by a signal, the journal is merged into `OUT/manifest/pages.parquet`: for each input, the rows of
the latest run that processed it, sorted by input and page. Run ids sort by start time.
"""

from __future__ import annotations

import io
import time
import uuid
from datetime import datetime, timezone
from typing import Any

from ..errors import ConfigError
from .tree import OutputTree

__all__ = ["MANIFEST_NAME", "ManifestJournal", "current_manifest", "merge_journal", "new_run_id", "schema"]

MANIFEST_NAME = "manifest/pages.parquet"
JOURNAL_DIR = "journal"

#: Column order and types; null where a value does not apply (an error row has no angle).
COLUMNS: tuple[tuple[str, str], ...] = (
    ("input_path", "string"),
    ("page_index", "int32"),      # null when the input failed before any page was read
    ("n_pages", "int32"),         # pages of the input; null when unknown (unreadable, or interrupted)
    ("angle", "int16"),           # 0/90/180/270; -1 when classification was off
    # Scores are float64 so that they read back as the rounded numbers written (a float32 0.8992 reads
    # back as 0.8992000222206116): ANGLE_SCORE_DECIMALS and WARP_SCORE_DECIMALS of pipeline/result.py.
    ("angle_score", "float64"),   # rounded to 4 decimals, as in every JSON of pagefix
    ("unwarped", "bool_"),        # UVDoc's grid was applied (False: off, or the page was found flat)
    ("warp_score", "float64"),    # the flat-page probe's score (per mille), rounded to 3 decimals
    ("skew_angle", "float64"),    # the fine skew in degrees (counter-clockwise), rounded to 2 decimals
    ("output_path", "string"),    # relative to the output root
    ("width", "int32"),
    ("height", "int32"),
    ("error", "string"),          # "ErrorType: message"; null for a good page
    ("run_id", "string"),
    ("elapsed_ms", "float32"),    # this page's share of read, decode, models, encode and write
    ("orientation_model", "string"),  # model name @ first 12 hex digits of its ONNX file's SHA-256
    ("unwarping_model", "string"),
)


def schema() -> Any:
    pa = require_pyarrow()
    return pa.schema([(name, getattr(pa, kind)()) for name, kind in COLUMNS])


def require_pyarrow() -> Any:
    try:
        import pyarrow
    except ModuleNotFoundError as exc:
        raise ConfigError('pagefix batch needs pyarrow: pip install "pagefix[batch]"') from exc
    return pyarrow


def rows_to_table(rows: list[dict[str, Any]]) -> Any:
    pa = require_pyarrow()
    return pa.Table.from_pylist(rows, schema=schema())


def new_run_id() -> str:
    """Sortable by start time (UTC, microseconds), unique by a random suffix."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S.%fZ")
    return f"{stamp}-{uuid.uuid4().hex[:6]}"


class ManifestJournal:
    """Appends rows to the journal in Parquet parts, every `flush_rows` rows or `flush_seconds`."""

    def __init__(self, tree: OutputTree, run_id: str, flush_rows: int = 2000, flush_seconds: float = 10.0) -> None:
        self.tree = tree
        self.run_id = run_id
        self.flush_rows = flush_rows
        self.flush_seconds = flush_seconds
        self._rows: list[dict[str, Any]] = []
        self._parts = 0
        self._last = time.monotonic()

    def add(self, rows: list[dict[str, Any]]) -> None:
        self._rows.extend(rows)
        if len(self._rows) >= self.flush_rows or time.monotonic() - self._last >= self.flush_seconds:
            self.flush()

    def flush(self) -> None:
        self._last = time.monotonic()
        if not self._rows:
            return
        table = rows_to_table(self._rows)
        self.tree.write(f"{JOURNAL_DIR}/{self.run_id}-{self._parts:06d}.parquet", _parquet_bytes(table))
        self._parts += 1
        self._rows = []


def current_manifest(tree: OutputTree) -> Any:
    """The manifest as it stands: the merged file plus the journal, latest run per input."""
    return _latest(_read_all(tree)[0])


def merge_journal(tree: OutputTree) -> Any:
    """Fold the journal into `manifest/pages.parquet` (atomically) and remove the parts merged."""
    table, parts = _read_all(tree)
    merged = _latest(table)
    if parts or not tree.exists(MANIFEST_NAME):
        tree.write(MANIFEST_NAME, _parquet_bytes(merged))
        for part in parts:
            tree.delete(part)
    return merged


def _read_all(tree: OutputTree) -> tuple[Any, list[str]]:
    pa = require_pyarrow()
    import pyarrow.parquet as pq

    tables = []
    if tree.exists(MANIFEST_NAME):
        tables.append(pq.read_table(io.BytesIO(tree.read(MANIFEST_NAME))))
    parts = sorted(name for name in tree.list(JOURNAL_DIR) if name.endswith(".parquet"))
    tables.extend(pq.read_table(io.BytesIO(tree.read(part))) for part in parts)
    wanted = schema()
    tables = [t.select(wanted.names).cast(wanted) for t in tables]
    return (pa.concat_tables(tables) if tables else wanted.empty_table()), parts


def _latest(table: Any) -> Any:
    """Each input's rows from the latest run that touched it, sorted by input and page."""
    if table.num_rows == 0:
        return table
    import pyarrow.compute as pc

    newest = table.group_by("input_path").aggregate([("run_id", "max")])
    joined = table.join(newest, "input_path")
    kept = joined.filter(pc.equal(joined["run_id"], joined["run_id_max"])).drop_columns(["run_id_max"])
    return kept.select(schema().names).sort_by([("input_path", "ascending"), ("page_index", "ascending")])


def _parquet_bytes(table: Any) -> bytes:
    import pyarrow.parquet as pq

    buffer = io.BytesIO()
    pq.write_table(table, buffer, compression="zstd")
    return buffer.getvalue()
