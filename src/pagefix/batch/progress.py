"""Counting what a run did, and showing it: a progress bar on a terminal (inputs, pages, pages/s,
ETA, errors), nothing else when output is not a terminal; the summary line is the front end's."""

from __future__ import annotations

import time
from collections import Counter
from typing import IO, Any

__all__ = ["RunCounter"]


class RunCounter:
    """Pages ok/failed, inputs finished, pages per Ray node; drives the bar when `show` is True."""

    def __init__(self, total_inputs: int, show: bool, stream: IO[str] | None = None) -> None:
        self.pages_ok = 0
        self.pages_failed = 0
        self.inputs = 0
        self.inputs_failed = 0
        self.by_node: Counter[str] = Counter()
        self.started = time.monotonic()
        self._bar: Any = None
        if show:
            from tqdm import tqdm

            self._bar = tqdm(total=total_inputs, unit="input", desc="batch", dynamic_ncols=True, leave=False,
                             file=stream)

    def add(self, rows: list[dict[str, Any]], node: str | None = None) -> None:
        errors = sum(1 for row in rows if row["error"] is not None)
        self.pages_failed += errors
        self.pages_ok += len(rows) - errors
        inputs = {row["input_path"] for row in rows}
        self.inputs += len(inputs)
        self.inputs_failed += len({row["input_path"] for row in rows if row["error"] is not None})
        if node is not None:
            self.by_node[node] += len(rows) - errors
        if self._bar is not None:
            # The counts first, then the step: update() draws the bar, so set after it the counts
            # showed the chunk before (the last frame read pages=14 when 15 were done).
            self._bar.set_postfix(pages=self.pages_ok, pages_s=f"{self.pages_per_second:.2f}",
                                  errors=self.pages_failed, refresh=False)
            self._bar.update(len(inputs))

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    @property
    def pages_per_second(self) -> float:
        elapsed = self.elapsed
        return (self.pages_ok + self.pages_failed) / elapsed if elapsed > 0 else 0.0

    def close(self) -> None:
        if self._bar is not None:
            self._bar.refresh()  # the final counts, whatever update()'s rate limit skipped
            self._bar.close()
            self._bar = None
