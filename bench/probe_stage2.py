"""Stage 2 (`find_grids`) with skip_flat_pages, as it was (the probe's call, then a second call for
the pages found warped) against the pipeline's (a page that shows its background gets its own grid
in the probe's call), on the development pages (bench/data.py) with the default settings.

    python bench/probe_stage2.py --decisions /tmp/probe_signals/signals.csv   # every page: agreement, calls
    python bench/probe_stage2.py --repeats 16                                # s/page, interleaved

--decisions compares each page's flat/warped decision and warp score with the probe's verdict
written by bench/probe_signals.py, and counts UVDoc calls and images per page both ways. Without
it, stage 2 is timed both ways on the photo and the scan bench/run.py builds its inputs from.
"""

from __future__ import annotations

import argparse
import csv
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
from data import data_dir  # bench/data.py, beside this script
from probe_signals import page_files  # bench/probe_signals.py

from pagefix import DocPreprocessor
from pagefix.inputs import Page, iter_pages
from pagefix.models.warp_score import run_probes, shows_background
from pagefix.pipeline.stages import PageGrid, PreparedPage, UnwarpInput


class CountingRunner:
    """The unwarper's runner, counting calls and images."""

    def __init__(self, runner: Any) -> None:
        self.runner, self.calls, self.images = runner, 0, 0

    def __call__(self, batch: np.ndarray) -> Any:
        self.calls += 1
        self.images += len(batch)
        return self.runner(batch)


def before(pipeline: DocPreprocessor, inputs: list[UnwarpInput]) -> list[PageGrid]:
    """Stage 2 as it was: every probe in one call, then the warped pages' own grids in another."""
    unwarper = pipeline.unwarper
    probes = run_probes(unwarper, [i.probe for i in inputs], [i.probe_frame for i in inputs])  # type: ignore[misc]
    limits = (pipeline.config.max_warp_score, pipeline.config.max_identity_rms)
    warped = [i for i, probe in enumerate(probes) if not probe.is_flat(*limits)]
    grids = dict(zip(warped, unwarper.grids_for_model_images([inputs[i].page for i in warped])))
    return [PageGrid(grids.get(i), probe.score) for i, probe in enumerate(probes)]


def prepared_input(pipeline: DocPreprocessor, path: Path, settings: dict[str, Any]) -> UnwarpInput:
    page = next(iter_pages(str(path)))
    assert isinstance(page, Page), page
    prepared = pipeline.prepare_pages([page], settings)[0]
    assert isinstance(prepared, PreparedPage) and prepared.unwarp_input is not None, prepared
    return prepared.unwarp_input


def decisions(pipeline: DocPreprocessor, settings: dict[str, Any], data: Path, recorded: Path) -> None:
    probe = {row["file"]: row for row in csv.DictReader(recorded.open())}
    counter = pipeline.unwarper.runner = CountingRunner(pipeline.unwarper.runner)
    tally: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for set_name, path, turn in page_files(data):
        if turn:  # a turned scan comes back from stage 1 as its upright page (bench/probe_signals.py)
            continue
        item = prepared_input(pipeline, path, settings)
        counts = []
        for stage in (lambda: before(pipeline, [item]), lambda: pipeline.find_grids([item], settings)):
            counter.calls = counter.images = 0
            grid = stage()[0]
            assert isinstance(grid, PageGrid), grid
            counts.append((counter.calls, counter.images, grid))
        (calls0, images0, old), (calls1, images1, new) = counts
        row = probe[f"{path.relative_to(data)}@0"]
        t = tally[set_name]
        t["pages"] += 1
        t["probe_flat"] += row["flat"] == "True"
        t["agree"] += (new.grid is None) == (row["flat"] == "True") == (old.grid is None)
        t["same_grid"] += new.grid is None or bool(np.array_equal(new.grid, old.grid))
        t["score_diff"] = max(t["score_diff"], abs((new.warp_score or 0.0) - float(row["W"])))
        t["background"] += shows_background(item.page)
        t["calls_before"] += calls0
        t["calls_after"] += calls1
        t["images_before"] += images0
        t["images_after"] += images1
    print(f"{'set':13} {'pages':>5} {'probe flat':>10} {'agree':>5} {'same grid':>9} {'max |dW|':>8} {'background':>10} "
          f"{'calls/page':>15} {'images/page':>15}")
    for set_name, t in tally.items():
        n = t["pages"]
        print(f"{set_name:13} {n:5.0f} {t['probe_flat']:10.0f} {t['agree']:5.0f} {t['same_grid']:9.0f} "
              f"{t['score_diff']:8.1e} {t['background']:10.0f} "
              f"{t['calls_before'] / n:6.2f} -> {t['calls_after'] / n:5.2f} {t['images_before'] / n:6.2f} -> {t['images_after'] / n:5.2f}")


def timing(pipeline: DocPreprocessor, settings: dict[str, Any], data: Path, repeats: int) -> None:
    photos = sorted(p for p in (data / "unwarp" / "inv3d_real" / "00411").rglob("*.jpg") if "flat" not in p.name)
    scan = sorted((data / "orientation" / "upright").glob("docbank__*.jpg"))[0]
    print(f"stage 2 per page, median of {repeats} interleaved repeats, {pipeline.runtime.threads} threads")
    for name, path in (("warped photo", photos[0]), ("flat scan", scan)):
        item = prepared_input(pipeline, path, settings)
        ways = {"before": lambda: before(pipeline, [item]), "after": lambda: pipeline.find_grids([item], settings)}
        # Wall time, and the process's CPU time, which other work on a shared machine disturbs less.
        times: dict[tuple[str, str], list[float]] = {(way, clock): [] for way in ways for clock in ("wall", "cpu")}
        for i in range(repeats):
            for way in sorted(ways, reverse=bool(i % 2)):  # each way first in half the repeats
                wall, cpu = time.perf_counter(), time.process_time()
                ways[way]()
                times[way, "wall"].append(time.perf_counter() - wall)
                times[way, "cpu"].append(time.process_time() - cpu)
        print(f"  {name} ({path.name[:40]}):")
        for clock in ("wall", "cpu"):
            old, new = times["before", clock], times["after", clock]
            mo, mn = statistics.median(old), statistics.median(new)
            paired = statistics.median(n / o for n, o in zip(new, old))
            print(f"    {clock:4}: before {mo:.3f} s, after {mn:.3f} s, ratio of medians {mn / mo:.3f}, "
                  f"median of paired ratios {paired:.3f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=None)
    parser.add_argument("--decisions", type=Path, default=None, help="signals.csv of bench/probe_signals.py")
    parser.add_argument("--repeats", type=int, default=15)
    args = parser.parse_args()
    data = args.data or data_dir()
    pipeline = DocPreprocessor(device="cpu")
    settings = pipeline.resolve_settings({})
    if args.decisions:
        decisions(pipeline, settings, data, args.decisions)
    else:
        timing(pipeline, settings, data, args.repeats)
    return 0


if __name__ == "__main__":
    sys.exit(main())
