"""What API keys cost `pagefix serve`: the key check alone (`ApiKeys.accepts`, by number of keys),
and requests per second through real servers on 127.0.0.1 (one keep-alive client, sequential
requests, both pipeline stages off so no model runs), with and without keys.

    python bench/auth.py [--requests 300] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import timeit
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from support.serving import running  # noqa: E402

from pagefix import DocPreprocessor  # noqa: E402
from pagefix.serving import create_app  # noqa: E402
from pagefix.serving.auth import API_KEYS_ENV, ApiKeys  # noqa: E402
from pagefix.serving.settings import ServingSettings  # noqa: E402

KEY = "bench-key-5b1e0c7d9a2f4e68"


def check_cost() -> None:
    print("| keys | accepts() per call, valid key | accepts() per call, wrong key |")
    print("| ---: | ---: | ---: |")
    for count in (1, 10, 100):
        keys = ApiKeys(env_keys=[KEY] + [f"other-key-{i:04d}" for i in range(count - 1)])
        number = 20000
        good = min(timeit.repeat(lambda: keys.accepts(KEY.encode()), number=number, repeat=5)) / number
        bad = min(timeit.repeat(lambda: keys.accepts(b"wrong-key"), number=number, repeat=5)) / number
        print(f"| {count} | {good * 1e6:.1f} µs | {bad * 1e6:.1f} µs |")


def rate(url: str, method: str, path: str, n: int, **kwargs: object) -> tuple[float, set[int]]:
    statuses = set()
    with httpx.Client(base_url=url, timeout=30) as client:
        client.request(method, path, **kwargs)  # type: ignore[arg-type]
        started = time.perf_counter()
        for _ in range(n):
            statuses.add(client.request(method, path, **kwargs).status_code)  # type: ignore[arg-type]
        return n / (time.perf_counter() - started), statuses


def http_rates(n: int, rounds: int) -> None:
    pipeline = DocPreprocessor(use_doc_orientation_classify=False, use_doc_unwarping=False)
    os.environ.pop(API_KEYS_ENV, None)
    open_app = create_app(pipeline, settings=ServingSettings())
    os.environ[API_KEYS_ENV] = KEY
    keyed_app = create_app(pipeline, settings=ServingSettings())
    os.environ.pop(API_KEYS_ENV)
    body = b"x" * 100_000
    cases = [
        ("no keys", open_app, "GET", "/openapi.json", {}),
        ("keys, valid key", keyed_app, "GET", "/openapi.json", {"headers": {"Authorization": f"Bearer {KEY}"}}),
        ("keys, public path", keyed_app, "GET", "/health", {}),
        ("keys, no key (401)", keyed_app, "GET", "/openapi.json", {}),
        ("keys, no key, 100 kB body (401)", keyed_app, "POST", "/document-preprocessing",
         {"content": body, "headers": {"Content-Type": "application/json"}}),
    ]
    print(f"\n| server | request | requests/s (best of {rounds} rounds of {n}) | status |")
    print("| --- | --- | ---: | --- |")
    best = [0.0] * len(cases)
    seen: list[set[int]] = [set() for _ in cases]
    with running(open_app) as open_url, running(keyed_app) as keyed_url:
        urls = {id(open_app): open_url, id(keyed_app): keyed_url}
        for _ in range(rounds):  # interleaved, so load from elsewhere falls on every case alike
            for i, (_, app, method, path, kwargs) in enumerate(cases):
                per_second, statuses = rate(urls[id(app)], method, path, n, **kwargs)
                best[i] = max(best[i], per_second)
                seen[i] |= statuses
    for (name, _, method, path, _), per_second, statuses in zip(cases, best, seen):
        print(f"| {name} | {method} {path} | {per_second:.0f} | {', '.join(map(str, sorted(statuses)))} |")

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=300, help="requests per case and round")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    check_cost()
    http_rates(args.requests, args.rounds)


if __name__ == "__main__":
    main()
