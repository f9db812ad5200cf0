"""Measure which orientation views to vote with, per source, on the real data sets (bench/data.py).

For every page and every crop recipe of `pagefix.models.orientation_views.RECIPES`, the
classifier's probabilities are computed for the crops turned 0/90/180/270 (cached in
--cache); then candidate view sets are scored on scans in four turns, raw photos in four turns
and unwarped photos in four turns (Inv3DReal), per source, with leave-one-source-out selection.

    python bench/orientation_views.py [--cache /tmp/pagefix-views.npz]
"""

from __future__ import annotations

import argparse
import csv
import sys
import time
from pathlib import Path

import cv2
import numpy as np
from data import data_dir  # bench/data.py, beside this script

from pagefix import DocPreprocessor
from pagefix.evaluation.page_match import upright_turn
from pagefix.inputs import iter_pages
from pagefix.models.orientation_views import RECIPES, combine_views

LABELS = (0, 90, 180, 270)

CANDIDATES: dict[str, tuple[tuple[str, tuple[int, ...]], ...]] = {
    "reference": (("centre256", (0,)),),
    "centre x4": (("centre256", (0, 1, 2, 3)),),
    "centre x2": (("centre256", (0, 2)),),
    "long3_512 x2": (("long3_512", (0, 2)),),
    "centre+long3_512 x2": (("centre256", (0, 2)), ("long3_512", (0, 2))),
    "centre+letterbox x4": (("centre256", (0, 1, 2, 3)), ("letterbox", (0, 1, 2, 3))),
    "centre+long3_384 x2": (("centre256", (0, 2)), ("long3_384", (0, 2))),
    "centre+long3_640 x2": (("centre256", (0, 2)), ("long3_640", (0, 2))),
    "centre x4+long3_512 x2": (("centre256", (0, 1, 2, 3)), ("long3_512", (0, 2))),
    "centre+letterbox+long3_512 x2": (("centre256", (0, 2)), ("letterbox", (0, 2)), ("long3_512", (0, 2))),
    "centre x4+letterbox x4+long3_512 x2": (("centre256", (0, 1, 2, 3)), ("letterbox", (0, 1, 2, 3)), ("long3_512", (0, 2))),
    "long3_512 x4": (("long3_512", (0, 1, 2, 3)),),
    "centre+long3_512 x4": (("centre256", (0, 1, 2, 3)), ("long3_512", (0, 1, 2, 3))),
    "centre+letterbox+long3_512 x4": (("centre256", (0, 1, 2, 3)), ("letterbox", (0, 1, 2, 3)), ("long3_512", (0, 1, 2, 3))),
    "centre+letterbox x4+long3_384 x2": (("centre256", (0, 1, 2, 3)), ("letterbox", (0, 1, 2, 3)), ("long3_384", (0, 2))),
    "centre+letterbox+long3_384 x4": (("centre256", (0, 1, 2, 3)), ("letterbox", (0, 1, 2, 3)), ("long3_384", (0, 1, 2, 3))),
    "letterbox x4+long3_512 x4": (("letterbox", (0, 1, 2, 3)), ("long3_512", (0, 1, 2, 3))),
    "centre+letterbox x4+long3_512 x4": (("centre256", (0,)), ("letterbox", (0, 1, 2, 3)), ("long3_512", (0, 1, 2, 3))),
    "centre+letterbox x4+long3_512 x2": (("centre256", (0,)), ("letterbox", (0, 1, 2, 3)), ("long3_512", (0, 2))),
    "centre x2+letterbox x4+long3_512 x2": (("centre256", (0, 2)), ("letterbox", (0, 1, 2, 3)), ("long3_512", (0, 2))),
}
#: Confidence gates tried on the best sets: the other views run only when the reference view's
#: top probability is below the gate.
GATES = (None, 0.9, 0.88, 0.85)


def read(path: Path) -> np.ndarray:
    (page,) = list(iter_pages(str(path)))
    return page.image


def recipe_probabilities(classifier, image: np.ndarray) -> dict[str, np.ndarray]:
    """{recipe: [n_crops, 4 turns r, 4 classes]} for the crops of `image` turned r quarter turns."""
    out = {}
    for name, recipe in RECIPES.items():
        crops = recipe(image)
        turned = [np.rot90(c, -r) for c in crops for r in range(4)]
        probs = classifier.probabilities(classifier.normalize(turned))
        out[name] = probs.reshape(len(crops), 4, 4)
    return out


