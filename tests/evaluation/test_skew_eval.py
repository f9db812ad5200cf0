"""`pagefix eval skew`: a folder of upright pages turned by seeded angles, and a labelled manifest,
scored end to end through the CLI on rendered pages."""

from __future__ import annotations

import json

from support.pages import text_page, write_png

from pagefix.cli.main import main
from pagefix.evaluation.skew import turn_like_a_scan


def test_eval_skew_on_a_folder_turns_each_page_and_scores_it(tmp_path, capsys):
    for seed in (1, 2):
        write_png(tmp_path / f"page{seed}.png", text_page(seed))
    assert main(["eval", "skew", str(tmp_path), "--turns_per_page", "3", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["cases"] == 6
    assert summary["declined"] == 0
    # Rendered text lines are straight: the estimate recovers a scan's turn to a small fraction
    # of a degree (docs/skew.md gives the real pages' figures).
    assert summary["max_error_deg"] < 0.3


def test_eval_skew_reads_a_manifest_and_flags_a_wrong_label(tmp_path, capsys):
    write_png(tmp_path / "straight.png", text_page(3))
    write_png(tmp_path / "leaning.png", turn_like_a_scan(text_page(4), 3.0))
    (tmp_path / "labels.csv").write_text("image,skew_angle\nstraight.png,0\nleaning.png,-3\n", encoding="utf-8")
    assert main(["eval", "skew", str(tmp_path / "labels.csv"), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["cases"] == 2
    # The leaning page's label has the wrong sign: its error is the whole 6 degrees.
    assert 5.5 < summary["max_error_deg"] < 6.5


def test_eval_skew_names_a_manifest_without_its_columns(tmp_path, capsys):
    (tmp_path / "labels.csv").write_text("file,angle\nx.png,1\n", encoding="utf-8")
    assert main(["eval", "skew", str(tmp_path / "labels.csv")]) != 0
    assert "skew_angle" in capsys.readouterr().err
