"""`--engine local`: one pipeline, a plain loop over the inputs, no Ray. The next file is read in a
thread while the current one is processed (it matters on object stores), and with the pipeline's
pages overlapped (`DocPreprocessor.pages_in_flight` > 1) two files are processed at once on
threads, so a folder of photos keeps two cores busy (measured in bench/batch.py --photos)."""

from __future__ import annotations

import threading
from collections import deque
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

#: Files processed at once when the pipeline overlaps pages: each holds one page at a time, so
#: memory stays at two pages (ONNX Runtime, OpenCV and the codecs release the GIL).
FILES_IN_FLIGHT = 2


def run_local(files: list[InputFile], options: BatchOptions, run_id: str, stop: threading.Event,
              sink: Callable[[list[dict[str, Any]]], None]) -> None:
    pipeline = DocPreprocessor(**options.pipeline)
    processor = FileProcessor(pipeline, OutputTree(options.save_path), options.output, run_id, stop)
    max_bytes = pipeline.limits.max_file_bytes
    at_once = FILES_IN_FLIGHT if pipeline.pages_in_flight > 1 else 1
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="pagefix-read") as reader, \
            ThreadPoolExecutor(max_workers=at_once, thread_name_prefix="pagefix-file") as workers:
        # A failed read re-raises from `result()` inside `process`, which records it on the input's row.
        pending: list[Future[bytes]] = [reader.submit(read_input, files[0], max_bytes)] if files else []
        running: deque[Future[list[dict[str, Any]]]] = deque()
        for position, item in enumerate(files):
            if stop.is_set():
                break
            current = pending.pop()  # this input's read, started one turn ago
            following = position + 1
            if following < len(files):
                pending.append(reader.submit(read_input, files[following], max_bytes))
            if at_once == 1:
                sink(processor.process(item, current.result))
                continue
            if len(running) >= at_once:
                sink(running.popleft().result())  # rows in input order
            running.append(workers.submit(processor.process, item, current.result))
        while running:
            sink(running.popleft().result())
        for future in pending:
            future.cancel()
