"""One batch run, whatever the engine: list the inputs, decide what is left to do, hand that to the
engine, journal the rows it sends back, and merge the journal into the manifest at the end, also
when SIGTERM or SIGINT stopped the run early."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from ..errors import ConfigError
from .listing import list_inputs
from .manifest import MANIFEST_NAME, ManifestJournal, current_manifest, merge_journal, new_run_id, require_pyarrow
from .progress import RunCounter
from .resume import plan_run
from .tree import OutputTree
from .work import IMAGE_FORMATS, OutputOptions

__all__ = ["BatchOptions", "BatchSummary", "RayOptions", "StopSignals", "run_batch"]

ENGINES = ("local", "ray")
RAY_LAYOUTS = ("fused", "staged")


@dataclass
class RayOptions:
    address: str | None = None          # else RAY_ADDRESS, else a local Ray started for this run
    num_cpus: int | None = None         # CPUs of a local Ray (default: all)
    worker_cpus: float = 1.0            # CPU share of each pipeline actor; sets its ONNX Runtime threads
    workers: int | None = None          # pipeline actors (default: cluster CPUs / worker_cpus)
    object_store_mb: int | None = None  # object store of a local Ray (default: Ray's)
    worker_gpus: float = 0.0            # GPUs per pipeline actor (with --device gpu)
    layout: str = "fused"               # fused: one actor stage; staged: prepare / UVDoc / finish pools
    unwarp_gpus: float = 0.0            # staged: GPUs per UVDoc actor (0: UVDoc on CPUs)
    unwarp_workers: int | None = None   # staged: UVDoc actors (default: cluster GPUs / unwarp_gpus, else 1)
    unwarp_batch_size: int = 8          # staged: pages per UVDoc model call


@dataclass
class BatchOptions:
    inputs: list[str]
    save_path: str
    engine: str = "local"
    pipeline: dict[str, Any] = field(default_factory=dict)   # DocPreprocessor keyword arguments
    output: OutputOptions = field(default_factory=OutputOptions)
    retry_errors: bool = True
    progress: bool = False
    ray: RayOptions = field(default_factory=RayOptions)


@dataclass
class BatchSummary:
    run_id: str
    inputs_listed: int
    inputs_run: int
    inputs_done: int                 # skipped: complete before this run
    inputs_failed_skipped: int       # skipped: failed before, --no_retry_errors
    inputs_retried: int
    pages_ok: int
    pages_failed: int
    elapsed_s: float
    manifest_path: str
    stopped_by: str | None = None    # "SIGTERM" / "SIGINT" when a signal ended the run early
    pages_by_node: dict[str, int] = field(default_factory=dict)
    manifest_errors: int = 0         # error rows in the whole manifest after this run

    @property
    def exit_signal(self) -> int | None:
        return {"SIGTERM": 143, "SIGINT": 130}.get(self.stopped_by or "")


class StopSignals:
    """SIGTERM and SIGINT set `event` (the engines stop between pages) instead of killing the run;
    `install()` may be called again after a library (Ray) put in handlers of its own."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self.received: str | None = None
        self._previous: dict[int, Any] = {}

    def _handle(self, signum: int, frame: object) -> None:
        self.received = signal.Signals(signum).name
        self.event.set()

    def install(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        for signum in (signal.SIGTERM, signal.SIGINT):
            previous = signal.signal(signum, self._handle)
            self._previous.setdefault(signum, previous)

    def restore(self) -> None:
        for signum, previous in self._previous.items():
            signal.signal(signum, previous)
        self._previous.clear()

    @contextlib.contextmanager
    def installed(self) -> Iterator[StopSignals]:
        self.install()
        try:
            yield self
        finally:
            self.restore()


def run_batch(options: BatchOptions, signals: StopSignals | None = None) -> BatchSummary:
    """Run (or resume) a batch job and return what it did.

    >>> run_batch(BatchOptions(["scans/"], "out/")).pages_ok  # doctest: +SKIP
    1290
    """
    _check(options)
    require_pyarrow()
    signals = signals or StopSignals()
    tree = OutputTree(options.save_path)
    listing = list_inputs(options.inputs)
    plan = plan_run(listing.files, current_manifest(tree), tree, options.retry_errors, options.output.save_pdf)
    run_id = new_run_id()
    journal = ManifestJournal(tree, run_id)
    counter = RunCounter(len(plan.todo), options.progress)

    def sink(rows: list[dict[str, Any]], node: str | None = None) -> None:
        journal.add(rows)
        counter.add(rows, node)

    try:
        with signals.installed():
            if plan.todo and options.engine == "ray":
                from .ray_engine import run_ray  # Ray is imported on this path only

                run_ray(plan.todo, options, run_id, signals, sink)
            elif plan.todo:
                from .local import run_local

                run_local(plan.todo, options, run_id, signals.event, sink)
    finally:
        counter.close()
        journal.flush()
        manifest = merge_journal(tree)
    import pyarrow.compute as pc

    return BatchSummary(
        run_id=run_id,
        inputs_listed=len(listing.files),
        inputs_run=counter.inputs,
        inputs_done=plan.done,
        inputs_failed_skipped=plan.failed_skipped,
        inputs_retried=plan.retried,
        pages_ok=counter.pages_ok,
        pages_failed=counter.pages_failed,
        elapsed_s=counter.elapsed,
        manifest_path=tree.full(MANIFEST_NAME),
        stopped_by=signals.received,
        pages_by_node=dict(counter.by_node),
        manifest_errors=int(pc.sum(pc.is_valid(manifest["error"])).as_py() or 0),
    )


def _check(options: BatchOptions) -> None:
    if options.engine not in ENGINES:
        raise ConfigError(f"engine must be one of {', '.join(ENGINES)}, got {options.engine!r}")
    if options.output.image_format not in IMAGE_FORMATS:
        raise ConfigError(f"image format must be one of {', '.join(IMAGE_FORMATS)}, got {options.output.image_format!r}")
    if not 1 <= options.output.jpeg_quality <= 100:
        raise ConfigError(f"JPEG quality must be 1-100, got {options.output.jpeg_quality}")
    if options.output.pdf_dpi <= 0:
        raise ConfigError(f"PDF resolution must be positive, got {options.output.pdf_dpi}")
    if not options.inputs:
        raise ConfigError("no inputs given")
    if options.ray.worker_cpus <= 0.1:
        raise ConfigError(f"worker CPUs must be more than 0.1, got {options.ray.worker_cpus}")
    ray = options.ray
    if ray.layout not in RAY_LAYOUTS:
        raise ConfigError(f"Ray layout must be one of {', '.join(RAY_LAYOUTS)}, got {ray.layout!r}")
    if ray.unwarp_gpus < 0 or ray.unwarp_batch_size < 1 or (ray.unwarp_workers is not None and ray.unwarp_workers < 1):
        raise ConfigError("UVDoc actors need GPUs >= 0, a batch size >= 1 and at least one actor")
    if ray.layout == "staged" and options.output.save_pdf:
        # A document's pages finish in different actors; the PDF writer needs them in one place.
        raise ConfigError("--save_pdf needs --ray_layout fused")
