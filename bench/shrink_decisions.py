"""Do the models decide the same on small images made from the shared working copy
(pagefix/geometry/shrink.py) as on small images area-averaged from the full page in one step?

On every development page (scans, Inv3DReal flat originals and photos, DocUNet crops, the
qualitative photos): the flat-page probe's verdict and numbers, UVDoc's own grid (largest node
move, in pixels of the page) and, on the scans in four turns, the classifier's answer with its 17
voting views (`orientation_views="full"`, so every recipe counts). Prints a table per set; exits
non-zero when any decision differs.

    python bench/shrink_decisions.py                  # every page at its own size
    python bench/shrink_decisions.py --megapixels 12  # every page enlarged to a 12 MP photo's size
    python bench/shrink_decisions.py --limit 20       # the first 20 pages of each set

Most development pages are smaller than twice the working copy, so at their own size they keep
themselves as the copy and nothing changes for them; `--megapixels` enlarges each page (bicubic,
as bench/run.py makes its photo) so that every page takes the shared copy's path, as a phone
photo does.
"""

from __future__ import annotations

import argparse
import sys

import cv2
import numpy as np
from backends import decode, page_sets  # bench/backends.py, beside this script
from data import data_dir

from pagefix.geometry.shrink import ShrinkablePage
from pagefix.models import ModelStore, OrientationClassifier, RuntimeOptions, Unwarper
from pagefix.models.warp_score import probe_image, read_probe
from pagefix.pipeline.settings import PipelineConfig


def one_step(image: np.ndarray) -> ShrinkablePage:
    """The page with itself as its working copy: every small image area-averaged from the full page."""
    return ShrinkablePage(image, copy=image)


def grid_move(a: np.ndarray, b: np.ndarray, shape: tuple[int, ...]) -> float:
    """Largest distance between two [2, gh, gw] grids' nodes, in pixels of a page of `shape`."""
    scale = np.array([(shape[1] - 1) / 2, (shape[0] - 1) / 2])[:, None, None]
    return float(np.sqrt((((a - b) * scale) ** 2).sum(axis=0)).max())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=None, help="pages per set (default: all)")
    parser.add_argument("--megapixels", type=float, default=None,
                        help="enlarge every page to about this many megapixels first")
    args = parser.parse_args()
    options = RuntimeOptions(device="cpu", cpu_backend="onnxruntime")  # fp32: only the inputs differ
    store = ModelStore()
    unwarper = Unwarper.from_files(store.resolve("unwarping"), options)
    classifier = OrientationClassifier.from_files(store.resolve("orientation"), options)
    config = PipelineConfig()
    limits = (config.max_warp_score, config.max_identity_rms)
    changed = 0
    print(f"pages at {f'about {args.megapixels:g} MP' if args.megapixels else 'their own size'}")
    print("| set | pages | probe verdicts changed | largest score change | largest identity change "
          "| largest grid move (px) | orientation answers changed |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for name, paths in page_sets(data_dir()).items():
        paths = paths[: args.limit]
        flips = turns_changed = turns = 0
        d_score = d_identity = move = 0.0
        for path in paths:
            image = decode(path)
            if args.megapixels:
                scale = (args.megapixels * 1e6 / (image.shape[0] * image.shape[1])) ** 0.5
                size = (round(image.shape[1] * scale), round(image.shape[0] * scale))
                image = cv2.resize(image, size, interpolation=cv2.INTER_CUBIC)
            before, after = one_step(image), ShrinkablePage(image)
            (old_probe, old_frame), (new_probe, new_frame) = probe_image(unwarper, before), probe_image(unwarper, after)
            grids = unwarper.grids_for_model_images(
                [old_probe, new_probe, unwarper.model_image(before), unwarper.model_image(after)])
            old, new = read_probe(grids[0], old_frame), read_probe(grids[1], new_frame)
            flips += old.is_flat(*limits) != new.is_flat(*limits)
            d_score = max(d_score, abs(old.score - new.score))
            d_identity = max(d_identity, abs(old.identity_rms - new.identity_rms))
            move = max(move, grid_move(grids[2], grids[3], image.shape))
            if name == "upright":
                pages = [np.ascontiguousarray(np.rot90(image, -k)) for k in range(4)]
                answers_before = classifier.predict([one_step(p) for p in pages], "full")
                answers_after = classifier.predict([ShrinkablePage(p) for p in pages], "full")
                turns += 4
                turns_changed += sum(a.angle != b.angle for a, b in zip(answers_before, answers_after))
        changed += flips + turns_changed
        orientation = f"{turns_changed} of {turns}" if turns else "-"
        print(f"| {name} | {len(paths)} | {flips} | {d_score:.3f} | {d_identity:.3f} | {move:.1f} | {orientation} |",
              flush=True)
    print(f"decisions changed: {changed}")
    return 1 if changed else 0


if __name__ == "__main__":
    sys.exit(main())
