"""`--ray_layout staged`: the pipeline's three page stages (`pagefix.pipeline.stages`) as three Ray Data
actor pools, so UVDoc can run on GPU nodes and everything else on CPU nodes:

1. `PrepareWorker` (CPU): one input file's bytes -> decode -> `DocPreprocessor.prepare_pages`;
2. `UnwarpWorker` (GPU, or CPU with 0 GPUs): `DocPreprocessor.find_grids` on a batch of pages,
   reading only their small model inputs;
3. `FinishWorker` (CPU): `DocPreprocessor.finish_pages` -> encode -> write -> manifest rows.

Between the stages a row is one page (or an input's error row, passed through as it is): the
manifest's columns, plus `rel` (the output name's base) and pickled stage state in binary
columns. The `page` column holds the decoded page and the page turned upright, at full resolution:
it travels through the object store twice. Every block has the same explicit schema, so a column
keeps one type across blocks. The per-file work (size check, decoding, error rows, `n_pages`) is
`work.FileProcessor`'s, with the chunk step swapped for stage 1, and the writing is its `record`:
the manifest comes out as the fused layout's.
"""

from __future__ import annotations

import logging
import pickle
import time
from typing import Any

from ..inputs import Page, PageFailure
from ..pipeline.stages import PreparedPage
from .listing import InputFile
from .manifest import COLUMNS, require_pyarrow, rows_to_table

__all__ = ["FinishWorker", "PrepareWorker", "UnwarpWorker", "stage_schema"]

logger = logging.getLogger(__name__)


def stage_schema(state: str) -> Any:
    """Rows between stages: the manifest's columns, `rel`, the pickled `page`, and `state` (the
    pickled `unwarp_input` after stage 1, the pickled `grid` after stage 2), null on error rows."""
    pa = require_pyarrow()
    fields = [(name, getattr(pa, kind)()) for name, kind in COLUMNS]
    return pa.schema(fields + [("rel", pa.string()), ("page", pa.large_binary()), (state, pa.large_binary())])


def _pipeline(spec: dict[str, Any], **overrides: Any) -> Any:
    import cv2

    from ..pipeline.preprocessor import DocPreprocessor

    cv2.setNumThreads(spec["threads"])  # OpenCV would otherwise use every core of the node
    return DocPreprocessor(**{**spec["pipeline"], **overrides})


def _pickled(value: Any) -> bytes | None:
    return None if value is None else pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)


def _unpickled(value: Any) -> Any:
    """A pyarrow binary scalar back to its object (None for null), read from Arrow's buffer."""
    return None if not value.is_valid else pickle.loads(value.as_buffer())


class PrepareWorker:
    """Stage 1: decode each file and prepare its pages; a CPU actor with its own pipeline."""

    def __init__(self, spec: dict[str, Any]) -> None:
        from .tree import OutputTree
        from .work import FileProcessor

        self.pipeline = _pipeline(spec, device="cpu")
        self.settings = self.pipeline.resolve_settings({})
        self.processor = FileProcessor(self.pipeline, OutputTree(spec["save_path"]), spec["output"], spec["run_id"])

    def _prepare_chunk(self, item: InputFile, chunk: list[Page | PageFailure], rows: list[dict[str, Any]],
                       pdf: Any, started: float) -> float:
        from .work import page_numbers

        indices = page_numbers(chunk)
        prepared = self.pipeline.prepare_pages(chunk, self.settings)
        del chunk[:]
        share = len(prepared)
        for index, page in zip(indices, prepared):
            if isinstance(page, PageFailure):
                rows.append(self.processor.record(item, index, page, started, share))
                continue
            row = self.processor.row(item, index, started, share=share)
            row["page"] = page
            rows.append(row)
        return time.perf_counter()

    def __call__(self, batch: Any) -> Any:
        pa = require_pyarrow()
        rows: list[dict[str, Any]] = []
        for data, uri, rel, path in zip(batch.column("bytes"), batch.column("uri").to_pylist(),
                                        batch.column("rel").to_pylist(), batch.column("path").to_pylist()):
            for row in self.processor.process(InputFile(uri, path, rel), data.as_py, self._prepare_chunk):
                page: PreparedPage | None = row.pop("page", None)
                unwarp_input = None
                if page is not None:
                    unwarp_input, page.unwarp_input = page.unwarp_input, None  # its own column: stage 2 reads only that
                row.update(rel=rel, page=_pickled(page), unwarp_input=_pickled(unwarp_input))
                rows.append(row)
        return pa.Table.from_pylist(rows, schema=stage_schema("unwarp_input"))


