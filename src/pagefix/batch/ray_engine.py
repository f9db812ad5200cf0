"""`--engine ray`: the same per-file work (`work.FileProcessor`) inside Ray Data actors.

What shapes it (each learnt the hard way by a prototype):
- Files are read with `read_binary_files`, so decoding and EXIF stay ours (`read_images` ignores
  EXIF and fails the dataset on one corrupt file). Missing files are skipped by the reader and
  recorded by the driver afterwards, with the local engine's words.
- By default one class-based `map_batches` stage does decode -> orient -> unwarp -> encode ->
  write: one pipeline (one ONNX Runtime session per model) per actor, its threads set from the
  actor's CPU share (ONNX Runtime ignores OMP_NUM_THREADS). Each actor reserves its share less
  `READ_CPUS`, which the light read tasks get, since actors that reserve every CPU starve the
  reads and the dataset hangs (ray-project/ray#44687).
- `--ray_layout staged` splits that stage in three (`ray_stages`): decode and prepare on CPU
  actors, UVDoc on an actor pool with GPUs, resample, encode and write on CPU actors; the
  pipeline's own stage methods run in each, and full-resolution pages cross the object store.
- `max_errored_blocks` stays 0: a failing row is an error row of the manifest already; a dropped
  block would silently lose rows.
- Batches arrive read-only (zero copy) and are never written to; every output block is a pyarrow
  table with an explicit schema (the manifest's; the staged layout's `stage_schema` between its
  stages), so columns keep one type across blocks.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError
from .listing import InputFile, Namer, filesystem_groups, open_filesystem
from .manifest import rows_to_table

if TYPE_CHECKING:
    from .runner import BatchOptions, RayOptions, StopSignals

__all__ = ["run_ray"]

_EXTRA_HINT = '--engine ray needs the ray extra: pip install "pagefix[ray]"'
#: CPU share of one read task; the pipeline actors leave this much of theirs free for it.
READ_CPUS = 0.1


def run_ray(files: list[InputFile], options: BatchOptions, run_id: str, signals: StopSignals,
            sink: Callable[..., None]) -> None:
    ray = _import_ray()
    started_here = _connect(ray, options)
    signals.install()  # ray.init put in its own SIGTERM handler (it exits at once)
    try:
        dataset = _build(ray, files, options, run_id)
        seen: set[str] = set()
        for batch in dataset.iter_batches(batch_size=None, batch_format="pyarrow", prefetch_batches=0):
            nodes = batch.column("node").to_pylist()
            rows = batch.drop_columns(["node"]).to_pylist()
            for node in sorted(set(nodes)):
                sink([r for r, n in zip(rows, nodes) if n == node], node)
            seen.update(row["input_path"] for row in rows)
            if signals.event.is_set():
                break
        else:
            # The reader skips files that vanished after listing; record them as the local engine does.
            from .work import missing_file_row

            missing = [missing_file_row(item, run_id) for item in files if item.uri not in seen]
            if missing:
                sink(missing)
    finally:
        if started_here:
            ray.shutdown()


def _import_ray() -> Any:
    try:
        import ray
        import ray.data  # noqa: F401
    except ModuleNotFoundError as exc:
        raise ConfigError(_EXTRA_HINT) from exc
    return ray


def _connect(ray: Any, options: BatchOptions) -> bool:
    """Join `--ray_address`, else $RAY_ADDRESS, else start a local Ray; True when started here."""
    settings = options.ray
    address = settings.address or os.environ.get("RAY_ADDRESS") or None
    if ray.is_initialized():
        return False
    # Ray's notices (token auth on, progress bars off) would break "only the summary unless on a
    # terminal"; with -v they are shown.
    level = logging.INFO if logging.getLogger("pagefix").isEnabledFor(logging.INFO) else logging.ERROR
    for name in ("ray", "ray.data", "ray._private.authentication.authentication_token_setup"):
        logging.getLogger(name).setLevel(level)
    quiet = {"log_to_driver": level <= logging.INFO, "logging_level": level, "include_dashboard": False}
    if address:
        ray.init(address=address, **quiet)
        return True  # ray.shutdown() only disconnects from a cluster it did not start
    store = settings.object_store_mb * 1024 * 1024 if settings.object_store_mb else None
    # "local": a new Ray for this run, never one that `ray start` left running on this machine.
    ray.init(address="local", num_cpus=settings.num_cpus, object_store_memory=store, **quiet)
    return True


def _build(ray: Any, files: list[InputFile], options: BatchOptions, run_id: str) -> Any:
    context = ray.data.DataContext.get_current()
    context.max_errored_blocks = 0
    context.enable_progress_bars = False
    context.print_on_execution_start = False
    settings = options.ray
    cluster_cpus = float(ray.cluster_resources().get("CPU", 1.0))
    workers = settings.workers or max(1, int(cluster_cpus // settings.worker_cpus))
    threads = max(1, round(settings.worker_cpus))
    spec = {
        "pipeline": {**options.pipeline, "cpu_threads": options.pipeline.get("cpu_threads") or threads},
        "threads": threads,
        "save_path": options.save_path,
        "output": options.output,
        "run_id": run_id,
    }
    reads = []
    for group in filesystem_groups(files).values():
        namer = Namer.for_files(group)
        filesystem = open_filesystem(group[0].uri)[0] if namer.scheme else None
        read = ray.data.read_binary_files(
            [item.fs_path for item in group], include_paths=True, filesystem=filesystem,
            ignore_missing_paths=True, num_cpus=READ_CPUS,
            # Small collections: a block per file, so every actor gets work; large ones: Ray's choice.
            override_num_blocks=len(group) if len(group) <= 4 * workers * 8 else None,
        )
        # A plain function with the read's resources: Ray fuses it into the read tasks.
        reads.append(read.map_batches(_name_rows, fn_args=(namer,), batch_format="pyarrow",
                                      batch_size=None, num_cpus=READ_CPUS, zero_copy_batch=True))
    dataset = reads[0].union(*reads[1:]) if len(reads) > 1 else reads[0]
    if settings.layout == "staged":
        return _staged(ray, dataset, spec, settings, cluster_cpus, options.pipeline.get("cpu_threads"))
    # Ray Data restarts a crashed actor (an OOM kill) and retries its rows; its core worker logs one
    # line about restartable actors whose arguments live in the object store, which is expected.
    return dataset.map_batches(
        _FusedWorker, fn_constructor_args=(spec,), batch_size=1, batch_format="pyarrow",
        num_cpus=max(settings.worker_cpus - READ_CPUS, READ_CPUS), num_gpus=settings.worker_gpus or None,
        compute=ray.data.ActorPoolStrategy(size=workers), zero_copy_batch=True,
    )


def _staged(ray: Any, dataset: Any, spec: dict[str, Any], settings: RayOptions, cluster_cpus: float,
            cpu_threads: int | None) -> Any:
    """Three actor pools (`ray_stages`): prepare on CPUs, UVDoc on GPUs (CPUs with 0 GPUs), finish on
    CPUs. A CPU worker is a prepare actor and a finish actor sharing `worker_cpus`; each UVDoc actor
    reserves `worker_cpus` too (it feeds its GPU), and the CPU workers default to what is left."""
    from ..pipeline.settings import load_config
    from .ray_stages import FinishWorker, PrepareWorker, UnwarpWorker

    gpus = settings.unwarp_gpus
    unwarpers = settings.unwarp_workers or (
        max(1, int(float(ray.cluster_resources().get("GPU", 0.0)) // gpus)) if gpus else 1)
    workers = settings.workers or max(1, int((cluster_cpus - unwarpers * settings.worker_cpus) // settings.worker_cpus))
    half = max((settings.worker_cpus - READ_CPUS) / 2, READ_CPUS)
    threads = max(1, round(settings.worker_cpus / 2))
    cpu_spec = {**spec, "threads": threads, "pipeline": {**spec["pipeline"], "cpu_threads": cpu_threads or threads}}
    gpu_spec = {**spec, "unwarp_device": "gpu" if gpus else "cpu"}
    # Stage 3 takes the pipeline's batch of pages (its second look at them is one classifier call).
    pipeline = spec["pipeline"]
    config = load_config(pipeline.get("paddlex_config")).merged(batch_size=pipeline.get("batch_size"))
    pages_per_call = config.batch_size
    prepared = dataset.map_batches(
        PrepareWorker, fn_constructor_args=(cpu_spec,), batch_size=1, batch_format="pyarrow", num_cpus=half,
        compute=ray.data.ActorPoolStrategy(size=workers), zero_copy_batch=True,
    )
    gridded = prepared.map_batches(
        UnwarpWorker, fn_constructor_args=(gpu_spec,), batch_size=settings.unwarp_batch_size,
        batch_format="pyarrow", num_cpus=max(settings.worker_cpus - READ_CPUS, READ_CPUS), num_gpus=gpus or None,
        compute=ray.data.ActorPoolStrategy(size=unwarpers), zero_copy_batch=True,
    )
    return gridded.map_batches(
        FinishWorker, fn_constructor_args=(cpu_spec,), batch_size=pages_per_call, batch_format="pyarrow",
        num_cpus=half, compute=ray.data.ActorPoolStrategy(size=workers), zero_copy_batch=True,
    )


def _name_rows(batch: Any, namer: Namer) -> Any:
    """Adds each file's manifest URI and output name (the `path` column is the filesystem's)."""
    import pyarrow as pa

    items = [namer.item(path) for path in batch.column("path").to_pylist()]
    batch = batch.append_column("uri", pa.array([i.uri for i in items], pa.string()))
    return batch.append_column("rel", pa.array([i.rel for i in items], pa.string()))


class _FusedWorker:
    """One pipeline per actor, threads from its CPU share; decode to write for each file."""

    def __init__(self, spec: dict[str, Any]) -> None:
        import cv2
        import ray

        from ..pipeline.preprocessor import DocPreprocessor
        from .tree import OutputTree
        from .work import FileProcessor

        cv2.setNumThreads(spec["threads"])  # OpenCV would otherwise use every core of the node
        self.node = ray.get_runtime_context().get_node_id()
        pipeline = DocPreprocessor(**spec["pipeline"])
        self.processor = FileProcessor(pipeline, OutputTree(spec["save_path"]), spec["output"], spec["run_id"])

    def _table(self, rows: list[dict[str, Any]]) -> Any:
        import pyarrow as pa

        table = rows_to_table(rows)
        return table.append_column("node", pa.array([self.node] * len(rows), pa.string()))

    def __call__(self, batch: Any) -> Any:
        rows: list[dict[str, Any]] = []
        for data, uri, rel, path in zip(batch.column("bytes"), batch.column("uri").to_pylist(),
                                        batch.column("rel").to_pylist(), batch.column("path").to_pylist()):
            item = InputFile(uri, path, rel)
            rows.extend(self.processor.process(item, data.as_py))
        return self._table(rows)
