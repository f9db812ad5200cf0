"""Fine skew, pagefix against its peers, on the same pages in one run.

    python bench/skew.py --setup                  # once: the peers' own venv (bench/.venv-peers-skew)
    python bench/skew.py [DATA] [--turns 2] [--max-angle 7]

DATA is a folder of upright pages (default: orientation/upright of the development data, found
as bench/data.py finds it). Each page is turned by seeded angles within +-max-angle as a crooked scan
(`pagefix.evaluation.skew.turn_like_a_scan`), written losslessly, and every tool estimates the skew
of the page as published and of each turned copy; a tool's error is how far its estimate on the
turned copy is from the turn plus its own estimate on the page as published. Each tool's sign is
read from a page turned +3 degrees, so a clockwise-positive tool is compared fairly. Times are per
page on one thread, decode excluded, medians. Peers: jdeskew (adaptive radial projection),
docangle's FFT module, deskew (Hough), occular-deskew's projection profile. Nothing here is
imported by pagefix.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np
from data import data_dir  # bench/data.py, beside this script

HERE = Path(__file__).resolve().parent
PEERS_VENV = HERE / ".venv-peers-skew"
PEERS = ("jdeskew==0.4.2", "docangle==4.5.0", "deskew==1.6.1", "occular-deskew==0.5.0")

# The peers' side: run in their venv, reads the file list, prints {tool: {file: [angle, seconds]}}.
PEER_SCRIPT = r'''
import json, sys, time
import cv2
cv2.setNumThreads(1)
files = json.load(open(sys.argv[1]))
tools = {}
from jdeskew.estimator import get_angle
tools["jdeskew"] = lambda img: get_angle(img)
from docangle.fftskew import FFTSkew
fft = FFTSkew()
tools["docangle FFT"] = lambda img: fft.tilt(cv2.cvtColor(img, cv2.COLOR_BGR2GRAY))
from deskew import determine_skew
tools["deskew"] = lambda img: determine_skew(cv2.cvtColor(img, cv2.COLOR_BGR2GRAY))
from occular_deskew.skew_fht import fine_angle
tools["occular-deskew"] = lambda img: fine_angle(cv2.cvtColor(img, cv2.COLOR_BGR2RGB))
out = {}
for name, tool in tools.items():
    found = {}
    for path in files:
        img = cv2.imread(path)
        start = time.perf_counter()
        try:
            angle = tool(img)
        except Exception:  # a peer that fails on a page declines it
            angle = None
        found[path] = [None if angle is None else float(angle), time.perf_counter() - start]
    out[name] = found
print(json.dumps(out))
'''


def setup() -> None:
    subprocess.run([sys.executable, "-m", "venv", str(PEERS_VENV)], check=True)
    subprocess.run([str(PEERS_VENV / "bin" / "python"), "-m", "pip", "install", "-q", *PEERS], check=True)


def make_cases(data: Path, turns: int, max_angle: float, folder: Path) -> tuple[list[str], list[tuple[str, str, float]]]:
    """Write each page and its turned copies as PNG; (originals, [(turned, original, angle)])."""
    from pagefix.evaluation.skew import turn_like_a_scan
    from pagefix.inputs import iter_pages
    from pagefix.inputs.sources import IMAGE_SUFFIXES

    rng = np.random.default_rng(0)
    originals, turned = [], []
    for i, file in enumerate(sorted(p for p in data.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)):
        page = next(iter(iter_pages(str(file)))).image
        original = folder / f"{i:04d}.png"
        cv2.imwrite(str(original), page)
        originals.append(str(original))
        for k, angle in enumerate(rng.uniform(-max_angle, max_angle, size=turns)):
            path = folder / f"{i:04d}_{k}.png"
            cv2.imwrite(str(path), turn_like_a_scan(page, float(angle)))
            turned.append((str(path), str(original), float(angle)))
    return originals, turned


def run_pagefix(files: list[str]) -> dict[str, list]:
    import time

    from pagefix.geometry.skew import estimate_skew

    cv2.setNumThreads(1)
    found = {}
    for path in files:
        image = cv2.imread(path)
        start = time.perf_counter()
        angle = estimate_skew(image).angle
        found[path] = [angle, time.perf_counter() - start]
    return found


def sign_of(found: dict[str, list], probe: str) -> float:
    angle = found[probe][0]
    return -1.0 if angle is not None and angle < 0 else 1.0


def score(found: dict[str, list], turned: list[tuple[str, str, float]], sign: float) -> dict[str, float]:
    errors, declined = [], 0
    for path, original, angle in turned:
        got, base = found[path][0], found[original][0]
        if got is None or base is None:
            declined += 1
            continue
        errors.append(abs(sign * (got - base) - angle))
    e = np.asarray(errors) if errors else np.asarray([np.nan])
    return {
        "cases": len(turned), "declined": declined, "median": float(np.median(e)),
        "p95": float(np.percentile(e, 95)), "max": float(np.max(e)), "over_1": int(np.sum(e > 1.0)),
        "ms": 1000 * float(np.median([found[p][1] for p, _, _ in turned])),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data", nargs="?", help="folder of upright pages")
    parser.add_argument("--turns", type=int, default=2, help="turned copies of each page (default: 2)")
    parser.add_argument("--max-angle", type=float, default=7.0, help="angles within +-this (default: 7)")
    parser.add_argument("--setup", action="store_true", help="create bench/.venv-peers-skew and exit")
    parser.add_argument("--json", action="store_true", help="print the table as JSON")
    args = parser.parse_args()
    if args.setup:
        setup()
        return
    data = Path(args.data) if args.data else data_dir() / "orientation" / "upright"
    with tempfile.TemporaryDirectory(prefix="pagefix-skew-") as tmp:
        folder = Path(tmp)
        originals, turned = make_cases(data, args.turns, args.max_angle, folder)
        # The sign probe: the first page turned +3 degrees counter-clockwise.
        from pagefix.evaluation.skew import turn_like_a_scan

        probe = str(folder / "sign_probe.png")
        cv2.imwrite(probe, turn_like_a_scan(cv2.imread(originals[0]), 3.0))
        files = originals + [p for p, _, _ in turned] + [probe]
        results = {"pagefix": run_pagefix(files)}
        python = PEERS_VENV / "bin" / "python"
        if python.exists():
            listing = folder / "files.json"
            listing.write_text(json.dumps(files))
            script = folder / "peers.py"
            script.write_text(PEER_SCRIPT)
            done = subprocess.run([str(python), str(script), str(listing)], check=True, capture_output=True, text=True)
            results |= json.loads(done.stdout.strip().splitlines()[-1])
        else:
            print("peers: bench/.venv-peers-skew missing; run `python bench/skew.py --setup` first", file=sys.stderr)
        table = {name: score(found, turned, sign_of(found, probe)) for name, found in results.items()}
    if args.json:
        print(json.dumps(table, indent=2))
        return
    print(f"{len(turned)} turned pages from {len(originals)} upright pages, angles within +-{args.max_angle:g} degrees")
    print(f"{'tool':<16}{'median':>8}{'p95':>8}{'max':>8}{'>1 deg':>8}{'declined':>10}{'ms/page':>9}")
    for name, row in table.items():
        print(f"{name:<16}{row['median']:8.3f}{row['p95']:8.3f}{row['max']:8.2f}{row['over_1']:8d}"
              f"{row['declined']:10d}{row['ms']:9.1f}")


if __name__ == "__main__":
    main()
