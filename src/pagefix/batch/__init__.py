"""`pagefix batch`: the pipeline over whole collections, resumable, on one machine or a Ray cluster.

>>> from pagefix.batch import BatchOptions, run_batch  # doctest: +SKIP
>>> run_batch(BatchOptions(["scans/"], "out/")).pages_ok  # doctest: +SKIP

Layout: `listing` (inputs to files), `work` (one file: decode, pipeline, encode, write, rows; the
same code for both engines), `manifest` (Parquet journal and merged manifest), `resume` (what is
left to do), `local` and `ray_engine` (the engines; `ray_stages` holds the actors of its staged
layout), `runner` (one run), `command` (the CLI). Only `ray_engine` and `ray_stages` import Ray,
and only when `--engine ray` is chosen.

Internal: these modules may change between releases; the public API is what `pagefix`
exports (`pagefix.__all__`); the runner's own interface is `pagefix batch`.
"""

from .manifest import MANIFEST_NAME
from .runner import BatchOptions, BatchSummary, RayOptions, run_batch
from .work import OutputOptions

__all__ = ["MANIFEST_NAME", "BatchOptions", "BatchSummary", "OutputOptions", "RayOptions", "run_batch"]
