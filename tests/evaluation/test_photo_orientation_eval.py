"""`pagefix eval orientation MANIFEST.csv`: photos turned four ways, through the whole pipeline,
the reference's decision beside the default one, per source."""

from __future__ import annotations

import csv
import json

import cv2
import pytest
from support.pages import write_jpeg, write_png

from pagefix.cli.main import main


def _score(manifest, capsys) -> dict:
    code = main(["eval", "orientation", str(manifest), "--json", "--cpu_threads", "2"])
    assert code == 0
    return json.loads(capsys.readouterr().out)


def test_rendered_photo_manifest_is_scored_through_the_pipeline(pages, tmp_path, capsys):
    manifest = tmp_path / "photos.csv"
    with open(manifest, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["distorted", "ground_truth", "warp_type"])
        writer.writeheader()
        for name, (photo, flat) in (("columns", pages.curled_columns), ("receipt", pages.curled_receipt)):
            half = cv2.resize(photo, (photo.shape[1] // 2, photo.shape[0] // 2), interpolation=cv2.INTER_AREA)
            writer.writerow({"distorted": write_jpeg(tmp_path / f"{name}.jpg", half).name,
                             "ground_truth": write_png(tmp_path / f"{name}_flat.png", flat).name, "warp_type": "curled"})
    report = _score(manifest, capsys)
    assert report["views"] == "default" and report["total"] == 8
    assert report["accuracy"] == 1.0  # measured: all eight right
    assert report["compared"]["reference"]["total"] == 8
    assert set(report["per_group"]) == {"curled"}


@pytest.mark.realdata
def test_photo_manifest_is_scored_through_the_pipeline(test_data, tmp_path, capsys):
    folder = test_data / "unwarp" / "inv3d_real"
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
    report = _score(manifest, capsys)
    assert report["views"] == "default" and report["total"] == 8
    assert report["accuracy"] >= 0.75
    reference = report["compared"]["reference"]
    assert reference["total"] == 8
    assert set(report["per_group"]) == {rows[6]["warp_type"]}
