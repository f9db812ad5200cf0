"""The flat-page probe against cheaper signals, on every development page through the pipeline's
stages 1 and 2 with the default settings (bench/data.py finds the data).

    python bench/probe_signals.py --out /tmp/signals      # one row per page + both grids (npz)

Per page it writes the probe's verdict (W, identity RMS) and what the unwarping pass's own grid
says (its homography residual and distance from the identity, the same measures the probe uses):
docs/unwarping.md (flat pages) says what they showed: the page's own grid cannot replace the
probe. bench/probe_batch.py times the probe and the page in one call.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import sys
import time
from pathlib import Path

import cv2
import numpy as np
from data import data_dir  # bench/data.py, beside this script

from pagefix import DocPreprocessor
from pagefix.inputs import Page, iter_pages
from pagefix.models.warp_score import homography_residual, identity_distance, probe_nodes, read_probe
from pagefix.pipeline.stages import PreparedPage

FLAT_PREFIXES = ("docbank", "publaynet", "tess", "sroie_sel")
TURNS = (0, 90, 180, 270)


def page_files(data: Path) -> list[tuple[str, Path, int]]:
    """(set, file, clockwise turn applied) for every development page."""
    rows: list[tuple[str, Path, int]] = []
    upright = [p for p in sorted((data / "orientation" / "upright").iterdir())
               if p.suffix.lower() in (".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp")]
    rows += [("upright", path, 0) for path in upright]
    inv3d = data / "unwarp" / "inv3d_real"
    rows += [("inv3d_flat", p, 0) for p in sorted(inv3d.glob("*/flat_document.png"))]
    rows += [("inv3d_real", p, 0) for p in sorted(inv3d.glob("*/warped_document_*.jpg"))]
    rows += [("docunet_crop", p, 0) for p in sorted((data / "unwarp" / "docunet_crop").glob("*.jpg"))]
    qualitative = data / "unwarp" / "qualitative"
    rows += [("qualitative", p, 0) for p in sorted(qualitative.iterdir()) if p.suffix.lower() in (".jpg", ".png")]
    # The turned scans last: a page the classifier turns back is the upright page again.
    return rows + [("upright", path, turn) for turn in TURNS[1:] for path in upright]


def border_signal(small: np.ndarray) -> dict[str, float]:
    """Image-side numbers on the model-size page: its outer ring against its inside."""
    gray = cv2.cvtColor(small, cv2.COLOR_RGB2GRAY).astype(np.float32)
    hsv = cv2.cvtColor(small, cv2.COLOR_RGB2HSV)
    h, w = gray.shape
    b = max(2, round(0.03 * min(h, w)))
    ring = np.ones_like(gray, bool)
    ring[b:-b, b:-b] = False
    paper = float(np.percentile(gray[~ring], 90))
    bright = gray[ring] > 0.8 * paper
    low_sat = hsv[..., 1][ring] < 60
    return {"ring_median": float(np.median(gray[ring])), "paper": paper,
            "ring_paper_share": float(np.mean(bright & low_sat)), "ring_std": float(gray[ring].std())}


def turned(image: np.ndarray, turn: int) -> np.ndarray:
    return image if turn == 0 else np.ascontiguousarray(np.rot90(image, -turn // 90))


def page_grid_signal(grid: np.ndarray, page_shape: tuple[int, int]) -> tuple[float, float]:
    nodes = probe_nodes(grid, page_shape, (0, 0))
    return homography_residual(nodes, page_shape), identity_distance(nodes, page_shape)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=Path("/tmp/probe_signals"))
    parser.add_argument("--limit", type=int, default=0, help="first N pages only (a quick look)")
    args = parser.parse_args()
    data = args.data or data_dir()
    pipeline = DocPreprocessor(device="cpu")
    settings = pipeline.resolve_settings({})
    unwarper = pipeline.unwarper
    files = page_files(data)[: args.limit or None]
    args.out.mkdir(parents=True, exist_ok=True)
    rows, grids, seen = [], {}, {}
    handle = (args.out / "signals.csv").open("w", newline="")
    writer = None
    start = time.perf_counter()
    for set_name, path, turn in files:
        page = next(iter_pages(str(path)))
        assert isinstance(page, Page), page
        page.image = turned(page.image, turn)
        prepared = pipeline.prepare_pages([page], settings)[0]
        assert isinstance(prepared, PreparedPage), prepared
        item = prepared.unwarp_input
        assert item is not None and item.probe is not None and item.probe_frame is not None
        key = hashlib.sha1(item.probe.tobytes() + item.page.tobytes()).hexdigest()
        if key not in seen:  # a turned page the classifier turned back is the upright page again
            probe_grid, page_grid = unwarper.grids_for_model_images([item.probe, item.page])
            seen[key] = (probe_grid, page_grid)
        probe_grid, page_grid = seen[key]
        probe = read_probe(probe_grid, item.probe_frame)
        w_page, id_page = page_grid_signal(page_grid, prepared.upright.shape[:2])
        name = f"{path.relative_to(data)}@{turn}"
        grids[name] = np.stack([probe_grid, page_grid])
        rows.append(row := {
            "set": set_name, "file": name, "angle": prepared.decision.angle if prepared.decision else -1,
            "lean": prepared.skew.angle if prepared.skew is not None else None,
            "W": probe.score, "identity": probe.identity_rms,
            "flat": probe.is_flat(pipeline.config.max_warp_score, pipeline.config.max_identity_rms),
            "W_page": w_page, "identity_page": id_page, "key": key[:12], **border_signal(item.page),
        })
        if writer is None:
            writer = csv.DictWriter(handle, fieldnames=list(row))
            writer.writeheader()
        writer.writerow(row)
        handle.flush()
    elapsed = time.perf_counter() - start
    handle.close()
    np.savez_compressed(args.out / "grids.npz", **grids)
    print(f"{len(rows)} pages ({len(seen)} distinct stage-2 inputs) in {elapsed:.0f} s -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
