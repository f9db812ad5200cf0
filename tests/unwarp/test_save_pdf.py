"""Corrected pages as PDF: page count, order and size, untouched JPEG pages embedded byte for byte,
and the CLI's --save_pdf (one PDF per input document)."""

from __future__ import annotations

import io

import numpy as np
import pypdfium2 as pdfium
import pytest
from PIL import Image

from pagefix import save_pdf
from pagefix.cli.main import main
from pagefix.errors import OutputError


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
        assert pdf[i].get_size() == pytest.approx((w * 72 / 150, h * 72 / 150), abs=0.01)
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
    with pytest.raises(OutputError):
        save_pdf([np.zeros((4, 4, 3), np.uint8)], tmp_path / "x.pdf")


def _three_page_pdf(sources, path) -> None:
    # Half size: the CLI renders the 72-dpi pages at twice their pixel size.
    pages = [Image.open(name).convert("RGB").reduce(2) for name in sources]
    pages[0].save(path, "PDF", resolution=72, save_all=True, append_images=pages[1:])


def test_cli_writes_one_pdf_per_document(sources, tmp_path, capsys):
    document = tmp_path / "three.pdf"
    _three_page_pdf(sources, document)
    out = tmp_path / "fixed.pdf"
    code = main(["doc_preprocessor", "-i", str(document), "--save_pdf", str(out), "--pdf_dpi", "72",
                 "--cpu_threads", "2", "--device", "cpu"])
    assert code == 0
    pdf, images = images_of(out)
    assert len(pdf) == 3
    for i in range(3):
        w, h = images[i][0].get_px_size()
        assert pdf[i].get_size() == pytest.approx((w, h), abs=0.01)  # 72 dpi: one point per pixel
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
