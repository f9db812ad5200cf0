"""Pages overlapped across the pipeline's stages (`prefetch.overlapped`, `DocPreprocessor.predict_iter`
with `pages_in_flight` > 1): results in input order, each page's error on that page, and no more
pages in flight than the bound."""

from __future__ import annotations

import copy
import random
import threading
import time

import cv2
import numpy as np
import pytest

from pagefix import DocPreprocessor, PageFailure
from pagefix.errors import InputError
from pagefix.pipeline.prefetch import overlapped


class _Counted:
    """A source that counts the items taken from it, and a consumer that counts those it is done with."""

    def __init__(self, count: int) -> None:
        self.count = count
        self.taken = 0
        self.done = 0
        self.most_in_flight = 0
        self.lock = threading.Lock()

    def __iter__(self):
        for i in range(self.count):
            with self.lock:
                self.taken += 1
                self.most_in_flight = max(self.most_in_flight, self.taken - self.done)
            yield i


def _slow(offset: int):
    def stage(item):
        time.sleep(random.uniform(0, 0.005))
        return item + offset
    return stage


@pytest.mark.parametrize("in_flight", [1, 2, 3])
def test_overlapped_keeps_order_and_bounds_the_items_in_flight(in_flight):
    random.seed(in_flight)
    source = _Counted(40)
    out = []
    for item in overlapped(source, [_slow(0), _slow(1000), _slow(0)], in_flight):
        out.append(item)
        time.sleep(random.uniform(0, 0.005))
        with source.lock:
            source.done += 1
    assert out == [i + 1000 for i in range(40)]
    assert source.most_in_flight <= in_flight
    if in_flight > 1:
        assert source.most_in_flight > 1  # the stages did work on several items at once


def test_overlapped_raises_a_stage_error_at_its_item():
    def second(item):
        if item == 5:
            raise RuntimeError("bug on item 5")
        return item

    got = []
    with pytest.raises(RuntimeError, match="item 5"):
        for item in overlapped(range(10), [_slow(0), second, _slow(0)], 3):
            got.append(item)
    assert got == [0, 1, 2, 3, 4]


def test_overlapped_closed_early_stops_its_threads():
    before = threading.active_count()
    stream = overlapped(iter(range(1000)), [_slow(0), _slow(0), _slow(0)], 3)
    assert [next(stream) for _ in range(3)] == [0, 1, 2]
    stream.close()
    deadline = time.monotonic() + 5
    while threading.active_count() > before and time.monotonic() < deadline:
        time.sleep(0.01)
    assert threading.active_count() == before


def _marked_pages(count: int) -> list[np.ndarray]:
    """Small pages told apart by their grey level (the page number), each with a few text lines."""
    pages = []
    for i in range(count):
        page = np.full((400, 300, 3), 150 + 10 * i, np.uint8)
        for row in range(60, 360, 40):
            cv2.putText(page, f"page {i} line {row}", (20, row), cv2.FONT_HERSHEY_SIMPLEX, 0.6, (0, 0, 0), 1)
        pages.append(page)
    return pages


def _grey_level(image: np.ndarray) -> int:
    return int(np.median(image))


@pytest.fixture
def overlapping(pipeline, monkeypatch):
    """A pipeline on the session's models with its pages overlapped three at a time."""
    monkeypatch.setattr(DocPreprocessor, "pages_in_flight", 3)
    return DocPreprocessor(device="cpu", cpu_threads=2, orientation_classifier=pipeline.orientation_classifier,
                           unwarper=pipeline.unwarper)


def test_predict_iter_keeps_the_input_order_and_bounds_pages_in_flight(overlapping):
    pages = _marked_pages(7)
    taken = []

    def source():
        for i, page in enumerate(pages):
            taken.append(i)
            yield page

    seen = []
    for n, result in enumerate(overlapping.predict_iter(source(), use_doc_unwarping=False)):
        # Result n is out; the pages taken are n's and those behind it, at most the bound in all.
        assert len(taken) <= n + overlapping.pages_in_flight
        seen.append(_grey_level(result.output_img))
    assert seen == [_grey_level(page) for page in pages]


def test_predict_iter_overlapped_gives_what_one_after_another_gives(overlapping, pages):
    images = [pages.curled, cv2.rotate(cv2.resize(pages.scan, None, fx=0.5, fy=0.5), cv2.ROTATE_90_CLOCKWISE),
              pages.curled[::-1, ::-1].copy()]
    overlapped_results = list(overlapping.predict_iter(images))
    serial = copy.copy(overlapping)
    serial.pages_in_flight = 1
    for mine, theirs in zip(overlapped_results, serial.predict_iter(images), strict=True):
        assert mine.angle_decisions == theirs.angle_decisions
        assert mine.unwarp_applied == theirs.unwarp_applied
        assert np.array_equal(mine.output_img, theirs.output_img)


def test_an_error_on_a_page_stays_on_that_page(overlapping, tmp_path):
    """A file that does not decode and a page the model fails on: each is the failure at its own place."""
    pages = _marked_pages(6)
    for i, page in enumerate(pages):
        cv2.imwrite(str(tmp_path / f"p{i}.png"), page)
    (tmp_path / "p2.png").write_bytes(b"not a png at all")
    failing_level = _grey_level(pages[4])
    unwarper = copy.copy(overlapping.unwarper)
    runner = unwarper.runner

    def fails_on_page_4(batch):
        # UVDoc's input is the page in RGB in [0, 1]: page 4 is the one of its grey level.
        if any(abs(np.median(item) * 255 - failing_level) < 1.5 for item in batch):
            raise InputError("the model failed on this page")
        return runner(batch)

    unwarper.runner = fails_on_page_4
    pipeline = DocPreprocessor(device="cpu", cpu_threads=2, orientation_classifier=overlapping.orientation_classifier,
                               unwarper=unwarper, skip_flat_pages=False)
    results = list(pipeline.predict_iter(str(tmp_path), errors="yield"))
    assert [r.input_path.rsplit("/", 1)[-1] for r in results] == [f"p{i}.png" for i in range(6)]
    failed = [i for i, r in enumerate(results) if isinstance(r, PageFailure)]
    assert failed == [2, 4]
    assert "model failed" in results[4].message
    assert [_grey_level(r.input_img) for r in results if not isinstance(r, PageFailure)] == [
        _grey_level(pages[i]) for i in (0, 1, 3, 5)]
    with pytest.raises(InputError):  # errors="raise": the first failure, after the pages before it
        list(pipeline.predict_iter(str(tmp_path)))
