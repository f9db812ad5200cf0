"""A bounded pool for the CPU-bound work: a fixed number of threads and a fixed number of admitted
requests. A request is admitted (or shed) before its body is read, and its place is given back
only when its job has really finished, so a timed-out job still counts until it stops.

Threads, not processes: ONNX Runtime, OpenCV and Pillow release the GIL while they work, and
threads share one copy of the model sessions (ONNX Runtime's `run` is safe to call concurrently).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

__all__ = ["InferencePool", "JobCancelled", "Ticket"]

T = TypeVar("T")


class JobCancelled(Exception):
    """Raised inside a job that was told to stop (its request timed out)."""


class Ticket:
    """One admitted request's place in the pool; released exactly once."""

    def __init__(self, pool: InferencePool) -> None:
        self._pool = pool
        self._released = False
        self.submitted = False
        #: Set when the request gave up waiting; the job checks it between pages.
        self.cancelled = threading.Event()

    def release(self) -> None:
        with self._pool._lock:  # noqa: SLF001
            if self._released:
                return
            self._released = True
            self._pool._admitted -= 1  # noqa: SLF001

    def check(self) -> None:
        """Raise `JobCancelled` if the request stopped waiting for this job."""
        if self.cancelled.is_set():
            raise JobCancelled


class InferencePool:
    def __init__(self, workers: int, max_queue: int) -> None:
        self.workers = workers
        self.capacity = workers + max_queue
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="pagefix-worker")
        self._lock = threading.Lock()
        self._admitted = 0
        self._running = 0
        self._closed = False

    @property
    def admitted(self) -> int:
        """Requests holding a place: running or waiting for a worker."""
        return self._admitted

    @property
    def running(self) -> int:
        return self._running

    @property
    def closed(self) -> bool:
        return self._closed

    def try_admit(self) -> Ticket | None:
        """A place for one more request, or None when the pool is full or closing."""
        with self._lock:
            if self._closed or self._admitted >= self.capacity:
                return None
            self._admitted += 1
            return Ticket(self)

    async def run(self, ticket: Ticket, timeout: float, fn: Callable[..., T], *args: Any) -> T:
        """Run `fn(*args)` on a worker; raise `TimeoutError` after `timeout` seconds (the job is
        told to stop and keeps its place until it does)."""
        ticket.submitted = True
        try:
            future: Future[T] = self._executor.submit(self._call, ticket, fn, *args)
        except RuntimeError:  # the executor is shut down
            ticket.release()
            raise
        future.add_done_callback(lambda _f: ticket.release())
        waiter = asyncio.wrap_future(future)
        try:
            return await asyncio.wait_for(asyncio.shield(waiter), timeout)
        except (asyncio.TimeoutError, asyncio.CancelledError):
            ticket.cancelled.set()
            future.cancel()  # a job still waiting in the queue never starts
            waiter.add_done_callback(_discard)
            raise

    def _call(self, ticket: Ticket, fn: Callable[..., T], *args: Any) -> T:
        ticket.check()
        with self._lock:
            self._running += 1
        try:
            return fn(*args)
        finally:
            with self._lock:
                self._running -= 1

    def close(self) -> None:
        """Admit nothing more (in-flight jobs go on)."""
        with self._lock:
            self._closed = True

    def shutdown(self) -> None:
        """Admit nothing more and wait for every running job to end."""
        self.close()
        self._executor.shutdown(wait=True)


def _discard(waiter: asyncio.Future[Any]) -> None:
    """Collect the late outcome of a job nobody waits for any more (no 'never retrieved' noise)."""
    if not waiter.cancelled():
        waiter.exception()
