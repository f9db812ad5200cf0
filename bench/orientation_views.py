"""Measure which orientation views to vote with, per source, on the real data sets (bench/data.py).

For every page and every crop recipe of `pagefix.models.orientation_views.RECIPES`, the
classifier's probabilities are computed for the crops turned 0/90/180/270 (cached in
--cache); then candidate view sets are scored on scans in four turns, raw photos in four turns
and unwarped photos in four turns (Inv3DReal), per source, with leave-one-source-out selection.

    python bench/orientation_views.py [--cache /tmp/pagefix-views.npz]

With --cascade it measures the default views' cascade instead (docs/orientation.md): for each
model, each page of the upright scans and of any --pages folders (upright pages, one subfolder a
group) in four turns, and each Inv3DReal and DocUNet photo in four turns through the whole
pipeline (first decision, UVDoc, second decision on the unwarped page), it compares every stop
probability of the first stage with the full 17-view vote: right answers per group, pages stopped
early, answers changed.

    python bench/orientation_views.py --cascade --pages /path/to/generated/pages
"""

from __future__ import annotations

import argparse
import csv
import pickle
import sys
import time
from pathlib import Path

import cv2
import numpy as np
from data import data_dir  # bench/data.py, beside this script

from pagefix import DocPreprocessor
from pagefix.evaluation.page_match import upright_turn
from pagefix.inputs import iter_pages
from pagefix.models.orientation_views import RECIPES, VIEW_SETS, combine_views, unanimous_angle

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


# -- the cascade ------------------------------------------------------------------------------

CASCADE_MODELS = ("PP-LCNet_x1_0_doc_ori", "pagefix_doc_ori_v1", "pagefix_doc_ori_v5")
FULL_VIEWS = VIEW_SETS["full"].views
FIRST_STAGE = VIEW_SETS["default"].first or ()
STOPS = (0.6, 0.7, 0.75, 0.8, 0.85, 0.88, 0.9, 0.92)
RULE_RECIPES = ("centre256", "letterbox", "long3_512")


def turned_probabilities(classifiers: dict, image: np.ndarray) -> dict[str, dict[str, np.ndarray]]:
    """{model: {recipe: [n_crops, turn r, 4 classes]}} for the default views' recipes."""
    crops = {name: RECIPES[name](image) for name in RULE_RECIPES}
    out = {}
    for model, classifier in classifiers.items():
        found = {}
        for name, base in crops.items():
            turned = [np.rot90(c, -r) for c in base for r in range(4)]
            found[name] = classifier.probabilities(classifier.normalize(turned)).reshape(len(base), 4, 4)
        out[model] = found
    return out


def view_rows(p: dict[str, np.ndarray], views, turn: int) -> tuple[np.ndarray, list[int]]:
    rows, turns = [], []
    for recipe, ks in views:
        for k in ks:
            for crop in p[recipe]:
                rows.append(crop[(turn + k) % 4])
                turns.append(k)
    return np.array(rows, dtype=np.float64), turns


def cascade_answer(p: dict[str, np.ndarray], turn: int, stop: float | None, expect: int | None = None) -> tuple[int, bool]:
    """(label index, stopped early) of the default views with cascade stop `stop` (None: full)."""
    if stop is not None:
        best, lowest = unanimous_angle(*view_rows(p, FIRST_STAGE, turn))
        if best is not None and lowest >= stop and (expect is None or best == expect):
            return best, True
    return int(np.argmax(combine_views(*view_rows(p, FULL_VIEWS, turn)))), False


