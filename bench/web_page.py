"""What the web page of `pagefix serve` adds to a request: the time from dropping a photo on the
page to its corrected page on screen, against the same photo posted to the API directly, with and
without `visualize` (which the page asks for only for PDF and TIFF inputs); and the answer's size.
Runs the real service on 127.0.0.1 and the page in Chromium (tests/support/web_page.py).

    python bench/web_page.py [IMAGE] [--runs 3]
"""

from __future__ import annotations

import argparse
import base64
import os
import statistics
import sys
import time
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from support.serving import running  # noqa: E402
from support.web_page import browser_missing, drop_files, open_page  # noqa: E402

from pagefix import DocPreprocessor  # noqa: E402
from pagefix.serving import create_app  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("image", nargs="?", default=str(REPO / "examples" / "curled_page.jpg"))
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    missing = browser_missing()
    if missing:
        raise SystemExit(missing)
    data = Path(args.image).read_bytes()
    name = Path(args.image).name
    pipeline = DocPreprocessor(device="cpu", cpu_threads=min(2, os.cpu_count() or 1))
    rows: list[tuple[str, list[float], int | None]] = []
    with running(create_app(pipeline)) as url:
        body = {"file": base64.b64encode(data).decode(), "fileType": 1}
        httpx.post(url + "/document-preprocessing", json=body, timeout=300)  # warm-up
        for visualize in (False, True):
            times, size = [], 0
            for _ in range(args.runs):
                started = time.perf_counter()
                answer = httpx.post(url + "/document-preprocessing", json={**body, "visualize": visualize}, timeout=300)
                times.append(time.perf_counter() - started)
                answer.raise_for_status()
                size = len(answer.content)
            rows.append((f"API, visualize={str(visualize).lower()}", times, size))
        with open_page(url) as (page, watch):
            times = []
            for run in range(args.runs):
                started = time.perf_counter()
                drop_files(page, [(f"{run}_{name}", "image/jpeg", data)])
                image = page.locator("[data-page] img").nth(run)
                image.wait_for(timeout=300_000)
                image.evaluate("(image) => image.decode()")  # on screen, not only in the DOM
                times.append(time.perf_counter() - started)
            if watch.errors or watch.foreign:
                raise SystemExit(f"the page misbehaved: {watch.errors + watch.foreign}")
            rows.append(("web page, drop to corrected page shown", times, None))
    print(f"{name}: {len(data)} bytes, {args.runs} runs, {os.cpu_count()} CPU(s)\n")
    print(f"| {'path':<40} | median s | min s | max s | answer bytes |")
    print(f"| {'-' * 40} | -------: | ----: | ----: | -----------: |")
    for label, times, size in rows:
        print(f"| {label:<40} | {statistics.median(times):8.2f} | {min(times):5.2f} | {max(times):5.2f} | "
              f"{size if size is not None else '':>12} |")


if __name__ == "__main__":
    main()