def collect(cache: Path) -> dict[str, object]:
    if cache.exists():
        return dict(np.load(cache, allow_pickle=True))
    pipeline = DocPreprocessor(device="cpu", use_doc_unwarping=True)
    classifier, unwarper = pipeline.orientation_classifier, pipeline.unwarper
    records: dict[str, list] = {"kind": [], "source": [], "name": [], "truth": []}
    probs: dict[str, list] = {name: [] for name in RECIPES}
    start = time.time()
    data = data_dir()
    scans = sorted((data / "orientation" / "upright").iterdir())
    for path in scans:
        found = recipe_probabilities(classifier, read(path))
        for name in RECIPES:
            probs[name].append(found[name])
        records["kind"].append("scan")
        records["source"].append(path.name.split("__")[0])
        records["name"].append(path.name)
        records["truth"].append(0)
    print(f"scans done in {time.time() - start:.0f} s", file=sys.stderr)
    folder = data / "unwarp" / "inv3d_real"
    with open(folder / "manifest.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    flats: dict[str, np.ndarray] = {}
    for row in rows:
        photo = read(folder / row["distorted"])
        photo = cv2.resize(photo, (photo.shape[1] // 2, photo.shape[0] // 2), interpolation=cv2.INTER_AREA)
        flat_key = row["ground_truth"]
        if flat_key not in flats:
            flats[flat_key] = read(folder / flat_key)
        unwarped = unwarper.unwarp(photo)
        # The photo's own turn (a few were taken sideways): the unwarped page's best layout match.
        truth = upright_turn(unwarped, flats[flat_key]) // 90
        for kind, image in (("photo", photo), ("unwarped", unwarped)):
            found = recipe_probabilities(classifier, image)
            for name in RECIPES:
                probs[name].append(found[name])
            records["kind"].append(kind)
            records["source"].append(f"inv3d_{row['warp_type']}")
            records["name"].append(row["distorted"])
            records["truth"].append(truth)
    print(f"photos done in {time.time() - start:.0f} s", file=sys.stderr)
    data: dict[str, object] = {k: np.array(v) for k, v in records.items()}
    for name, values in probs.items():
        data[f"p_{name}"] = np.array(values, dtype=object)
    np.savez(cache, **data)
    return data


def predict(data: dict[str, object], index: int, turn: int, views, gate: float | None = None) -> int:
    """The label index a view set gives page `index` turned `turn` quarter turns clockwise."""
    if gate is not None:
        first = np.asarray(data["p_centre256"][index][0][turn % 4], dtype=np.float64)
        if first.max() >= gate:
            return int(first.argmax())
    rows, turns = [], []
    for recipe, ks in views:
        per_crop = data[f"p_{recipe}"][index]
        for k in ks:
            for crop in per_crop:
                rows.append(crop[(turn + k) % 4])
                turns.append(k)
    return int(np.argmax(combine_views(np.array(rows, dtype=np.float64), turns)))


def accuracy_table(data: dict[str, object], candidates) -> dict[tuple[str, str], dict[str, float]]:
    kinds, sources, truth = data["kind"], data["source"], data["truth"]
    table: dict[tuple[str, str], dict[str, float]] = {}
    for candidate, (views, gate) in candidates.items():
        hits: dict[tuple[str, str], list[int]] = {}
        for i in range(len(kinds)):
            group = "scan" if kinds[i] == "scan" else kinds[i]
            key_source = (group, sources[i] if kinds[i] == "scan" else "inv3d")
            for turn in range(4):
                expected = (int(truth[i]) + turn) % 4
                hit = int(predict(data, i, turn, views, gate) == expected)
                hits.setdefault(key_source, []).append(hit)
                hits.setdefault((group, "all"), []).append(hit)
        for key, values in hits.items():
            table.setdefault(key, {})[candidate] = float(np.mean(values))
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", default="/tmp/pagefix-orientation-views.npz")
    args = parser.parse_args()
    data = collect(Path(args.cache))
    candidates = {name: (views, None) for name, views in CANDIDATES.items()}
    table = accuracy_table(data, candidates)
    # Gates on the three best ungated sets (by the mean of scans and unwarped photos).
    ranked = sorted(CANDIDATES, key=lambda n: -(table[("scan", "all")][n] + table[("unwarped", "all")][n]))
    gated = {f"{n} gate {g}": (CANDIDATES[n], g) for n in ranked[:3] for g in GATES if g is not None}
    gated_table = accuracy_table(data, gated)
    for key, values in gated_table.items():
        table[key].update(values)
    candidates.update(gated)
    keys = sorted(table)
    names = list(candidates)
    print("accuracy by group (scans: by source; photo = raw photo; unwarped = after UVDoc)")
    print(f"{'view set':52s}" + "".join(f"{k[0][:5] + ':' + k[1][:9]:>17s}" for k in keys))
    for name in names:
        print(f"{name:52s}" + "".join(f"{100 * table[k][name]:16.1f}%" for k in keys))
    # Leave one scan source out: pick the best set on the others (scans + unwarped photos).
    scan_sources = sorted({k[1] for k in keys if k[0] == "scan" and k[1] != "all"})
    print("\nleave-one-source-out choice (mean of per-source accuracy on the rest):")
    for held in scan_sources + ["inv3d"]:
        rest = [k for k in keys if k[1] not in ("all", held) and k[0] in ("scan", "unwarped")]
        best = max(names, key=lambda n: np.mean([table[k][n] for k in rest]))
        held_key = ("unwarped", "inv3d") if held == "inv3d" else ("scan", held)
        print(f"  held out {held:10s}: chose {best!r:52s} -> {100 * table[held_key][best]:.1f}% "
              f"(reference {100 * table[held_key]['reference']:.1f}%)")


if __name__ == "__main__":
    main()
