"""The hostile corpus through `python -m pagefix doc_preprocessor` in a subprocess: exit status,
one line per failure naming the file (never a traceback), and the time and peak memory of the
run (os.wait4). A 100 MP page goes through both models and --save_path under 2 GiB."""

from __future__ import annotations

import re
from pathlib import Path

import cv2
from support.cli_process import NO_MODELS, json_results, run_cli
from support.hostile_corpus import corpus

GIB = 1024


def test_corpus_directory_in_one_run(corpus_dir: Path) -> None:
    run = run_cli(["doc_preprocessor", "-i", str(corpus_dir), *NO_MODELS])
    assert run.returncode == 1, run.stderr[-2000:]
    assert "Traceback" not in run.stderr
    lines = run.stderr.splitlines()
    assert all(line.startswith("pagefix: ") for line in lines), [line for line in lines if not line.startswith("pagefix: ")]
    errors = [line for line in lines if line.startswith("pagefix: ERROR: ")]
    results = json_results(run.stdout)
    for case in corpus():
        path = str(corpus_dir / case.file_name)
        mine = [line for line in errors if line.startswith(f"pagefix: ERROR: {path}")]
        assert len(mine) == case.failures, (case.name, mine)
        assert all(case.message in line for line in mine), mine
        assert sum(r["input_path"] == path for r in results) == case.pages, case.name
    total_failures = sum(case.failures for case in corpus())
    assert errors[-1] == f"pagefix: ERROR: {total_failures} input(s) or page(s) failed"
    # The whole corpus (one 100 MP rendered PDF page among it) stays far from 2 GiB.
    assert run.peak_rss_mib < 2 * GIB


def test_one_refused_file_one_line(corpus_dir: Path) -> None:
    path = corpus_dir / "pdf_encrypted.pdf"
    run = run_cli(["doc_preprocessor", "-i", str(path), *NO_MODELS])
    assert run.returncode == 1
    assert run.stdout == ""
    summary, *_ = [line for line in run.stderr.splitlines() if " pages ok, " in line]
    assert run.stderr.splitlines() == [
        f"pagefix: ERROR: {path}: PDF is password protected",
        summary,  # the run's one-line summary: "pagefix: 0 pages ok, 1 failed, from 1 inputs in ..."
        "pagefix: ERROR: 1 input(s) or page(s) failed",
    ]
    assert summary.startswith("pagefix: 0 pages ok, 1 failed, from 1 inputs in ")


def test_a_100_mp_page_through_both_models_and_save_path(tmp_path: Path, pages) -> None:
    """A curled photo blown up to 100 MP (the default pixel cap) with every stage and every output:
    the peak resident memory of the whole process stays under 2 GiB."""
    photo = pages.curled.copy()
    width, height = 8660, 11547  # 99.998 MP
    page = cv2.resize(photo, (width, height), interpolation=cv2.INTER_LINEAR)
    page = cv2.rotate(page, cv2.ROTATE_90_CLOCKWISE)
    source = tmp_path / "page100mp.jpg"  # JPEG in, JPEG out: the encoders' time is not the point
    assert cv2.imwrite(str(source), page, [cv2.IMWRITE_JPEG_QUALITY, 90])
    del page, photo
    out = tmp_path / "out"
    run = run_cli(["doc_preprocessor", "-i", str(source), "--save_path", str(out), "--cpu_threads", "2"])
    assert run.returncode == 0, run.stderr
    (result,) = json_results(run.stdout)
    assert result["angle"] in (90, 270)
    saved = cv2.imread(str(out / "page100mp_doc_preprocessor_out.jpg"), cv2.IMREAD_UNCHANGED)
    assert saved.shape == (height, width, 3)  # turned back upright, full resolution
    assert run.peak_rss_mib < 2 * GIB, f"peak RSS {run.peak_rss_mib:.0f} MiB"
    print(f"100 MP page: {run.wall_s:.1f} s, peak RSS {run.peak_rss_mib:.0f} MiB")


def test_a_refusal_is_quick_even_for_a_bomb(corpus_dir: Path) -> None:
    """The largest bombs side by side: all refused, the process never grows past its imports."""
    names = ["png_deflate_1gp.png", "webp_vp8l_268mp.webp", "tiff_many_strips.tif", "jpeg_5000_scans.jpg",
             "gif_screen_4gp.gif", "pdf_count_lie_million.pdf"]
    run = run_cli(["doc_preprocessor", "-i", *[str(corpus_dir / n) for n in names], *NO_MODELS])
    assert run.returncode == 1, run.stderr
    assert len(re.findall(r"^pagefix: ERROR: ", run.stderr, re.M)) == len(names) + 1, run.stderr
    # Bombs of 0.3 to 4 GP decoded would need GBs; refused, the process stays at its imports' size.
    assert run.peak_rss_mib < 500, (run.peak_rss_mib, run.stderr)
