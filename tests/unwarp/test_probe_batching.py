"""Stage 2 with skip_flat_pages: a page that shows its background gets its own UVDoc grid in the
probe's model call, a scan gets the probe alone; either way the probe decides, so the decisions,
scores and grids are those of the probe followed by the unwarping pass."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from pagefix.inputs import Page
from pagefix.models.warp_score import run_probes, shows_background
from pagefix.pipeline import stages
from pagefix.pipeline.stages import PageGrid, PreparedPage


@pytest.fixture(scope="module")
def pipeline():
    """UVDoc at fp32 on ONNX Runtime: the batching is compared with the probe read on its own,
    which at bf16 could be read again at fp32 near a limit (tests/unwarp/test_bf16_probe_guard.py)."""
    from pagefix import DocPreprocessor

    return DocPreprocessor(device="cpu", cpu_threads=2, cpu_backend="onnxruntime")


class CountingRunner:
    def __init__(self, runner) -> None:
        self.runner, self.batches = runner, []

    def __call__(self, batch):
        self.batches.append(len(batch))
        return self.runner(batch)


@pytest.fixture
def counted(pipeline, monkeypatch):
    """The batch size of each UVDoc call the pipeline makes during the test."""
    counter = CountingRunner(pipeline.unwarper.runner)
    monkeypatch.setattr(pipeline.unwarper, "runner", counter)
    return counter.batches


def stage_two(pipeline, images):
    settings = pipeline.resolve_settings({"use_doc_orientation_classify": False})
    prepared = pipeline.prepare_pages([Page(image, None, None) for image in images], settings)
    inputs = [p.unwarp_input for p in prepared if isinstance(p, PreparedPage)]
    return inputs, pipeline.find_grids(inputs, settings)


def probe_then_page(pipeline, item):
    """What the probe and the unwarping pass say of one prepared page, each in its own call."""
    config = pipeline.config
    probe = run_probes(pipeline.unwarper, [item.probe], [item.probe_frame])[0]
    flat = probe.is_flat(config.max_warp_score, config.max_identity_rms)
    return flat, probe.score, None if flat else pipeline.unwarper.grids_for_model_images([item.page])[0]


def rendered(pages):
    return {"scan": pages.scan, "table": pages.table, "receipt": pages.receipt, "curled": pages.curled,
            "curled_crop": pages.curled_crop, "curled_columns": pages.curled_columns[0],
            "curled_receipt": pages.curled_receipt[0]}


def test_paper_to_the_edges_is_not_background():
    paper = np.full((712, 488, 3), 235, np.uint8)
    paper[100:600:12, 60:430] = 20  # lines of text
    assert not shows_background(paper)
    assert not shows_background(cv2.GaussianBlur(paper, (0, 0), 3) - 30)  # a greyer scan


@pytest.mark.parametrize("table", [(40, 40, 40), (60, 110, 150), (200, 170, 120)])
def test_a_page_on_a_table_shows_background(table):
    photo = np.empty((712, 488, 3), np.uint8)
    photo[:] = table
    photo[60:650, 50:440] = 235
    assert shows_background(photo)


def test_a_photo_on_a_table_is_probed_and_unwarped_in_one_call(pipeline, pages, counted):
    photo = pages.curled
    inputs, grids = stage_two(pipeline, [photo])
    assert shows_background(inputs[0].page)
    assert counted == [2]  # the probe and the page, one call
    grid = grids[0]
    assert isinstance(grid, PageGrid) and grid.grid is not None
    flat, score, own = probe_then_page(pipeline, inputs[0])
    assert not flat and grid.warp_score == score and np.array_equal(grid.grid, own)


def test_a_flat_scan_costs_the_probe_alone(pipeline, pages, counted):
    inputs, grids = stage_two(pipeline, [pages.scan])
    assert not shows_background(inputs[0].page)
    assert counted == [1]
    grid = grids[0]
    assert isinstance(grid, PageGrid) and grid.grid is None
    flat, score, _ = probe_then_page(pipeline, inputs[0])
    assert flat and grid.warp_score == score


@pytest.mark.parametrize("guess", [True, False])
def test_a_wrong_guess_costs_a_call_not_the_answer(pipeline, pages, counted, monkeypatch, guess):
    """Every page guessed as showing its background, or none: the same answers as the probe's."""
    monkeypatch.setattr(stages, "shows_background", lambda small: guess)
    inputs, grids = stage_two(pipeline, [pages.scan, pages.curled])
    # Guessed: both pages' own grids ride in the probe's call (the scan's is not used). Not
    # guessed: the warped page's grid takes a second call.
    assert counted == ([4] if guess else [2, 1])
    scan, photo = grids
    assert isinstance(scan, PageGrid) and scan.grid is None
    assert isinstance(photo, PageGrid) and photo.grid is not None
    assert np.array_equal(photo.grid, probe_then_page(pipeline, inputs[1])[2])


def test_decisions_are_the_probes_on_the_rendered_pages(pipeline, pages, counted):
    named = rendered(pages)
    inputs, grids = stage_two(pipeline, list(named.values()))
    assert len(counted) <= 2  # one batch of pages: at most two calls, whatever the mix
    decided = {}
    for name, item, grid in zip(named, inputs, grids):
        assert isinstance(grid, PageGrid), grid
        flat, score, own = probe_then_page(pipeline, item)
        assert grid.warp_score == pytest.approx(score, abs=1e-6), name
        assert (grid.grid is None) == flat, name
        if own is not None:
            assert np.abs(grid.grid - own).max() < 1e-5, name
        decided[name] = flat
    # The rendered set holds both kinds, so the comparison above tests both.
    assert decided["scan"] and not decided["curled"], decided
