"""`--engine local`: one pipeline, a plain loop over the inputs. The next file is read in a thread
while the current one is processed (it matters on object stores), nothing more; no Ray here."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

from ..pipeline.preprocessor import DocPreprocessor
from .listing import InputFile, read_input
from .tree import OutputTree
from .work import FileProcessor

if TYPE_CHECKING:
    from .runner import BatchOptions

__all__ = ["run_local"]


def run_local(files: list[InputFile], options: BatchOptions, run_id: str, stop: threading.Event,
              sink: Callable[[list[dict[str, Any]]], None]) -> None:
    pipeline = DocPreprocessor(**options.pipeline)
    processor = FileProcessor(pipeline, OutputTree(options.save_path), options.output, run_id, stop)
    max_bytes = pipeline.limits.max_file_bytes
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="pagefix-read") as reader:
        # A failed read re-raises from `result()` inside `process`, which records it on the input's row.
        pending: list[Future[bytes]] = [reader.submit(read_input, files[0], max_bytes)] if files else []
        for position, item in enumerate(files):
            if stop.is_set():
                break
            current = pending.pop()  # this input's read, started one turn ago
            following = position + 1
            if following < len(files):
                pending.append(reader.submit(read_input, files[following], max_bytes))
            sink(processor.process(item, current.result))
        for future in pending:
            future.cancel()

