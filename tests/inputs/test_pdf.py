"""PDF rendering under the limits: page cap, render-size cap before render(), passwords, lying
page trees, and memory that does not grow with the page count."""

from __future__ import annotations

import gc
import io
import logging
from pathlib import Path

import numpy as np
import pytest
from support.hostile_corpus import CATALOG, drawn_pdf, encrypted_pdf, page_object, pages_object, raw_pdf  # noqa: E402

from pagefix.errors import InputError, LimitExceededError, PasswordProtectedError  # noqa: E402
from pagefix.inputs import Page, PageFailure, iter_pages, iter_pdf_pages  # noqa: E402
from pagefix.inputs.pdf import _REOPEN_EVERY, pdf_render_scale  # noqa: E402
from pagefix.limits import Limits  # noqa: E402


def test_render_scale_is_lowered_to_fit_the_pixel_cap(caplog: pytest.LogCaptureFixture) -> None:
    limits = Limits(max_pixels=1_000_000, pdf_min_render_scale=0.01)
    assert pdf_render_scale(200, 300, limits) == 2.0  # 400x600 fits
    with caplog.at_level(logging.WARNING, logger="pagefix"):
        scale = pdf_render_scale(14400, 14400, limits)
    assert (14400 * scale) ** 2 <= 1_000_000 and scale > 0.069
    assert "rendered at 5 DPI instead of 144 DPI" in caplog.text
    with pytest.raises(LimitExceededError, match="even at scale 0.01"):
        pdf_render_scale(1e7, 1e7, limits)
    for bad in (0, -5, float("nan"), float("inf")):
        with pytest.raises(InputError, match="invalid size"):
            pdf_render_scale(bad, 100, limits)


def test_pdf_pages_have_their_own_lower_cap(caplog: pytest.LogCaptureFixture) -> None:
    """A page box costs nothing in the file: a 200-inch page renders at 50 MP, not at max_pixels."""
    limits = Limits()
    assert limits.max_pdf_page_pixels == 50_000_000 < limits.max_pixels
    assert pdf_render_scale(595, 842, limits) == 2.0  # A4 at 144 DPI: untouched
    assert pdf_render_scale(2384, 3370, limits) == 2.0  # A0 (32 MP): untouched
    scale = pdf_render_scale(14400, 14400, limits)
    assert 49_000_000 < (14400 * scale) ** 2 <= 50_000_000
    scale = pdf_render_scale(14400, 14400, limits.replace(max_pdf_page_pixels=10_000_000))
    assert (14400 * scale) ** 2 <= 10_000_000
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="pagefix"):
        pdf_render_scale(14400, 14400, limits, quiet=True)
    assert "rendered at scale" not in caplog.text


def test_a_huge_mediabox_renders_within_the_cap() -> None:
    data = raw_pdf([CATALOG, pages_object([3], 1), page_object(b"0 0 14400 14400")])
    ((index, page),) = list(iter_pdf_pages(data, Limits(max_pixels=4_000_000)))
    assert index == 0 and page.shape[0] * page.shape[1] <= 4_000_000 and page.shape[0] > 1900


def test_page_cap(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="pagefix"):
        pages = list(iter_pages(drawn_pdf(5), Limits(max_pdf_pages=2)))
    assert [p.page_index for p in pages] == [0, 1]
    assert "PDF claims 5 pages; only the first 2" in caplog.text


def test_password() -> None:
    (failure,) = list(iter_pages(encrypted_pdf(), Limits()))
    assert isinstance(failure, PageFailure) and isinstance(failure.error, PasswordProtectedError)
    assert str(failure.error) == "PDF is password protected"
    # An owner password alone does not stop anyone from reading: such a file opens.
    (page,) = list(iter_pages(encrypted_pdf(user_password=""), Limits()))
    assert isinstance(page, Page)


def test_a_lying_count_costs_one_failure_not_a_million() -> None:
    data = raw_pdf([CATALOG, pages_object([3], 1_000_000), page_object()])
    items = list(iter_pages(data, Limits(max_pdf_pages=None)))
    assert [type(item) for item in items] == [Page, PageFailure]
    assert "claims 1000000 page(s); stopped reading" in items[1].message


