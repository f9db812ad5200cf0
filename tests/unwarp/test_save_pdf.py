"""Corrected pages as PDF: page count, order and size, untouched JPEG pages embedded byte for byte,
and the CLI's --save_pdf (one PDF per input document)."""

from __future__ import annotations

import importlib.util
import io
import logging
from pathlib import Path

import numpy as np
import pypdfium2 as pdfium
import pytest
from PIL import Image

from pagefix import Limits, save_pdf
from pagefix.batch import BatchOptions, OutputOptions, run_batch
from pagefix.cli.main import main
from pagefix.errors import OutputError
from pagefix.inputs import Page, iter_pages

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def sources(pages):
    """A flat JPEG page, a curled photo (JPEG) and a flat PNG page."""
    return [pages.scan_jpeg, pages.curled_jpeg, pages.table_png]


def images_of(path) -> tuple[pdfium.PdfDocument, list[list[pdfium.PdfImage]]]:
    """The PDF and the image objects of each of its pages."""
    pdf = pdfium.PdfDocument(str(path))
    return pdf, [[obj for obj in pdf[i].get_objects() if isinstance(obj, pdfium.PdfImage)] for i in range(len(pdf))]


def test_three_pages_in_order_with_the_untouched_jpeg_kept(pipeline, sources, tmp_path):
    results = pipeline.predict([str(p) for p in sources])
    assert [r.unwarp_applied for r in results] == [False, True, False]
    target = save_pdf(results, tmp_path / "out.pdf", dpi=150)
    pdf, images = images_of(target)
    assert len(pdf) == 3
    for i, result in enumerate(results):
        h, w = result.output_img.shape[:2]
        # Each page at its file's stated DPI; 150 (the `dpi` given) where the file states none.
        dpi_x, dpi_y = result.dpi or (150, 150)
        assert pdf[i].get_size() == pytest.approx((w * 72 / dpi_x, h * 72 / dpi_y), abs=0.01)
        assert len(images[i]) == 1 and images[i][0].get_px_size() == (w, h)
        assert images[i][0].get_filters() == ["DCTDecode"]
    assert bytes(images[0][0].get_data(decode_simple=False)) == sources[0].read_bytes()
    # The unwarped page is its own pixels, encoded once: decode the embedded image and compare
    # (measured: 0.5 grey levels on the curled photo, 0.7 on a DocUNet photo; rendering the page
    # at 150 dpi instead adds pdfium's resampling, 2.7 to 3.3).
    embedded = np.asarray(images[1][0].get_bitmap().to_pil().convert("RGB"))[:, :, ::-1]
    assert embedded.shape == results[1].output_img.shape
    assert np.abs(embedded.astype(np.int16) - results[1].output_img).mean() < 1.5
    rendered = pdf[1].render(scale=150 / 72).to_pil()
    h, w = results[1].output_img.shape[:2]
    # pdfium rounds the rendered size up: 960 pt at 150/72 can come out as 2001 px for 2000.
    assert 0 <= rendered.height - h <= 1 and 0 <= rendered.width - w <= 1
    pdf.close()


def test_a_cmyk_jpeg_is_encoded_afresh(pipeline, tmp_path):
    buffer = io.BytesIO()
    Image.new("CMYK", (120, 80), (0, 200, 200, 0)).save(buffer, "JPEG", quality=95)  # red
    result = pipeline.predict(buffer.getvalue(), use_doc_orientation_classify=False, use_doc_unwarping=False)[0]
    assert result.source_jpeg == buffer.getvalue()
    pdf, images = images_of(save_pdf([result], tmp_path / "cmyk.pdf", dpi=72))
    assert bytes(images[0][0].get_data(decode_simple=False)) != buffer.getvalue()
    red = np.asarray(pdf[0].render(scale=1).to_pil().convert("RGB"))[40, 60]
    assert red[0] > 200 and red[1] < 80 and red[2] < 80
    pdf.close()


def test_save_pdf_takes_results_only(tmp_path):
    with pytest.raises(OutputError, match="PageResult"):
        save_pdf([np.zeros((4, 4, 3), np.uint8)], tmp_path / "x.pdf")


def _three_page_pdf(sources, path) -> None:
    # Half size: the CLI renders the 72-dpi pages at twice their pixel size.
    pages = [Image.open(name).convert("RGB").reduce(2) for name in sources]
    pages[0].save(path, "PDF", resolution=72, save_all=True, append_images=pages[1:])


