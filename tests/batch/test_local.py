"""`pagefix batch --engine local` on the fixture collection: rows, names, upright pages, resume,
deleted outputs, SIGTERM half-way, exit codes and the listing forms."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pagefix.batch import MANIFEST_NAME, BatchOptions, OutputOptions, run_batch
from pagefix.models import DEFAULT_MODELS

from .conftest import copy_tree, run_cli

VOLATILE = ["run_id", "elapsed_ms"]


def manifest(out: Path) -> pa.Table:
    return pq.read_table(out / MANIFEST_NAME)


def stable(table: pa.Table) -> pa.Table:
    return table.drop_columns(VOLATILE)


def _gray(image: np.ndarray, size: tuple[int, int] = (96, 128)) -> np.ndarray:
    small = cv2.resize(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), size, interpolation=cv2.INTER_AREA).astype(np.float64)
    return (small - small.mean()) / (small.std() + 1e-9)


def similarity(output: np.ndarray, expected: np.ndarray) -> float:
    return float(np.mean(_gray(output) * _gray(expected)))


def assert_upright(output: np.ndarray, expected: np.ndarray) -> None:
    """The output shows the expected page the right way up: portrait like it, and far more like it
    than like any quarter turn of it."""
    assert (output.shape[0] > output.shape[1]) == (expected.shape[0] > expected.shape[1])
    upright = similarity(output, expected)
    turned = max(similarity(output, cv2.rotate(expected, code))
                 for code in (cv2.ROTATE_90_CLOCKWISE, cv2.ROTATE_180, cv2.ROTATE_90_COUNTERCLOCKWISE))
    assert upright > 0.8 and upright > turned + 0.3, (upright, turned)


@pytest.fixture
def first_run(local_run):
    return local_run


def test_fixture_collection_gives_six_pages_and_three_error_rows(collection, first_run):
    out, summary = first_run
    table = manifest(out)
    assert table.num_rows == 9
    rows = table.to_pylist()
    good = [r for r in rows if r["error"] is None]
    bad = [r for r in rows if r["error"] is not None]
    assert (summary.pages_ok, summary.pages_failed, summary.inputs_run) == (6, 3, 7)
    assert sorted(Path(r["input_path"]).relative_to(collection.root).as_posix() for r in bad) == sorted(collection.broken)
    assert all(r["page_index"] is None and r["output_path"] is None and r["n_pages"] is None for r in bad)
    assert {r["error"].split(":")[0] for r in bad} == {"InputError"}
    expected_names = {
        "pages/flat/page_a.jpg.p0000.jpg", "pages/flat/page_b.png.p0000.jpg", "pages/phone/exif6.jpg.p0000.jpg",
        "pages/docs/report.pdf.p0000.jpg", "pages/docs/report.pdf.p0001.jpg", "pages/docs/report.pdf.p0002.jpg",
    }
    assert {r["output_path"] for r in good} == expected_names
    written = {p.relative_to(out).as_posix() for p in (out / "pages").rglob("*") if p.is_file()}
    assert written == expected_names
    assert table.schema.field("page_index").type == pa.int32()
    for row in good:
        rel = Path(row["input_path"]).relative_to(collection.root).as_posix()
        assert row["angle"] == collection.angles[rel][row["page_index"]]
        assert row["n_pages"] == len(collection.upright[rel])
        assert row["orientation_model"].startswith(DEFAULT_MODELS["orientation"] + "@")
        assert row["unwarping_model"].startswith("UVDoc@")
        image = cv2.imread(str(out / row["output_path"]))
        assert (row["width"], row["height"]) == (image.shape[1], image.shape[0])
        assert_upright(image, collection.upright[rel][row["page_index"]])
    assert not list((out / "journal").glob("*.parquet"))  # merged into the manifest at the end


def test_rerun_processes_no_good_input_and_retries_the_broken_ones(first_run, collection, tmp_path):
    out = copy_tree(first_run[0], tmp_path / "out")
    before = manifest(out).to_pylist()
    summary = run_batch(BatchOptions([str(collection.root)], str(out), pipeline={"cpu_threads": 2}))
    assert (summary.inputs_run, summary.inputs_retried, summary.inputs_done) == (3, 3, 4)
    assert (summary.pages_ok, summary.pages_failed) == (0, 3)
    after = manifest(out).to_pylist()
    assert len(after) == 9
    for old, new in zip(before, after):
        if old["error"] is None:
            assert new == old  # the same run id: not processed again
        else:
            assert new["run_id"] == summary.run_id and new["error"] == old["error"]
    skipped = run_batch(BatchOptions([str(collection.root)], str(out), retry_errors=False, pipeline={"cpu_threads": 2}))
    assert (skipped.inputs_run, skipped.inputs_failed_skipped, skipped.inputs_done) == (0, 3, 4)


def test_a_deleted_output_runs_exactly_its_input_again(first_run, collection, tmp_path):
    out = copy_tree(first_run[0], tmp_path / "out")
    (out / "pages/docs/report.pdf.p0001.jpg").unlink()
    summary = run_batch(BatchOptions([str(collection.root)], str(out), retry_errors=False, pipeline={"cpu_threads": 2}))
    assert (summary.inputs_run, summary.pages_ok, summary.pages_failed) == (1, 3, 0)
    table = manifest(out)
    rerun = [r["input_path"] for r in table.to_pylist() if r["run_id"] == summary.run_id]
    assert rerun == [str(collection.root / "docs/report.pdf")] * 3
    assert (out / "pages/docs/report.pdf.p0001.jpg").is_file()
    assert stable(table).equals(stable(manifest(first_run[0])))


def test_sigterm_half_way_then_rerun_ends_with_the_uninterrupted_manifest(first_run, collection, tmp_path):
    out = tmp_path / "out"
    process = subprocess.Popen(
        [sys.executable, "-m", "pagefix", "batch", str(collection.root), "--save_path", str(out), "--cpu_threads", "2"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and process.poll() is None:
        if any((out / "pages").rglob("*.jpg")) if (out / "pages").is_dir() else False:
            break
        time.sleep(0.02)
    process.send_signal(signal.SIGTERM)
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 143, stderr
    assert "stopped by SIGTERM" in stdout
    interrupted = manifest(out)
    done = sum(1 for e in interrupted.column("error").to_pylist() if e is None)
    assert 1 <= done < 6, "the signal should have come half-way"
    resumed = run_batch(BatchOptions([str(collection.root)], str(out), pipeline={"cpu_threads": 2}))
    assert resumed.pages_ok == 6 - sum(
        1 for r in interrupted.to_pylist() if r["error"] is None and r["n_pages"] is not None
    )
    assert stable(manifest(out)).equals(stable(manifest(first_run[0])))


def test_exit_codes_summary_and_no_ray_on_the_local_path(collection, tmp_path):
    flat = tmp_path / "in"
    flat.mkdir()
    for name in ("flat/page_a.jpg", "broken/corrupt.jpg"):
        (flat / Path(name).name).write_bytes((collection.root / name).read_bytes())
    code = (
        "import sys\n"
        "from pagefix.cli.main import main\n"
        "status = main(sys.argv[1:])\n"
        "assert 'ray' not in sys.modules, 'the local engine imported ray'\n"
        "sys.exit(status)\n"
    )
    args = [str(flat), "--save_path", str(tmp_path / "out"), "--use_doc_unwarping", "False"]
    plain = subprocess.run([sys.executable, "-c", code, "batch", *args], capture_output=True, text=True, timeout=120)
    assert plain.returncode == 0, plain.stderr
    assert "1 pages ok, 1 failed" in plain.stdout and "(1 error rows)" in plain.stdout
    strict = subprocess.run([sys.executable, "-c", code, "batch", *args, "--fail_on_error"],
                            capture_output=True, text=True, timeout=120)
    assert strict.returncode == 1, strict.stderr
    assert "0 pages ok, 1 failed" in strict.stdout
    row = [r for r in manifest(tmp_path / "out").to_pylist() if r["error"] is None][0]
    assert row["unwarping_model"] is None and row["unwarped"] is False


def test_missing_extras_name_the_extra(tmp_path, collection):
    code = "import sys; sys.modules[sys.argv[1]] = None\nfrom pagefix.cli.main import main\nsys.exit(main(sys.argv[2:]))"
    for module, extra in (("pyarrow", "pagefix[batch]"), ("ray", "pagefix[ray]")):
        engine = ["--engine", "ray"] if module == "ray" else []
        result = subprocess.run(
            [sys.executable, "-c", code, module, "batch", str(collection.root / "flat"), "--save_path",
             str(tmp_path / module), *engine], capture_output=True, text=True, timeout=120,
        )
        assert result.returncode == 2
        assert f'pip install "{extra}"' in result.stderr


def test_listing_files_uris_and_pdf_output(collection, tmp_path):
    listing = tmp_path / "list.txt"
    listing.write_text(f"{collection.root / 'docs/report.pdf'}\n# a comment\n{collection.root / 'flat/page_a.jpg'}\n"
                       f"{collection.root / 'flat/gone.jpg'}\n")
    out = tmp_path / "out"
    summary = run_batch(BatchOptions([str(listing)], str(out), output=OutputOptions("png", save_pdf=True),
                                     pipeline={"cpu_threads": 2, "use_doc_unwarping": False}))
    assert (summary.pages_ok, summary.pages_failed) == (4, 1)
    rows = manifest(out).to_pylist()
    assert {r["output_path"] for r in rows} == {
        "pages/docs/report.pdf.p0000.png", "pages/docs/report.pdf.p0001.png", "pages/docs/report.pdf.p0002.png",
        "pages/flat/page_a.jpg.p0000.png", None,
    }
    assert [r["error"] for r in rows if r["error"]] == ["InputError: no such file or directory"]
    import pypdfium2 as pdfium

    with pdfium.PdfDocument(str(out / "pdf/docs/report.pdf.pdf")) as pdf:
        assert len(pdf) == 3
    # A parquet listing with a 'path' column, and a file:// URI, name the same files the same way.
    parquet_listing = tmp_path / "list.parquet"
    pq.write_table(pa.table({"path": [str(collection.root / "flat/page_a.jpg"), str(collection.root / "flat/page_b.png")]}),
                   parquet_listing)
    from pagefix.batch.listing import list_inputs

    assert [f.rel for f in list_inputs([str(parquet_listing)]).files] == ["page_a.jpg", "page_b.png"]
    uri_files = list_inputs([f"file://{collection.root}/flat"]).files
    assert [(f.uri, f.rel) for f in uri_files] == [
        (f"file://{collection.root}/flat/page_a.jpg", "page_a.jpg"), (f"file://{collection.root}/flat/page_b.png", "page_b.png")]


def test_output_tree_given_as_a_file_uri(collection, tmp_path):
    out = tmp_path / "out"
    options = BatchOptions([str(collection.root / "flat")], f"file://{out}", pipeline={"cpu_threads": 2,
                           "use_doc_unwarping": False}, output=OutputOptions("webp"))
    first = run_batch(options)
    assert (first.pages_ok, first.pages_failed) == (2, 0)
    assert sorted(r["output_path"] for r in manifest(out).to_pylist()) == [
        "pages/page_a.jpg.p0000.webp", "pages/page_b.png.p0000.webp"]
    assert cv2.imread(str(out / "pages/page_b.png.p0000.webp")) is not None
    again = run_batch(options)
    assert (again.inputs_run, again.inputs_done) == (0, 2)


def test_two_inputs_with_one_output_name_are_refused(collection, tmp_path):
    other = tmp_path / "flat"
    other.mkdir()
    (other / "page_a.jpg").write_bytes((collection.root / "flat/page_a.jpg").read_bytes())
    result = run_cli(str(collection.root / "flat/page_a.jpg"), str(other / "page_a.jpg"),
                     "--save_path", str(tmp_path / "out"))
    assert result.returncode == 2
    assert "would both be written as page_a.jpg" in result.stderr


class _BrokenClassifier:
    """Stands in for the orientation model to make one input fail the way a bug would."""

    def predict(self, images, *args, **kwargs):
        raise RuntimeError("simulated bug in a model call")


def test_an_unexpected_exception_is_an_error_row_and_the_run_goes_on(collection, tmp_path):
    from pagefix import DocPreprocessor
    from pagefix.batch.listing import list_inputs, read_input
    from pagefix.batch.tree import OutputTree
    from pagefix.batch.work import FileProcessor

    files = list_inputs([str(collection.root / "flat")]).files
    broken = DocPreprocessor(use_doc_unwarping=False, orientation_classifier=_BrokenClassifier())
    processor = FileProcessor(broken, OutputTree(tmp_path), OutputOptions(), "run")
    rows = [row for item in files for row in processor.process(item, lambda item=item: read_input(item))]
    assert [r["error"] for r in rows] == ["RuntimeError: simulated bug in a model call"] * 2
    assert all(r["n_pages"] is None for r in rows)  # unfinished: the next run tries them again


def test_the_progress_bar_ends_at_the_counts_the_summary_gives():
    import io

    from pagefix.batch.progress import RunCounter

    def rows(path: str, n: int) -> list[dict]:
        return [{"input_path": path, "error": None} for _ in range(n)]

    stream = io.StringIO()
    counter = RunCounter(2, show=True, stream=stream)
    counter.add(rows("a.pdf", 14))
    counter.add(rows("b.jpg", 1) + [{"input_path": "c.jpg", "error": "InputError: broken"}])
    counter.close()
    frames = [frame for frame in stream.getvalue().split("\r") if frame.strip()]
    assert (counter.pages_ok, counter.pages_failed, counter.inputs) == (15, 1, 3)
    assert "pages=15" in frames[-1] and "errors=1" in frames[-1], frames[-1]


def test_files_overlapped_give_the_rows_of_one_after_another_in_input_order(collection, tmp_path, monkeypatch):
    import threading

    from pagefix.batch.listing import list_inputs
    from pagefix.batch.local import run_local
    from pagefix.pipeline.preprocessor import DocPreprocessor

    files = list_inputs([str(collection.root)]).files
    runs = []
    for in_flight in (3, 1):  # two files at once, then one after another
        monkeypatch.setattr(DocPreprocessor, "pages_in_flight", in_flight)
        options = BatchOptions([str(collection.root)], str(tmp_path / f"out{in_flight}"), pipeline={"cpu_threads": 2})
        rows: list[dict] = []
        run_local(files, options, "run", threading.Event(), rows.extend)
        runs.append([{k: v for k, v in row.items() if k not in VOLATILE} for row in rows])
    overlapped, serial = runs
    inputs = [row["input_path"] for row in overlapped]
    assert inputs == sorted(inputs, key=[item.uri for item in files].index)  # grouped, in the listing's order
    assert overlapped == serial
