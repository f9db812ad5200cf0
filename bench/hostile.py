"""The hostile-input table: every case of the repository's hostile corpus (tests/hostile) through
`python -m pagefix doc_preprocessor --save_path` in a child process, one run per class, and every
URL of the URL corpus (tests/support/url_corpus.txt) through the fetcher and the service. Prints
cases, cases handled as their entry says, and the worst wall time and peak memory.

    python bench/hostile.py [--stages off] [--class PDF --class "compressed bomb"]

A case is handled when it gives exactly the pages or the one-line refusal its entry names, with no
traceback; a URL when it is refused (invalid), refused by the SSRF guard with no connection
(blocked) or fetched from a public address (ok, on a fake network that answers nothing), and the
service answers it with a 422. Peak memory is the child's own (os.wait4, see tests/support/cli_process.py).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "tests")]

from support.cli_process import NO_MODELS, json_results, run_cli  # noqa: E402
from support.hostile_corpus import Case, corpus  # noqa: E402


def run_class(cases: list[Case], stages: bool) -> tuple[int, float, float]:
    """(cases handled, wall seconds, peak RSS MiB) of one CLI run over the class's files."""
    with tempfile.TemporaryDirectory(prefix="pagefix-hostile-") as folder:
        root = Path(folder)
        for case in cases:
            (root / "in" / case.file_name).parent.mkdir(exist_ok=True)
            (root / "in" / case.file_name).write_bytes(case.data)
        args = ["doc_preprocessor", "-i", str(root / "in"), "--save_path", str(root / "out")]
        run = run_cli(args + ([] if stages else NO_MODELS), timeout=600)
    if "Traceback" in run.stderr:
        return 0, run.wall_s, run.peak_rss_mib
    errors = [line for line in run.stderr.splitlines() if line.startswith("pagefix: ERROR: ")]
    results = json_results(run.stdout)
    handled = 0
    for case in cases:
        path = str(root / "in" / case.file_name)
        mine = [line for line in errors if line.startswith(f"pagefix: ERROR: {path}")]
        pages = sum(r["input_path"] == path for r in results)
        handled += len(mine) == case.failures and pages == case.pages and all(case.message in m for m in mine)
    return handled, run.wall_s, run.peak_rss_mib


def url_rows() -> list[tuple[str, int, int, float]]:
    """(outcome, cases, handled, worst ms) of the URL corpus through fetch_url and the service."""
    import httpx
    from support.fake_network import corpus as url_corpus
    from support.fake_network import fake_network

    from pagefix import DocPreprocessor
    from pagefix.errors import FetchError
    from pagefix.inputs.fetch import fetch_url
    from pagefix.limits import Limits
    from pagefix.serving import create_app

    guarded = Limits(allow_private_urls=False, fetch_deadline=5.0)
    app = create_app(DocPreprocessor(use_doc_orientation_classify=False, use_doc_unwarping=False))

    async def post(url: str) -> int:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench") as client:
            return (await client.post("/document-preprocessing", json={"file": url, "visualize": False})).status_code

    long_cases = [("invalid", "http://" + "a" * 3 * 1024 * 1024), ("invalid", "http://" + "a" * 300 + ".example/")]
    cases = [(c.outcome, c.url) for c in url_corpus()] + long_cases
    rows: dict[str, list[float]] = defaultdict(list)
    handled: dict[str, int] = defaultdict(int)
    with fake_network() as network:
        for outcome, url in cases:
            network.clear()
            started = time.perf_counter()
            try:
                fetch_url(url, guarded)
                got = "fetched?"
            except FetchError as exc:
                if "address not allowed" in str(exc):
                    got = "blocked"
                elif network.connections:
                    got = "ok"
                else:
                    got = "invalid"
            status = asyncio.run(post(url))
            rows[outcome].append((time.perf_counter() - started) * 1000)
            handled[outcome] += got == outcome and status == 422 and not network.private_connections()
    app.state.pool.shutdown()
    return [(outcome, len(times), handled[outcome], max(times)) for outcome, times in rows.items()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stages", choices=["on", "off"], default="on", help="both models on (default) or off")
    parser.add_argument("--class", dest="classes", action="append", help="only these classes (repeatable)")
    args = parser.parse_args()
    by_class: dict[str, list[Case]] = defaultdict(list)
    for case in corpus():
        by_class[case.klass].append(case)
    print(f"hostile files, `doc_preprocessor --save_path`, models {args.stages}:\n")
    print("| class | cases | handled | wall s (class run) | peak RSS MiB |")
    print("| --- | ---: | ---: | ---: | ---: |")
    totals = [0, 0]
    worst = (0.0, 0.0)
    for klass, cases in by_class.items():
        if args.classes and klass not in args.classes:
            continue
        handled, wall, peak = run_class(cases, args.stages == "on")
        totals[0] += len(cases)
        totals[1] += handled
        worst = (max(worst[0], wall), max(worst[1], peak))
        print(f"| {klass} | {len(cases)} | {handled} | {wall:.1f} | {peak:.0f} |", flush=True)
    print(f"| **all** | {totals[0]} | {totals[1]} | {worst[0]:.1f} (worst) | {worst[1]:.0f} (worst) |\n")
    print("URLs (tests/support/url_corpus.txt and two long ones), fetch_url + POST /document-preprocessing:\n")
    print("| expected | cases | handled | worst ms (both) |")
    print("| --- | ---: | ---: | ---: |")
    for outcome, count, handled, worst_ms in url_rows():
        print(f"| {outcome} | {count} | {handled} | {worst_ms:.0f} |")


if __name__ == "__main__":
    main()