def test_cli_writes_one_pdf_per_document(sources, tmp_path, capsys):
    document = tmp_path / "three.pdf"
    _three_page_pdf(sources, document)
    out = tmp_path / "fixed.pdf"
    # Deskew off: a straightened page gains the corners its turn needs (docs: skew.md).
    code = main(["doc_preprocessor", "-i", str(document), "--save_pdf", str(out), "--pdf_dpi", "72",
                 "--cpu_threads", "2", "--device", "cpu", "--deskew", "False"])
    assert code == 0
    pdf, images = images_of(out)
    assert len(pdf) == 3
    with pdfium.PdfDocument(str(document)) as source:
        sizes = [source[i].get_size() for i in range(3)]
    for i in range(3):
        # Each page keeps its input page's size in points, whatever the render scale.
        assert pdf[i].get_size() == pytest.approx(sizes[i], rel=0.01)
    # A rendered input page is 2x its 72-dpi size (pdf_render_scale 2); page order is kept.
    first = Image.open(sources[0]).reduce(2).size
    assert [img[0].get_px_size() for img in images][0] == (2 * first[0], 2 * first[1])
    pdf.close()
    capsys.readouterr()

    folder = tmp_path / "pdfs"
    code = main(["doc_preprocessor", "-i", str(sources[0]), str(sources[2]),
                 "--save_pdf", str(folder), "--use_doc_unwarping", "False", "--cpu_threads", "2"])
    assert code == 0
    assert sorted(p.name for p in folder.iterdir()) == sorted([f"{sources[0].stem}.pdf", f"{sources[2].stem}.pdf"])


def test_cli_refuses_one_pdf_file_for_several_documents(sources, tmp_path, capsys):
    code = main(["doc_preprocessor", "-i", str(sources[0]), str(sources[2]),
                 "--save_pdf", str(tmp_path / "one.pdf")])
    assert code == 2
    assert "several documents" in capsys.readouterr().err
    assert not (tmp_path / "one.pdf").exists()



# -- physical page sizes: every input keeps its size in points -----------------------------------

LETTER_PX = (1700, 2200)  # US letter (8.5 x 11 in) at 200 DPI
LETTER_PT = (612.0, 792.0)