class UnwarpWorker:
    """Stage 2: UVDoc on a batch of pages' small inputs; the full-resolution column passes through
    untouched (never decoded here)."""

    def __init__(self, spec: dict[str, Any]) -> None:
        # UVDoc only: the orientation model is not loaded in this stage.
        self.pipeline = _pipeline(spec, device=spec["unwarp_device"], use_doc_orientation_classify=False)
        self.settings = self.pipeline.resolve_settings({})

    def __call__(self, batch: Any) -> Any:
        pa = require_pyarrow()
        started = time.perf_counter()
        column = batch.column("unwarp_input")
        inputs = [_unpickled(value) for value in column]
        errors = batch.column("error").to_pylist()
        try:
            grids = [_pickled(g) if i is not None else None
                     for i, g in zip(inputs, self.pipeline.find_grids(inputs, self.settings))]
        except Exception as exc:  # noqa: BLE001 - a bug on odd input must not end a run of millions
            logger.warning("unexpected error finding grids", exc_info=True)
            grids = [None] * len(inputs)
            errors = [e if i is None else _unexpected(exc) for e, i in zip(errors, inputs)]
        share = (time.perf_counter() - started) * 1000.0 / max(1, sum(i is not None for i in inputs))
        elapsed = [ms + share if i is not None else ms for ms, i in zip(batch.column("elapsed_ms").to_pylist(), inputs)]
        schema = stage_schema("grid")
        table = batch.drop_columns(["unwarp_input", "elapsed_ms", "error"])
        table = table.append_column("grid", pa.array(grids, pa.large_binary()))
        table = table.append_column(schema.field("elapsed_ms"), pa.array(elapsed, pa.float32()))
        table = table.append_column(schema.field("error"), pa.array(errors, pa.string()))
        return table.select(schema.names).cast(schema)


class FinishWorker:
    """Stage 3: resample, look again, turn, encode, write; the manifest rows of a batch of pages."""

    def __init__(self, spec: dict[str, Any]) -> None:
        import ray

        from .tree import OutputTree
        from .work import FileProcessor

        self.node = ray.get_runtime_context().get_node_id()
        self.pipeline = _pipeline(spec, device="cpu")
        self.settings = self.pipeline.resolve_settings({})
        self.processor = FileProcessor(self.pipeline, OutputTree(spec["save_path"]), spec["output"], spec["run_id"])

    def __call__(self, batch: Any) -> Any:
        pa = require_pyarrow()
        started = time.perf_counter()
        manifest_names = [name for name, _ in COLUMNS]
        rows = batch.select(manifest_names).to_pylist()
        rels = batch.column("rel").to_pylist()
        # Pages still in work; a page that stage 2 failed on has its error row already (n_pages
        # null, as the fused layout's rows after an unexpected error: the input runs again).
        pending = []
        for i, value in enumerate(batch.column("page")):
            if value.is_valid and rows[i]["error"] is None:
                pending.append(i)
            elif value.is_valid:
                rows[i]["n_pages"] = None
        try:
            prepared = [_unpickled(batch.column("page")[i]) for i in pending]
            grids = [_unpickled(batch.column("grid")[i]) for i in pending]
            results = self.pipeline.finish_pages(prepared, grids, self.settings)
            del prepared, grids
            for i, result in zip(pending, results):
                row = rows[i]
                item = InputFile(row["input_path"], "", rels[i])
                # The page's share of this batch, on top of what the earlier stages spent on it.
                done = self.processor.record(item, row["page_index"], result, started, len(pending))
                rows[i] = {**done, "n_pages": row["n_pages"], "elapsed_ms": done["elapsed_ms"] + row["elapsed_ms"]}
        except Exception as exc:  # noqa: BLE001 - a bug on odd input must not end a run of millions
            logger.warning("unexpected error finishing pages", exc_info=True)
            for i in pending:  # n_pages null: the inputs are done again by the next run
                rows[i] = {**rows[i], "error": _unexpected(exc), "n_pages": None}
        table = rows_to_table(rows)
        return table.append_column("node", pa.array([self.node] * len(rows), pa.string()))


def _unexpected(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"
