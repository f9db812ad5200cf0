"""Every kind of input gives the right number of results with the right input_path/page_index."""

from __future__ import annotations

import functools
import http.server
import shutil
import threading
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image
from support.pages import fixture_file

from pagefix import FetchError, PageFailure


def page_image(text: str, size=(600, 800)) -> Image.Image:
    from PIL import ImageDraw

    image = Image.new("RGB", size, "white")
    draw = ImageDraw.Draw(image)
    for row in range(12):
        draw.text((40, 40 + 55 * row), f"{text} line {row} of a test page", fill="black")
    return image


@pytest.fixture
def three_page_pdf(tmp_path) -> Path:
    pages = [page_image(f"page {i}") for i in range(3)]
    path = tmp_path / "report.pdf"
    pages[0].save(path, "PDF", save_all=True, append_images=pages[1:], resolution=72)
    return path


@pytest.fixture
def fast(pipeline):
    """The shared pipeline with both stages off for tests about inputs, not models."""
    return functools.partial(pipeline.predict, use_doc_orientation_classify=False, use_doc_unwarping=False)


def test_pdf_pages_come_in_order_with_page_index(fast, three_page_pdf):
    results = fast(str(three_page_pdf))
    assert [r.page_index for r in results] == [0, 1, 2]
    assert {r.input_path for r in results} == {str(three_page_pdf)}
    # 600x800 pt pages at the default scale 2.0 (144 DPI).
    assert results[0].output_img.shape == (1600, 1200, 3)
    assert [r.base_name for r in results] == ["report_0", "report_1", "report_2"]


def test_directory_is_recursive_sorted_and_includes_pdfs(fast, tmp_path, three_page_pdf, pages):
    folder = tmp_path / "scans"
    (folder / "b").mkdir(parents=True)
    shutil.copy(pages.receipt_jpeg, folder / "a.jpg")
    shutil.copy(pages.table_png, folder / "b" / "c.png")
    shutil.copy(three_page_pdf, folder / "b" / "d.pdf")
    (folder / "notes.txt").write_text("not a page")
    results = fast(str(folder))
    assert [(Path(r.input_path).name, r.page_index) for r in results] == [
        ("a.jpg", None), ("c.png", None), ("d.pdf", 0), ("d.pdf", 1), ("d.pdf", 2),
    ]


def test_ndarray_and_list_inputs(fast, pages):
    array = np.full((120, 90, 3), 255, np.uint8)
    (result,) = fast(array)
    assert result.input_path is None and result.page_index is None
    path = str(pages.receipt_jpeg)
    results = fast([array, path, array])
    assert [r.input_path for r in results] == [None, path, None]


def test_bytes_input(fast, pages):
    data = pages.receipt_jpeg.read_bytes()
    (result,) = fast(data)
    assert result.input_path is None and result.output_img.ndim == 3


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):  # keep test output clean
        pass


