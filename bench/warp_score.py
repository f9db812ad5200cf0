"""Measure the warp score of the padded probe on the real data sets (bench/data.py) and print how many pages each
rule would leave alone (the skip_flat_pages thresholds were chosen from this table).

    python bench/warp_score.py                 # probe only: one UVDoc call per page
    python bench/warp_score.py --unpadded      # also the score of the unpadded grid (two calls)
    python bench/warp_score.py --csv out.csv   # one row per page

Sets: flat = the docbank/publaynet/tess/sroie_sel pages of orientation/upright plus the 8
inv3d_real flat_document.png; warped = the 144 inv3d_real photos and the 34 docunet_crop photos.
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from pathlib import Path

import numpy as np
from data import data_dir  # bench/data.py, beside this script

from pagefix import DocPreprocessor
from pagefix.inputs import Page, iter_pages
from pagefix.models.warp_score import homography_residual, identity_distance, probe_nodes, warp_probes

FLAT_PREFIXES = ("docbank", "publaynet", "tess", "sroie_sel")


def page_sets(data: Path) -> dict[str, list[Path]]:
    upright = sorted(p for p in (data / "orientation" / "upright").iterdir() if p.name.startswith(FLAT_PREFIXES))
    inv3d = data / "unwarp" / "inv3d_real"
    return {
        "flat": upright + sorted(inv3d.glob("*/flat_document.png")),
        "inv3d_real": sorted(inv3d.glob("*/warped_document_*.jpg")),
        "docunet_crop": sorted((data / "unwarp" / "docunet_crop").glob("*.jpg")),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=None, help="the real data folder (default: bench/data.py's)")
    parser.add_argument("--unpadded", action="store_true", help="also score the unpadded grid")
    parser.add_argument("--csv", type=Path)
    parser.add_argument("--max-score", type=float, default=2.0)
    parser.add_argument("--max-identity", type=float, default=6.0)
    args = parser.parse_args()
    if args.data is None:
        args.data = data_dir()

    unwarper = DocPreprocessor(device="cpu", use_doc_orientation_classify=False).unwarper
    rows = []
    start = time.perf_counter()
    for set_name, files in page_sets(args.data).items():
        for path in files:
            page = next(iter_pages(str(path)))
            assert isinstance(page, Page), page
            probe = warp_probes(unwarper, [page.image])[0]
            row = {"set": set_name, "file": str(path.relative_to(args.data)), "W": probe.score,
                   "identity": probe.identity_rms}
            if args.unpadded:
                grid = unwarper.predict_grids([page.image])[0]
                nodes = probe_nodes(grid, page.image.shape[:2], (0, 0))
                row["W_unpadded"] = homography_residual(nodes, page.image.shape[:2])
                row["identity_unpadded"] = identity_distance(nodes, page.image.shape[:2])
            rows.append(row)
    elapsed = time.perf_counter() - start

    def flat(r: dict, s: float = args.max_score, i: float = args.max_identity) -> bool:
        return r["W"] < s and r["identity"] < i

    print(f"{len(rows)} pages in {elapsed:.0f} s; rule: W < {args.max_score} and identity < {args.max_identity}")
    print(f"{'set':14} {'pages':>5} {'skipped':>7} {'W med':>6} {'W p90':>6} {'W max':>6} {'W min':>6} {'id med':>6} {'id max':>6}")
    for set_name in ("flat", "inv3d_real", "docunet_crop"):
        sel = [r for r in rows if r["set"] == set_name]
        w = np.array([r["W"] for r in sel])
        ident = np.array([r["identity"] for r in sel])
        print(f"{set_name:14} {len(sel):5d} {sum(map(flat, sel)):7d} {np.median(w):6.2f} {np.percentile(w, 90):6.2f} "
              f"{w.max():6.2f} {w.min():6.2f} {np.median(ident):6.2f} {ident.max():6.2f}")
    print("\nskipped per set for other thresholds (flat / inv3d_real / docunet_crop):")
    for s in (1.5, 1.75, 2.0, 2.25, 2.5, 3.0):
        cells = []
        for i in (4.0, 6.0, 8.0, float("inf")):
            counts = [sum(flat(r, s, i) for r in rows if r["set"] == n) for n in ("flat", "inv3d_real", "docunet_crop")]
            cells.append(f"id<{i:g}: {counts[0]:2d}/{counts[1]:3d}/{counts[2]:2d}")
        print(f"  W<{s:<5g} " + "   ".join(cells))
    if args.unpadded:
        print("\nunpadded grid alone (best threshold on W_unpadded that keeps flat skipped >= 68):")
        flat_w = sorted(r["W_unpadded"] for r in rows if r["set"] == "flat")
        cut = flat_w[67] + 1e-9
        warped = [r for r in rows if r["set"] != "flat"]
        print(f"  W_unpadded < {cut:.2f}: warped skipped {sum(r['W_unpadded'] < cut for r in warped)}/{len(warped)}")
        for set_name in ("flat", "inv3d_real", "docunet_crop"):
            w = np.array([r["W_unpadded"] for r in rows if r["set"] == set_name])
            print(f"  {set_name:14} W_unpadded median {np.median(w):.2f} max {w.max():.2f}")
    misses = [r for r in rows if (r["set"] == "flat") != flat(r)]
    if misses:
        print("\npages the rule gets wrong:")
        for r in misses:
            print(f"  {r['set']:13} W={r['W']:.2f} identity={r['identity']:.2f} {r['file']}")
    if args.csv:
        with args.csv.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
