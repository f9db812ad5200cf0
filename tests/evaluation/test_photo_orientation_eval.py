"""`pagefix eval orientation MANIFEST.csv`: photos turned four ways, through the whole pipeline,
the reference's decision beside the default one, per source."""

from __future__ import annotations

import csv
import json

from pagefix.cli.main import main


def test_photo_manifest_is_scored_through_the_pipeline(shared_data, tmp_path, capsys):
    folder = shared_data / "unwarp" / "inv3d_real"
    with open(folder / "manifest.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    # Two photos of one document, paths made absolute so the manifest can live elsewhere.
    manifest = tmp_path / "photos.csv"
    with open(manifest, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["distorted", "ground_truth", "warp_type"])
        writer.writeheader()
        for row in rows[6:8]:
            writer.writerow({"distorted": folder / row["distorted"], "ground_truth": folder / row["ground_truth"],
                             "warp_type": row["warp_type"]})
    code = main(["eval", "orientation", str(manifest), "--json", "--cpu_threads", "2"])
    assert code == 0
    report = json.loads(capsys.readouterr().out)
    assert report["views"] == "default" and report["total"] == 8
    assert report["accuracy"] >= 0.75
    reference = report["compared"]["reference"]
    assert reference["total"] == 8
    assert set(report["per_group"]) == {rows[6]["warp_type"]}
