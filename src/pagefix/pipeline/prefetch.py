"""Overlap I/O with inference: pull the next items of an iterator on a background thread.

Decoding (Pillow, pypdfium2) and encoding (OpenCV) release the GIL, so while page n is in the
model on one core, page n+1 is decoded on the other. Items come out in the same order as the
source yields them; an exception the source raises is raised to the consumer at the same
position, after the items before it. At most `depth` items wait in the queue, so memory stays
bounded (one extra decoded page with depth 1).

`overlapped` chains such threads into a pipeline of stages (ONNX Runtime and OpenCV release the
GIL too), with a bound on the items between its first stage and its consumer.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Generic, TypeVar, cast

__all__ = ["BackgroundWriter", "close_iterator", "overlapped", "prefetch"]

T = TypeVar("T")
R = TypeVar("R")

_END = object()


def prefetch(source: Iterable[T], depth: int = 1) -> Iterator[T]:
    """Yield the items of `source`, producing up to `depth` of them ahead on a thread.

    `depth=0` is the plain iterator (no thread). Closing the returned generator early stops the
    producer after at most the item it is working on.
    """
    if depth <= 0:
        yield from source
        return
    items: queue.Queue[tuple[object, BaseException | None]] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in source:
                while not stop.is_set():
                    try:
                        items.put((item, None), timeout=0.1)
                        break
                    except queue.Full:
                        continue
                del item
                if stop.is_set():
                    return
            _put(items, stop, (_END, None))
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer, raised there
            _put(items, stop, (_END, exc))
        finally:
            if stop.is_set():
                close_iterator(source)

    worker = threading.Thread(target=produce, name="pagefix-prefetch", daemon=True)
    worker.start()
    try:
        while True:
            item, error = items.get()
            if item is _END:
                if error is not None:
                    raise error
                return
            yield cast(T, item)  # anything but the end marker is an item of `source`
            del item
    finally:
        stop.set()
        while True:  # unblock a producer waiting on a full queue
            try:
                items.get_nowait()
            except queue.Empty:
                break
        worker.join()


def overlapped(source: Iterable[Any], stages: Sequence[Callable[[Any], Any]], in_flight: int) -> Iterator[Any]:
    """Each item of `source` through `stages` in turn, the stages working on different items at
    once: every stage but the last on a thread of its own, the last in the consumer's thread.

    Items come out in order, and an exception raised by the source or a stage comes out at its
    item's position, after the items before it. At most `in_flight` items are between being taken
    from `source` and being handed on by the consumer (an item's slot frees when the consumer asks
    for the next one), so memory stays bounded; with three stages and `in_flight=3`, item n+1 is in
    the first stage while n is in the second and n-1 in the last. Closing the returned generator
    early stops the threads after at most the item each is working on.
    """
    if in_flight < 1:
        raise ValueError("in_flight must be at least 1")
    slots = threading.Semaphore(in_flight)
    closed = threading.Event()

    def admitted() -> Iterator[Any]:
        iterator = iter(source)
        try:
            while True:
                # The slot is taken before the item is made (a page decoded), not after.
                while not slots.acquire(timeout=0.1):
                    if closed.is_set():
                        return
                try:
                    item = next(iterator)
                except StopIteration:
                    return
                yield item
                del item
        finally:
            close_iterator(iterator)

    stream: Iterator[Any] = admitted()
    for stage in stages[:-1]:
        stream = prefetch(_applied(stage, stream), 1)
    last = stages[-1]
    try:
        for item in stream:
            done = last(item)
            del item
            yield done
            del done
            slots.release()
    finally:
        closed.set()
        close_iterator(stream)


def _applied(stage: Callable[[Any], Any], source: Iterator[Any]) -> Iterator[Any]:
    """`stage` of each item; closing it closes `source` (in the thread that runs both)."""
    try:
        for item in source:
            done = stage(item)
            del item
            yield done
            del done
    finally:
        close_iterator(source)


def close_iterator(iterator: object) -> None:
    """Close `iterator` if it can be closed (a generator, an open PDF's pages)."""
    close = getattr(iterator, "close", None)
    if close is not None:
        close()


def _put(items: queue.Queue, stop: threading.Event, entry: tuple[object, BaseException | None]) -> None:
    while not stop.is_set():
        try:
            items.put(entry, timeout=0.1)
            return
        except queue.Full:
            continue


class BackgroundWriter(Generic[R]):
    """Run save jobs one at a time on a thread, so encoding page n-1 overlaps the model on page n.

    `submit` waits for the previous job first (at most one page waits to be written), returns its
    result and re-raises its exception there; `wait` and `close` wait for the last one.
    """

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pagefix-writer")
        self._pending: Future[R] | None = None

    def submit(self, job: Callable[[], R]) -> R | None:
        """Start `job` after the previous one; returns the previous job's result (None if none)."""
        previous = self.wait()
        self._pending = self._pool.submit(job)
        return previous

    def wait(self) -> R | None:
        pending, self._pending = self._pending, None
        return pending.result() if pending is not None else None

    def close(self) -> None:
        try:
            self.wait()
        finally:
            self._pool.shutdown(wait=True)

    def __enter__(self) -> BackgroundWriter[R]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