def collect_cascade(cache: Path, page_folders: list[Path]) -> list[dict]:
    """Per page: its views' probabilities in four turns under each model; per photo also the
    pipeline's unwarped page (orientation off) for each quarter turn the first decision leaves."""
    if cache.exists():
        with open(cache, "rb") as handle:
            return pickle.load(handle)
    classifiers = {m: DocPreprocessor(device="cpu", doc_orientation_classify_model_name=m).orientation_classifier
                   for m in CASCADE_MODELS}
    unwarping = DocPreprocessor(device="cpu", use_doc_orientation_classify=False)
    data = data_dir()
    records: list[dict] = []
    for path in sorted((data / "orientation" / "upright").iterdir()):
        records.append({"kind": "scan", "group": path.name.split("__")[0], "truth": 0,
                        "p": turned_probabilities(classifiers, read(path))})
    for folder in page_folders:
        for group in sorted(d for d in folder.iterdir() if d.is_dir()):
            for path in sorted(group.iterdir()):
                records.append({"kind": "pages", "group": group.name, "truth": 0,
                                "p": turned_probabilities(classifiers, read(path))})
    inv3d = data / "unwarp" / "inv3d_real"
    with open(inv3d / "manifest.csv", newline="") as handle:
        photos = [("inv3d", row["warp_type"], inv3d / row["distorted"], inv3d / row["ground_truth"])
                  for row in csv.DictReader(handle)]
    # DocUNet has no flat originals here; its photos are all upright.
    photos += [("docunet", "docunet", path, None) for path in sorted((data / "unwarp" / "docunet_crop").glob("*.jpg"))]
    flats: dict[Path, np.ndarray] = {}
    for kind, group, path, flat in photos:
        photo = read(path)
        record = {"kind": kind, "group": group, "truth": 0, "p": turned_probabilities(classifiers, photo), "unwarped": {}}

        def unwarped(q: int, photo=photo, record=record) -> dict:
            """The pipeline's page for the photo turned q quarter turns clockwise (cached)."""
            if q not in record["unwarped"]:
                (result,) = unwarping.predict(np.ascontiguousarray(np.rot90(photo, -q)))
                record["unwarped"][q] = {"image": result.output_img if q == 0 else None,
                                         "p": turned_probabilities(classifiers, result.output_img)
                                         if result.unwarp_applied else None}
            return record["unwarped"][q]

        first = unwarped(0)
        if flat is not None:
            flats.setdefault(flat, read(flat))
            # The photo's own turn (a few were taken sideways), judged on its unwarped page.
            record["truth"] = upright_turn(first["image"], flats[flat]) // 90
        first["image"] = None
        # The residual turns any first decision of any stop leaves on the page.
        for model in CASCADE_MODELS:
            for stop in (None, *STOPS):
                for turn in range(4):
                    d1, _ = cascade_answer(record["p"][model], turn, stop)
                    unwarped((turn - d1) % 4)
        records.append(record)
    with open(cache, "wb") as handle:
        pickle.dump(records, handle)
    return records


def cascade_tables(records: list[dict]) -> None:
    for model in CASCADE_MODELS:
        print(f"\n{model}: right / cases, stopped after the first stage, answers changed vs the full vote")
        header = f"{'group':24s}" + "".join(f"{'full' if s is None else f'stop {s}':>22s}" for s in (None, *STOPS))
        print(header)
        rows: dict[tuple[str, str], list[str]] = {}
        for stop in (None, *STOPS):
            tally: dict[tuple[str, str], list[int]] = {}
            for r in records:
                p = r["p"][model]
                for turn in range(4):
                    d1, stopped = cascade_answer(p, turn, stop)
                    full, _ = cascade_answer(p, turn, None)
                    if "unwarped" in r:  # a photo: through the whole pipeline
                        q = (turn - d1) % 4
                        u = r["unwarped"][q]
                        d2 = 0 if u["p"] is None else cascade_answer(u["p"][model], 0, stop, expect=0)[0]
                        right = (r["truth"] + q - d2) % 4 == 0
                        qf = (turn - full) % 4
                        uf = r["unwarped"][qf]
                        df = 0 if uf["p"] is None else cascade_answer(uf["p"][model], 0, None)[0]
                        changed = (q - d2) % 4 != (qf - df) % 4
                    else:
                        right, changed = d1 == (r["truth"] + turn) % 4, d1 != full
                    for key in ((r["kind"], r["group"]), (r["kind"], "(all)")):
                        t = tally.setdefault(key, [0, 0, 0, 0])
                        t[0] += right
                        t[1] += 1
                        t[2] += stopped
                        t[3] += changed
            for key, (right, cases, stopped, changed) in tally.items():
                rows.setdefault(key, []).append(f"{right:>4d}/{cases:<4d} {100 * stopped / cases:3.0f}% {changed:>3d}ch")
        for key in sorted(rows):
            print(f"{key[0] + '/' + key[1]:24s}" + "".join(f"{cell:>22s}" for cell in rows[key]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", default="/tmp/pagefix-orientation-views.npz")
    parser.add_argument("--cascade", action="store_true", help="measure the default views' cascade")
    parser.add_argument("--pages", type=Path, action="append", default=[],
                        help="with --cascade: a folder of upright pages, one subfolder per group")
    args = parser.parse_args()
    if args.cascade:
        cache = Path(args.cache).with_suffix(".cascade.pkl")
        cascade_tables(collect_cascade(cache, args.pages))
        return
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
