"""Load test of `pagefix serve`: concurrent httpx clients against a server this script starts on
127.0.0.1, for a bounded time per phase, with a fresh server per phase so its peak memory is
that phase's own.

Phases: "nominal" (as many clients as workers) and "overload" (4x what the server admits at
once: workers + queue). Every 200 is checked against the answer the same server gave for the
same input when idle (angle, size and pixels of outputImage); every other answer must be a
503 shed with Retry-After. A request that gets no answer, or any other status, counts as lost.

    python bench/load.py [--duration 20] [--workers 2] [--max-queue 2] [--rss-bound-mb 2048]
    python bench/load.py --nominal-only --duration 60   # requests/s at 2 workers only
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import io
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np
from data import data_dir  # bench/data.py, beside this script
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
# Under the real data folder (bench/data.py): a DocUNet photo of a curled page.
DEFAULT_IMAGE = Path("unwarp") / "docunet_crop" / "13_1.jpg"
URL = "/document-preprocessing"
# A shed client waits this long before trying again (a real one would honour Retry-After; the
# test keeps the pressure on instead).
BACKOFF_S = 0.05


@dataclass
class Expected:
    angle: int
    digest: str
    pixels: np.ndarray


@dataclass
class PhaseResult:
    name: str
    clients: int
    seconds: float = 0.0
    statuses: Counter = field(default_factory=Counter)
    ok_latencies: list[float] = field(default_factory=list)
    shed_latencies: list[float] = field(default_factory=list)
    pages: int = 0
    wrong: int = 0
    lost: int = 0
    bad_shed: int = 0
    peak_rss_mb: float = 0.0
    idle_rss_mb: float = 0.0
    server_counts: dict[str, float] = field(default_factory=dict)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def rss_mb(pid: int, key: str) -> float:
    """VmHWM (peak) or VmRSS (now) of a Linux process, in MiB."""
    text = Path(f"/proc/{pid}/status").read_text()
    match = re.search(rf"^{key}:\s+(\d+) kB", text, re.MULTILINE)
    return int(match.group(1)) / 1024 if match else float("nan")


def start_server(args: argparse.Namespace) -> tuple[subprocess.Popen, str]:
    port = free_port()
    command = [sys.executable, "-m", "pagefix", "-q", "serve", "--port", str(port), "--workers", str(args.workers),
               "--max_queue", str(args.max_queue)]
    if args.cpu_threads:
        command += ["--cpu_threads", str(args.cpu_threads)]
    process = subprocess.Popen(command, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"server exited with status {process.returncode}")
        try:
            if httpx.get(base + "/ready", timeout=2).status_code == 200:
                return process, base
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    process.kill()
    raise SystemExit("server did not become ready in 180 s")


def stop_server(process: subprocess.Popen) -> int:
    process.send_signal(signal.SIGTERM)
    try:
        return process.wait(timeout=120)
    except subprocess.TimeoutExpired:
        process.kill()
        return process.wait()


def payloads(image_path: Path, visualize: bool) -> list[bytes]:
    """The page turned 0/90/180/270, as ready-to-send JSON bodies."""
    with Image.open(image_path) as image:
        page = image.convert("RGB")
    bodies = []
    for turn in (0, 90, 180, 270):
        buffer = io.BytesIO()
        page.rotate(-turn, expand=True).save(buffer, "JPEG", quality=90)
        body = {"file": base64.b64encode(buffer.getvalue()).decode("ascii"), "fileType": 1}
        if not visualize:
            body["visualize"] = False
        bodies.append(json.dumps(body).encode())
    return bodies


def decode_output(answer: dict) -> tuple[int, str, bytes]:
    """(angle, SHA-256 of the PNG, the PNG) of a one-page answer."""
    (page,) = answer["result"]["docPreprocessingResults"]
    png = base64.b64decode(page["outputImage"])
    return page["prunedResult"]["angle"], hashlib.sha256(png).hexdigest(), png


def expected_answers(base: str, bodies: list[bytes]) -> list[Expected]:
    found = []
    with httpx.Client(base_url=base, timeout=300) as client:
        for body in bodies:
            response = client.post(URL, content=body, headers={"content-type": "application/json"})
            response.raise_for_status()
            angle, digest, png = decode_output(response.json())
            found.append(Expected(angle, digest, _pixels(png)))
    return found


def _pixels(png: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(png)) as image:
        return np.asarray(image.convert("RGB"))


def is_right(answer: dict, expected: Expected) -> bool:
    angle, digest, png = decode_output(answer)
    if angle != expected.angle:
        return False
    if digest == expected.digest:
        return True
    # Several ONNX Runtime threads may sum in another order: allow one grey level.
    pixels = _pixels(png)
    return pixels.shape == expected.pixels.shape and int(np.abs(pixels.astype(int) - expected.pixels).max()) <= 1


async def client_loop(base: str, bodies: list[bytes], expected: list[Expected], stop_at: float,
                      result: PhaseResult, offset: int) -> None:
    headers = {"content-type": "application/json"}
    index = offset
    async with httpx.AsyncClient(base_url=base, timeout=httpx.Timeout(300, connect=30)) as client:
        while time.monotonic() < stop_at:
            which = index % len(bodies)
            index += 1
            started = time.monotonic()
            try:
                response = await client.post(URL, content=bodies[which], headers=headers)
            except httpx.HTTPError as exc:
                result.lost += 1
                result.statuses[type(exc).__name__] += 1
                continue
            elapsed = time.monotonic() - started
            result.statuses[response.status_code] += 1
            if response.status_code == 200:
                result.ok_latencies.append(elapsed)
                answer = response.json()
                result.pages += len(answer["result"]["docPreprocessingResults"])
                if not await asyncio.to_thread(is_right, answer, expected[which]):
                    result.wrong += 1
            elif response.status_code == 503:
                result.shed_latencies.append(elapsed)
                body = response.json()
                if body.get("errorCode") != 503 or "retry-after" not in response.headers:
                    result.bad_shed += 1
                await asyncio.sleep(BACKOFF_S)
            else:
                result.lost += 1


def server_counts(base: str) -> dict[str, float]:
    text = httpx.get(base + "/metrics", timeout=10).text
    counts: dict[str, float] = {}
    for line in text.splitlines():
        match = re.match(r'pagefix_http_requests_total\{path="/document-preprocessing",status="(\d+)"\} (\S+)', line)
        if match:
            counts[match.group(1)] = float(match.group(2))
    return counts


def run_phase(name: str, clients: int, args: argparse.Namespace, bodies: list[bytes]) -> PhaseResult:
    process, base = start_server(args)
    result = PhaseResult(name, clients)
    try:
        expected = expected_answers(base, bodies)
        result.idle_rss_mb = rss_mb(process.pid, "VmRSS")
        before = server_counts(base)
        started = time.monotonic()
        stop_at = started + args.duration

        async def drive() -> None:
            await asyncio.gather(*(client_loop(base, bodies, expected, stop_at, result, i) for i in range(clients)))

        asyncio.run(drive())
        result.seconds = time.monotonic() - started
        result.peak_rss_mb = rss_mb(process.pid, "VmHWM")
        after = server_counts(base)
        result.server_counts = {k: after.get(k, 0) - before.get(k, 0) for k in after}
    finally:
        code = stop_server(process)
    if code != 0:
        print(f"warning: server of phase {name} exited with status {code}", file=sys.stderr)
    return result


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def print_table(results: list[PhaseResult], args: argparse.Namespace) -> bool:
    header = ("phase", "clients", "secs", "requests", "200", "503", "other", "req/s (200)", "pages/s",
              "p50 s", "p99 s", "503 p50 s", "idle RSS MB", "peak RSS MB", "wrong", "lost")
    rows = []
    healthy = True
    for r in results:
        total = sum(r.statuses.values())
        other = total - r.statuses[200] - r.statuses[503]
        rows.append((r.name, r.clients, f"{r.seconds:.1f}", total, r.statuses[200], r.statuses[503], other,
                     f"{r.statuses[200] / r.seconds:.2f}", f"{r.pages / r.seconds:.2f}",
                     f"{percentile(r.ok_latencies, 50):.2f}", f"{percentile(r.ok_latencies, 99):.2f}",
                     f"{percentile(r.shed_latencies, 50):.3f}", f"{r.idle_rss_mb:.0f}", f"{r.peak_rss_mb:.0f}",
                     r.wrong, r.lost))
        counted = {str(k): v for k, v in r.statuses.items()}
        agrees = all(counted.get(k, 0) == v for k, v in r.server_counts.items() if v)
        healthy &= r.wrong == 0 and r.lost == 0 and r.bad_shed == 0 and agrees and r.peak_rss_mb <= args.rss_bound_mb
        if not agrees:
            print(f"{r.name}: client counts {dict(r.statuses)} differ from the server's {r.server_counts}")
    widths = [max(len(str(h)), *(len(str(row[i])) for row in rows)) for i, h in enumerate(header)]
    print("| " + " | ".join(str(h).ljust(w) for h, w in zip(header, widths)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in rows:
        print("| " + " | ".join(str(v).ljust(w) for v, w in zip(row, widths)) + " |")
    print(f"\nworkers {args.workers}, queue {args.max_queue}, cpu_threads {args.cpu_threads or 'default'}, "
          f"{os.cpu_count()} CPUs; input {args.image.name} turned 0/90/180/270; visualize {not args.no_visualize}; "
          f"memory bound {args.rss_bound_mb} MB; "
          f"{'PASS' if healthy else 'FAIL'}: every 200 right, nothing lost, sheds are 503 + Retry-After, "
          "client and server counts agree, peak RSS within the bound")
    return healthy


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of load per phase (default 20)")
    parser.add_argument("--workers", type=int, default=2, help="server inference threads (default 2)")
    parser.add_argument("--max-queue", type=int, default=2, help="server queue (default 2)")
    parser.add_argument("--cpu-threads", type=int, default=None, help="ONNX Runtime threads (default: the server's)")
    parser.add_argument("--clients", type=int, default=None, help="nominal clients (default: --workers)")
    parser.add_argument("--overload", type=float, default=4.0,
                        help="overload clients = this x (workers + queue) (default 4)")
    parser.add_argument("--image", type=Path, default=None,
                        help=f"page photo to send (default: {DEFAULT_IMAGE} in the real data, bench/data.py)")
    parser.add_argument("--no-visualize", action="store_true", help="send visualize=false")
    parser.add_argument("--rss-bound-mb", type=float, default=2048.0, help="peak server RSS allowed (default 2048)")
    parser.add_argument("--nominal-only", action="store_true",
                        help="only the nominal phase: requests/s with as many clients as workers")
    args = parser.parse_args(argv)
    if args.image is None:
        args.image = data_dir() / DEFAULT_IMAGE
    bodies = payloads(args.image, visualize=not args.no_visualize)
    nominal = args.clients or args.workers
    overload = int(round(args.overload * (args.workers + args.max_queue)))
    results = [run_phase("nominal", nominal, args, bodies)]
    if not args.nominal_only:
        results.append(run_phase("overload", overload, args, bodies))
    print(f"load average {os.getloadavg()[0]:.2f} at the end")
    return 0 if print_table(results, args) else 1


if __name__ == "__main__":
    sys.exit(main())
