"""Overlap of I/O and inference: order, errors and early stop of `prefetch`, the writer, and
`predict_iter` giving the same results with and without the background decoder."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from pagefix.pipeline.prefetch import BackgroundWriter, prefetch


@pytest.mark.parametrize("depth", [0, 1, 3])
def test_prefetch_keeps_order(depth: int) -> None:
    assert list(prefetch(iter(range(50)), depth)) == list(range(50))


def test_prefetch_raises_at_the_same_position() -> None:
    def source():
        yield 1
        yield 2
        raise ValueError("third item broke")

    got = []
    with pytest.raises(ValueError, match="third item"):
        for item in prefetch(source()):
            got.append(item)
    assert got == [1, 2]


def test_prefetch_runs_ahead_on_another_thread() -> None:
    threads = []

    def source():
        for i in range(3):
            threads.append(threading.current_thread())
            yield i

    assert list(prefetch(source())) == [0, 1, 2]
    assert all(t is not threading.main_thread() for t in threads)


def test_closing_early_stops_the_producer_and_closes_the_source() -> None:
    produced, closed = [], threading.Event()

    def source():
        try:
            for i in range(1000):
                produced.append(i)
                yield i
        finally:
            closed.set()

    stream = prefetch(source(), depth=2)
    assert next(stream) == 0
    stream.close()
    assert closed.wait(5)
    assert len(produced) <= 5  # one taken, two queued, at most one more in hand


def test_writer_overlaps_and_reports_errors() -> None:
    done = []
    with BackgroundWriter() as writer:
        for i in range(3):
            writer.submit(lambda i=i: (time.sleep(0.01), done.append(i)))
    assert done == [0, 1, 2]
    writer = BackgroundWriter()
    writer.submit(lambda: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        writer.submit(lambda: None)
    writer.close()


def test_predict_iter_same_with_and_without_prefetch(pipeline, pages, tmp_path) -> None:
    from support.pages import rgb

    pages = [rgb(page).resize((400, 560)) for page in (pages.scan, pages.table)]
    pages[1] = pages[1].rotate(90, expand=True)
    pdf = tmp_path / "two.pdf"
    pages[0].save(pdf, save_all=True, append_images=pages[1:], resolution=72.0)
    inputs = [str(pdf), str(tmp_path / "missing.jpg")]
    runs = []
    # Stages one after another without and with decoding ahead, then the pages' stages overlapped.
    for in_flight, depth in ((1, 0), (1, 1), (3, 1)):
        pipeline.pages_in_flight, pipeline.prefetch_pages = in_flight, depth
        try:
            runs.append(list(pipeline.predict_iter(inputs, use_doc_unwarping=False, errors="yield")))
        finally:
            del pipeline.prefetch_pages, pipeline.pages_in_flight  # back to the class defaults
    plain = runs[0]
    for other in runs[1:]:
        assert [type(r).__name__ for r in plain] == [type(r).__name__ for r in other] == ["PageResult", "PageResult", "PageFailure"]
        for a, b in zip(plain[:2], other[:2]):
            assert a.angle == b.angle and np.array_equal(a.output_img, b.output_img)
    with pytest.raises(Exception) as raised:
        list(pipeline.predict_iter(inputs, use_doc_unwarping=False))
    assert type(raised.value) is type(plain[2].error)