def test_one_bad_page_does_not_lose_the_others() -> None:
    data = raw_pdf([CATALOG, pages_object([3, 4, 5, 6], 4), page_object(), page_object(b"0 0 90000000 90000000"),
                    page_object(b"0 0 300 200"), page_object(b"0 0 100 100")])
    items = list(iter_pages(data, Limits()))
    assert [(type(i).__name__, i.page_index) for i in items] == [
        ("Page", 0), ("PageFailure", 1), ("Page", 2), ("Page", 3)]
    assert items[2].image.shape[:2] == (400, 600)


def test_broken_pdf_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "report.pdf"
    path.write_bytes(drawn_pdf(2)[:300])
    (failure,) = list(iter_pages(str(path)))
    assert failure.message.startswith(f"{path}: not a readable PDF")


def test_pages_render_lazily() -> None:
    pages = iter_pdf_pages(drawn_pdf(50), Limits())
    first = next(pages)
    assert first[0] == 0
    pages.close()  # the rest are never rendered; the document is closed
    assert io.BytesIO  # (no resource warning under -W error)


def _pdf_of_grey_pages(shades: list[int], side: int) -> bytes:
    """A PDF of 100x100 pt pages, page i one uncompressed `side` x `side` grey image of
    `shades[i]`: a stream of side**2 bytes of its own on each page, as in a scanned PDF."""
    kids = b" ".join(b"%d 0 R" % (3 + 3 * i) for i in range(len(shades)))
    objects = [CATALOG, b"<< /Type /Pages /Kids [%s] /Count %d >>" % (kids, len(shades))]
    content = b"q 100 0 0 100 0 0 cm /Im1 Do Q"
    for i, shade in enumerate(shades):
        first = 3 + 3 * i
        objects += [
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 100 100] /Resources << /XObject << /Im1 %d 0 R >> >> "
            b"/Contents %d 0 R >>" % (first + 2, first + 1),
            b"<< /Length %d >>\nstream\n%s\nendstream" % (len(content), content),
            b"<< /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceGray /BitsPerComponent 8 "
            b"/Length %d >>\nstream\n" % (side, side, side * side) + bytes([shade]) * (side * side) + b"\nendstream",
        ]
    return raw_pdf(objects)


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    pytest.skip("no /proc/self/status here")


@pytest.mark.parametrize("as_path", [False, True])
def test_pages_come_right_across_reopening_the_document(tmp_path: Path, as_path: bool) -> None:
    shades = [(37 * i) % 256 for i in range(40)]
    assert 40 > 2 * _REOPEN_EVERY  # the document is opened again twice on the way
    data = _pdf_of_grey_pages(shades, side=8)
    source: bytes | str = data
    if as_path:
        (tmp_path / "grey.pdf").write_bytes(data)
        source = str(tmp_path / "grey.pdf")
    pages = list(iter_pdf_pages(source, Limits(pdf_render_scale=0.5)))
    assert [index for index, _ in pages] == list(range(len(shades)))
    assert [int(np.median(page)) for _, page in pages] == shades


def test_memory_does_not_grow_with_the_page_count() -> None:
    """PDFium holds each page's image stream until its document closes: 120 pages of 0.49 MB
    streams read through one open document grew RSS by ~46 MB from page 20 to the end (0.49 MB
    a page); reopened every `_REOPEN_EVERY` pages it stays within a few MB."""
    n_pages, side = 120, 700
    data = _pdf_of_grey_pages([i % 256 for i in range(n_pages)], side)
    rss = {}
    for index, page in iter_pdf_pages(data, Limits(pdf_render_scale=0.5)):
        assert isinstance(page, np.ndarray), page
        del page
        if index in (20, n_pages - 1):
            gc.collect()
            rss[index] = _rss_mb()
    held = n_pages * side * side / 1e6
    assert rss[n_pages - 1] - rss[20] < held / 4, (rss, f"{held:.0f} MB of streams")