@pytest.fixture
def file_server(tmp_path):
    handler = functools.partial(_QuietHandler, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", tmp_path
    server.shutdown()
    server.server_close()


def test_urls_to_images_and_pdfs(fast, file_server, three_page_pdf, pages):
    base, root = file_server
    shutil.copy(pages.receipt_jpeg, root / "receipt.jpg")
    shutil.copy(three_page_pdf, root / "doc.pdf")
    (image,) = fast(f"{base}/receipt.jpg")
    assert image.input_path == f"{base}/receipt.jpg" and image.base_name == "receipt"
    pages = fast(f"{base}/doc.pdf")
    assert [p.page_index for p in pages] == [0, 1, 2]
    with pytest.raises(FetchError, match="HTTP 404"):
        fast(f"{base}/missing.jpg")


@pytest.mark.parametrize("real", [True, False], ids=["real-book-photo", "rendered-page"])
def test_exif_rotated_photos_come_out_upright(pipeline, pages, real):
    # A real book photo from a phone, stored sideways (tests/fixtures/manifest.csv), and a rendered
    # page stored the same way.
    for path in [fixture_file("page_dewarp__boston_cooking_a.jpg") if real else pages.exif_sideways_jpeg]:
        with Image.open(path) as raw:
            stored_w, stored_h = raw.size
            assert raw.getexif().get(0x0112) == 6  # stored sideways
        (result,) = pipeline.predict(str(path))
        h, w = result.input_img.shape[:2]
        assert (w, h) == (stored_h, stored_w)  # EXIF applied while decoding
        # Text upright: no turn needed, and the classifier agrees on the output.
        assert result.angle == 0
        (check,) = pipeline.orientation_classifier.predict([result.output_img], "default")
        assert check.angle == 0


def test_multi_page_tiff_gives_one_result_per_frame(fast, tmp_path):
    frames = [page_image(f"frame {i}", (300, 400)) for i in range(3)]
    path = tmp_path / "scan.tiff"
    frames[0].save(path, save_all=True, append_images=frames[1:])
    results = fast(str(path))
    assert [r.page_index for r in results] == [0, 1, 2]
    assert [r.base_name for r in results] == ["scan_0", "scan_1", "scan_2"]


@pytest.mark.parametrize(
    ("mode", "suffix", "expected_bgr"),
    [
        ("L", ".png", (128, 128, 128)),
        ("I;16", ".png", (128, 128, 128)),
        ("P", ".png", (0, 0, 255)),
        ("RGBA", ".png", (255, 255, 255)),  # fully transparent: composited on white
        ("LA", ".png", (255, 255, 255)),
        ("CMYK", ".jpg", (0, 0, 255)),
        ("RGB", ".bmp", (0, 0, 255)),
        ("RGB", ".webp", (0, 0, 255)),
    ],
)
def test_pixel_modes_decode_to_bgr(fast, tmp_path, mode, suffix, expected_bgr):
    if mode == "L":
        image = Image.new("L", (64, 48), 128)
    elif mode == "I;16":
        image = Image.fromarray(np.full((48, 64), 128 * 257, np.uint16))
    elif mode == "P":
        image = Image.new("RGB", (64, 48), (255, 0, 0)).convert("P")
    elif mode == "RGBA":
        image = Image.new("RGBA", (64, 48), (255, 0, 0, 0))
    elif mode == "LA":
        image = Image.new("LA", (64, 48), (0, 0))
    elif mode == "CMYK":
        image = Image.new("RGB", (64, 48), (255, 0, 0)).convert("CMYK")
    else:
        image = Image.new("RGB", (64, 48), (255, 0, 0))
    path = tmp_path / f"page{suffix}"
    image.save(path, **({"lossless": True} if suffix == ".webp" else {}))
    (result,) = fast(str(path))
    assert result.input_img.dtype == np.uint8 and result.input_img.shape == (48, 64, 3)
    centre = result.input_img[24, 32].astype(int)
    assert np.abs(centre - np.array(expected_bgr)).max() <= 3, centre


def test_failures_in_a_batch_do_not_stop_the_others(pipeline, tmp_path, pages):
    good = str(pages.receipt_jpeg)
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    text = tmp_path / "notes.jpg"
    text.write_text("this is not an image")
    truncated = tmp_path / "truncated.jpg"
    data = Path(good).read_bytes()
    truncated.write_bytes(data[: len(data) // 3])
    not_pdf = tmp_path / "fake.pdf"
    not_pdf.write_bytes(b"%PDF-1.4\nthis is not really a pdf\n")
    missing = tmp_path / "missing.jpg"
    inputs = [good, str(missing), str(empty), str(text), str(truncated), str(not_pdf), good]
    items = pipeline.predict(inputs, use_doc_unwarping=False, errors="yield")
    assert [item.ok for item in items] == [True, False, False, False, False, False, True]
    messages = [item.message for item in items if isinstance(item, PageFailure)]
    for message, needle in zip(messages, ["no such file", "empty file", "unsupported file format",
                                          "corrupt or truncated", "PDF"]):
        assert needle in message, message
    for message, path in zip(messages, inputs[1:6]):
        assert path in message  # every failure names its file


def test_first_failure_raises_with_errors_raise(fast, tmp_path):
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    from pagefix import UnsupportedFormatError

    with pytest.raises(UnsupportedFormatError, match="empty.png"):
        fast(str(empty))


def test_rgba_array_is_composited_on_white(fast):
    array = np.zeros((10, 10, 4), np.uint8)  # transparent black
    (result,) = fast(array)
    assert (result.input_img == 255).all()
    assert cv2.cvtColor(result.output_img, cv2.COLOR_BGR2GRAY).min() == 255


def test_sources_split_into_single_inputs_read_like_the_whole(tmp_path, three_page_pdf) -> None:
    from pagefix.inputs import iter_pages, iter_sources

    folder = tmp_path / "scans"
    (folder / "b").mkdir(parents=True)
    page_image("first").save(folder / "a.jpg")
    page_image("second").save(folder / "b" / "c.png")
    shutil.copy(three_page_pdf, folder / "b" / "d.pdf")
    source = [str(folder), np.full((40, 30, 3), 255, np.uint8), [str(folder / "a.jpg")], str(tmp_path / "missing.jpg")]

    def described(pages):
        return [(p.input_path, p.page_index, type(p).__name__) for p in pages]

    split = [page for item in iter_sources(source) for page in iter_pages(item)]
    assert described(split) == described(iter_pages(source))
    assert len(split) == 1 + 1 + 3 + 1 + 1 + 1  # jpg, png, 3 PDF pages, array, nested list, missing


def test_a_turned_page_inside_a_pdf_comes_back_upright(pipeline, pages):
    results = pipeline.predict(str(pages.three_page_pdf))
    assert [r.page_index for r in results] == [0, 1, 2]
    assert [r.angle for r in results] == [0, 90, 0]
    assert not any(r.unwarp_applied for r in results)  # flat pages are left as they are
    upright = results[1].output_img
    assert upright.shape == pages.table.shape  # 144 dpi at scale 2: the page's own pixel size
    # Measured: 2.4 grey levels, the JPEG the PDF holds the page in; turned wrong, far more.
    difference = np.abs(upright.astype(np.int16) - pages.table).mean()
    assert difference < 4, difference