@pytest.fixture(scope="module")
def example():
    """examples/make_example.py, which renders a text page and curls it like a photographed book page."""
    spec = importlib.util.spec_from_file_location("make_example", REPO / "examples" / "make_example.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def sized(example, tmp_path_factory) -> tuple[Path, dict[str, tuple[float, float]]]:
    """A folder of files with known physical sizes, and the page size (points) each must come out
    at: a US-letter PDF scanned at 200 DPI, JPEGs with and without DPI, a TIFF with DPI."""
    folder = tmp_path_factory.mktemp("sized")
    page = Image.fromarray(example.render_page(*LETTER_PX)[:, :, ::-1])
    page.save(folder / "letter.pdf", "PDF", resolution=200)
    page.save(folder / "dpi200.jpg", dpi=(200, 200), quality=90)
    page.save(folder / "nodpi.jpg", quality=90)
    page.save(folder / "dpi150.tif", dpi=(150, 150), compression="tiff_lzw")
    return folder, {
        "letter.pdf": LETTER_PT,
        "dpi200.jpg": LETTER_PT,
        "nodpi.jpg": (1700 * 72 / 300, 2200 * 72 / 300),  # no DPI: the default 300
        "dpi150.tif": (1700 * 72 / 150, 2200 * 72 / 150),
    }


def page_sizes(path) -> list[tuple[float, float]]:
    with pdfium.PdfDocument(str(path)) as pdf:
        return [tuple(pdf[i].get_size()) for i in range(len(pdf))]


def assert_size(found, expected) -> None:
    assert found == pytest.approx(expected, rel=0.01), (found, expected)


def test_save_pdf_keeps_each_inputs_physical_size(pipeline, sized, tmp_path):
    folder, expected = sized
    for name, size in expected.items():
        results = pipeline.predict(str(folder / name))
        assert page_sizes(save_pdf(results, tmp_path / f"{name}.pdf")) == [pytest.approx(size, rel=0.01)]
        if name != "nodpi.jpg":
            assert_size(results[0].page_size_pt, size)
    # The PDF page was rendered at its scan's 200 DPI, not pdf_render_scale's 144: no pixel is lost.
    letter = pipeline.predict(str(folder / "letter.pdf"))[0]
    assert letter.output_img.shape[:2] == (LETTER_PX[1], LETTER_PX[0])
    assert letter.dpi == pytest.approx((200.0, 200.0))
    # `dpi` lays out the pages whose input states none.
    nodpi = pipeline.predict(str(folder / "nodpi.jpg"))
    assert nodpi[0].dpi is None and nodpi[0].page_size_pt is None
    assert_size(page_sizes(save_pdf(nodpi, tmp_path / "at150.pdf", dpi=150))[0], (1700 * 72 / 150, 2200 * 72 / 150))


def test_cli_save_pdf_keeps_each_inputs_physical_size(sized, tmp_path, capsys):
    folder, expected = sized
    out = tmp_path / "pdfs"
    code = main(["doc_preprocessor", "-i", str(folder), "--save_pdf", str(out), "--cpu_threads", "2", "--device", "cpu"])
    assert code == 0, capsys.readouterr().err
    for name, size in expected.items():
        assert page_sizes(out / f"{Path(name).stem}.pdf") == [pytest.approx(size, rel=0.01)], name
    # --pdf_dpi is the resolution of the pages whose input states none.
    single = tmp_path / "nodpi.pdf"
    assert main(["doc_preprocessor", "-i", str(folder / "nodpi.jpg"), "--save_pdf", str(single), "--pdf_dpi", "150",
                 "--cpu_threads", "2"]) == 0
    assert_size(page_sizes(single)[0], (1700 * 72 / 150, 2200 * 72 / 150))
    capsys.readouterr()


def test_batch_save_pdf_keeps_each_inputs_physical_size(sized, tmp_path):
    folder, expected = sized
    out = tmp_path / "out"
    summary = run_batch(BatchOptions([str(folder)], str(out), output=OutputOptions(save_pdf=True),
                                     pipeline={"device": "cpu", "cpu_threads": 2}))
    assert summary.pages_failed == 0
    for name, size in expected.items():
        assert page_sizes(out / "pdf" / f"{name}.pdf") == [pytest.approx(size, rel=0.01)], name


def test_a_turned_page_with_uneven_dpi_keeps_its_size(pipeline, example, tmp_path):
    """Stored a quarter turn off, 2200 px wide at 200 DPI and 1700 px high at 100 DPI (11 x 17 in):
    turned upright, the page is 17 x 11 in, and its x and y resolutions trade places."""
    page = Image.fromarray(example.render_page(*LETTER_PX)[:, :, ::-1]).transpose(Image.Transpose.ROTATE_270)
    page.save(tmp_path / "turned.jpg", dpi=(200, 100), quality=90)
    (result,) = pipeline.predict(str(tmp_path / "turned.jpg"))
    assert result.angle in (90, 270) and result.output_img.shape[:2] == (2200, 1700)
    assert result.dpi == pytest.approx((100.0, 200.0))
    assert_size(page_sizes(save_pdf([result], tmp_path / "turned.pdf"))[0], (17 * 72, 11 * 72))


def test_an_unwarped_page_keeps_its_scale_and_the_margin_adds_to_it(pipeline, example, tmp_path):
    photo = example.curl_and_photograph(example.render_page())
    Image.fromarray(photo[:, :, ::-1]).save(tmp_path / "curled.jpg", dpi=(150, 150), quality=90)
    (result,) = pipeline.predict(str(tmp_path / "curled.jpg"), keep_margin=0.1, skip_flat_pages=False)
    assert result.unwarp_applied
    h, w = photo.shape[:2]
    margin_x, margin_y = round(0.1 * w), round(0.1 * h)
    assert result.output_img.shape[:2] == (h + 2 * margin_y, w + 2 * margin_x)
    expected = ((w + 2 * margin_x) * 72 / 150, (h + 2 * margin_y) * 72 / 150)
    assert_size(page_sizes(save_pdf([result], tmp_path / "curled.pdf"))[0], expected)


def test_a_pdf_rendered_below_its_scans_resolution_is_a_warning(sized):
    folder, _ = sized
    seen: list[str] = []
    handler = logging.Handler()
    handler.emit = lambda record: seen.append(record.getMessage())  # type: ignore[method-assign]
    log = logging.getLogger("pagefix.inputs.pdf")
    log.addHandler(handler)
    try:
        (page,) = iter_pages(str(folder / "letter.pdf"), Limits(max_pixels=1_000_000))
    finally:
        log.removeHandler(handler)
    assert isinstance(page, Page) and page.image.shape[0] * page.image.shape[1] <= 1_000_000
    assert any("softer than the input" in line and "200 DPI" in line for line in seen), seen
    # Smaller, but still the same page: its size in points is kept.
    height, width = page.image.shape[:2]
    assert_size((width * 72 / page.dpi[0], height * 72 / page.dpi[1]), LETTER_PT)
