"""Is the flat-page probe cheaper run in one model call with the unwarping pass? UVDoc on a photo's
probe image and page image as two calls of one image against one call of two, interleaved, on
each CPU backend installed (ONNX Runtime; OpenVINO fp32 and bf16 where present).

    python bench/probe_batch.py --repeats 20 [--photo path.jpg] [--threads 2]

Prints median seconds for: one call of one image (a flat page's cost), two calls of one (a warped
page's today), one call of two; and the largest grid difference between the batched call and the
single calls (batching must not move the probe's verdict).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from data import data_dir  # bench/data.py, beside this script

from pagefix.inputs import Page, iter_pages
from pagefix.models.fastest import candidates
from pagefix.models.runtime import RuntimeOptions
from pagefix.models.store import ModelStore
from pagefix.models.unwarping import Unwarper
from pagefix.models.warp_score import probe_image


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photo", type=Path, default=None)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    photo = args.photo or data_dir() / "unwarp" / "inv3d_real" / "00411" / "warped_document_curled_bright.jpg"
    page = next(iter_pages(str(photo)))
    assert isinstance(page, Page), page
    files = ModelStore().resolve("unwarping")
    options = RuntimeOptions(device="cpu", cpu_threads=args.threads)
    print(f"{photo.name} ({page.image.shape[1]}x{page.image.shape[0]}), {args.threads} threads, "
          f"{args.repeats} interleaved repeats; medians in seconds")
    print(f"{'backend':22} {'1 call of 1':>11} {'2 calls of 1':>12} {'1 call of 2':>11} {'2-batch/2-calls':>15} {'max grid diff':>13}")
    for candidate in candidates(files.path, options, bf16_ok=True):
        unwarper = Unwarper(candidate.load(), **{k: v for k, v in files.preprocessing.items()
                                                 if k in ("input_width", "input_height", "channel_order")})
        small = unwarper.model_image(page.image)
        probe, _ = probe_image(unwarper, page.image)
        unwarper.grids_for_model_images([probe, small])  # warm-up
        one, two, batched = [], [], []
        for _ in range(args.repeats):
            t = time.perf_counter()
            alone = unwarper.grids_for_model_images([probe])
            one.append(time.perf_counter() - t)
            alone += unwarper.grids_for_model_images([small])
            two.append(time.perf_counter() - t)
            t = time.perf_counter()
            together = unwarper.grids_for_model_images([probe, small])
            batched.append(time.perf_counter() - t)
        diff = max(float(np.abs(a - b).max()) for a, b in zip(alone, together))
        m1, m2, mb = (statistics.median(x) for x in (one, two, batched))
        print(f"{candidate.name:22} {m1:11.3f} {m2:12.3f} {mb:11.3f} {mb / m2:15.3f} {diff:13.2e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
