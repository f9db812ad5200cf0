"""The image decoder: EXIF turns like Pillow's exif_transpose, banded conversion equal to a
whole-image one for every pixel mode, and the structural checks (JPEG scans, TIFF strips, frames)."""

from __future__ import annotations

import io
import logging

import numpy as np
import pytest
from PIL import Image, ImageOps
from support.hostile_corpus import jpeg_with_scans, pillow_bytes, sample_page, tiff  # noqa: E402

from pagefix.errors import LimitExceededError  # noqa: E402
from pagefix.inputs import decode as decode_module  # noqa: E402
from pagefix.inputs import decode_image, iter_pages  # noqa: E402
from pagefix.inputs.probe import MAX_TIFF_STRIPS, check_structure, count_jpeg_scans  # noqa: E402
from pagefix.limits import Limits  # noqa: E402


def only_frame(data: bytes, limits: Limits | None = None) -> np.ndarray:
    ((index, frame),) = list(decode_image(data, limits or Limits()))
    assert index is None and isinstance(frame, np.ndarray)
    return frame


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_like_pillow(orientation: int) -> None:
    image = sample_page(50, 70)
    exif = Image.Exif()
    exif[0x0112] = orientation
    data = pillow_bytes(image, "PNG", exif=exif.tobytes())
    with Image.open(io.BytesIO(data)) as opened:
        expected = np.asarray(ImageOps.exif_transpose(opened).convert("RGB"))[:, :, ::-1]
    assert np.array_equal(only_frame(data), expected)


def _whole_image_reference(image: Image.Image) -> np.ndarray:
    """What the decoder gave before it worked in bands: Pillow converts the whole image."""
    mode = image.mode
    if mode in ("I;16", "I;16B", "I"):
        gray = (np.clip(np.asarray(image).astype(np.int64), 0, 65535) >> 8).astype(np.uint8)
        return np.repeat(gray[:, :, None], 3, axis=2)
    if mode == "F":
        array = np.asarray(image)
        scale = 255.0 if float(array.max()) <= 1.0 else 1.0
        gray = np.clip(array * scale, 0, 255).astype(np.uint8)
        return np.repeat(gray[:, :, None], 3, axis=2)
    if mode in ("RGBA", "LA", "PA") or (mode == "P" and "transparency" in image.info):
        background = Image.new("RGBA", image.size, (255, 255, 255, 255))
        background.alpha_composite(image.convert("RGBA"))
        return np.asarray(background.convert("RGB"))[:, :, ::-1]
    return np.asarray(image.convert("RGB"))[:, :, ::-1]


@pytest.mark.parametrize("mode", ["RGB", "L", "1", "P", "P-transparent", "RGBA", "LA", "CMYK", "I;16", "I", "F", "YCbCr", "LAB"])
def test_banded_conversion_equals_whole_image(mode: str, monkeypatch: pytest.MonkeyPatch) -> None:
    page = sample_page(37, 211)
    rng = np.random.default_rng(3)
    if mode == "P-transparent":
        image = page.convert("P")
        image.info["transparency"] = 0
    elif mode in ("I;16", "I"):
        values = rng.integers(0, 65535, (211, 37)).astype(np.uint16 if mode == "I;16" else np.int32)
        image = Image.fromarray(values)
    elif mode == "F":
        image = Image.fromarray(rng.random((211, 37)).astype(np.float32))
    elif mode in ("RGBA", "LA"):
        image = page.convert(mode)
        alpha = Image.fromarray(rng.integers(0, 255, (211, 37)).astype(np.uint8))
        image.putalpha(alpha)
    else:
        image = page.convert(mode)
    monkeypatch.setattr(decode_module, "_BAND_BYTES", 37 * 16 * 5)  # bands of 5 rows
    assert np.array_equal(decode_module.to_bgr_array(image), _whole_image_reference(image))


def test_jpeg_scans_are_counted_through_the_segments() -> None:
    baseline = pillow_bytes(sample_page(), "JPEG")
    progressive = pillow_bytes(sample_page(), "JPEG", progressive=True)
    assert count_jpeg_scans(baseline) == 1
    assert 2 <= count_jpeg_scans(progressive) <= 12
    # A start-of-scan marker inside a comment segment is data, not a scan.
    commented = baseline[:2] + b"\xff\xfe\x00\x0a" + b"\xff\xda\xff\xda\x00\x00" + baseline[2:]
    assert count_jpeg_scans(commented) == 1
    assert count_jpeg_scans(jpeg_with_scans(300), stop_after=100) == 101
    with pytest.raises(LimitExceededError, match="PAGEFIX_MAX_JPEG_SCANS"):
        check_structure(jpeg_with_scans(300), "jpeg", Limits())
    check_structure(jpeg_with_scans(300), "jpeg", Limits(max_jpeg_scans=1000))


def test_tiff_strip_tables_are_bounded() -> None:
    fine = tiff(64, 1000, b"\x00" * 64, strip_count=1000)
    check_structure(fine, "tiff", Limits())
    over = tiff(8, MAX_TIFF_STRIPS + 1, b"\x00" * 8, strip_count=MAX_TIFF_STRIPS + 1)
    with pytest.raises(LimitExceededError, match="strips or tiles"):
        check_structure(over, "tiff", Limits())


def test_tiff_frames_stop_at_max_frames(caplog: pytest.LogCaptureFixture) -> None:
    frames = [sample_page(60 + i, 80) for i in range(5)]
    data = pillow_bytes(frames[0], "TIFF", save_all=True, append_images=frames[1:])
    with caplog.at_level(logging.WARNING, logger="pagefix"):
        pages = list(iter_pages(data, Limits(max_frames=3)))
    assert [page.page_index for page in pages] == [0, 1, 2]
    assert [page.image.shape[1] for page in pages] == [60, 61, 62]
    assert "only the first 3 are processed" in caplog.text


def test_sixteen_bit_keeps_the_high_byte() -> None:
    values = np.array([[0, 255, 256, 65535]], dtype=np.uint16)
    frame = only_frame(pillow_bytes(Image.fromarray(values), "PNG"))
    assert frame[0, :, 0].tolist() == [0, 0, 1, 255]


def test_transparency_is_white() -> None:
    clear = Image.new("RGBA", (4, 4), (10, 200, 10, 0))
    assert (only_frame(pillow_bytes(clear, "PNG")) == 255).all()


def test_pixel_cap_is_read_from_the_header() -> None:
    data = pillow_bytes(Image.new("L", (3000, 2000)), "PNG")
    with pytest.raises(LimitExceededError, match=r"3000x2000 = 6\.0 MP, over the limit of 5\.0 MP"):
        list(decode_image(data, Limits(max_pixels=5_000_000)))
    assert only_frame(data, Limits(max_pixels=6_000_000)).shape == (2000, 3000, 3)
