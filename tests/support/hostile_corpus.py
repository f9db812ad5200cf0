"""The hostile corpus, built in code: every file a stranger might send to the decoding gate.

Each `Case` is a file's bytes, the class it belongs to and what the gate must make of it: a
number of pages, or a refusal of a given `PagefixError` type (with a phrase of its message).
Nothing here is read from disk; the bombs are real (their bytes decode to what the header
claims when nothing stops them) but tiny, made by repeating deflate blocks or by patching the
size fields of small valid files.
"""

from __future__ import annotations

import io
import random
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

import numpy as np
from PIL import Image

from pagefix.errors import (
    InputError,
    LimitExceededError,
    PagefixError,
    PasswordProtectedError,
    UnsupportedFormatError,
)


@dataclass(frozen=True)
class Case:
    name: str
    klass: str  # the row of the report table this case counts in
    data: bytes
    suffix: str = ".bin"  # the name a file of it gets; never decides anything
    pages: int = 0  # pages that must come out
    failures: int = 0  # page failures (or the file's one failure) that must come out
    error: type[PagefixError] = InputError
    message: str = ""  # a phrase every failure message must contain
    shape: tuple[int, int] | None = None  # (height, width) of the first page, when it matters

    @property
    def file_name(self) -> str:
        return self.name + self.suffix


def refused(name: str, klass: str, data: bytes, error: type[PagefixError], message: str = "",
            suffix: str = ".bin") -> Case:
    return Case(name, klass, data, suffix, 0, 1, error, message)


def accepted(name: str, klass: str, data: bytes, pages: int = 1, suffix: str = ".png",
             shape: tuple[int, int] | None = None) -> Case:
    return Case(name, klass, data, suffix, pages, 0, shape=shape)


# -- small builders ---------------------------------------------------------------------------------

def pillow_bytes(image: Image.Image, fmt: str, **params: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **params)
    return buffer.getvalue()


def sample_page(width: int = 320, height: int = 400, mode: str = "RGB") -> Image.Image:
    """A page-like picture: white with dark text-like bars, so every codec has real content."""
    rng = np.random.default_rng(width * 7919 + height)
    page = np.full((height, width, 3), 245, np.uint8)
    for y in range(12, height - 12, 14):
        x1 = int(rng.integers(width // 2, width - 10))
        page[y:y + 6, 10:x1] = (30, 30, 40)
    image = Image.fromarray(page)
    return image if mode == "RGB" else image.convert(mode)


def png_chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def png(width: int, height: int, idat: bytes, color_type: int = 0, bit_depth: int = 8,
        before_idat: tuple[bytes, ...] = ()) -> bytes:
    header = struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header) + b"".join(before_idat)
            + png_chunk(b"IDAT", idat) + png_chunk(b"IEND", b""))


def deflate_zeros(size: int) -> bytes:
    """A zlib stream of `size` zero bytes without compressing them: full-flushed blocks of one
    MiB compress to the same bytes, so one is made and repeated (about 1 KiB per MiB)."""
    block = 1 << 20
    compressor = zlib.compressobj(9)
    one = compressor.compress(bytes(block)) + compressor.flush(zlib.Z_FULL_FLUSH)
    whole, rest = divmod(size, block)
    tail = zlib.compressobj(9)
    last = tail.compress(bytes(rest)) + tail.flush()
    # The tail stream's own header and checksum are replaced by the whole stream's.
    adler = (1 + 0) | ((size % 65521) << 16)  # Adler-32 of zeros: a = 1, b = size (mod 65521)
    return one[:2] + one[2:] * whole + last[2:-4] + struct.pack(">I", adler)


def tiff(width: int, height: int, strip: bytes, compression: int = 1, bits: int = 8,
         photometric: int = 1, samples: int = 1, strip_count: int = 1, extra: tuple = ()) -> bytes:
    """A little-endian one-frame TIFF whose strips all point at `strip`."""
    entries = [
        (256, 4, 1, width), (257, 4, 1, height), (258, 3, 1, bits), (259, 3, 1, compression),
        (262, 3, 1, photometric), (277, 3, 1, samples), (278, 4, 1, max(1, -(-height // strip_count))),
        *extra,
    ]
    head = 8
    n_entries = len(entries) + 2
    ifd_size = 2 + 12 * n_entries + 4
    arrays_at = head + ifd_size
    offsets_at = arrays_at
    counts_at = offsets_at + 4 * strip_count
    data_at = counts_at + 4 * strip_count if strip_count > 1 else arrays_at  # one strip: values inline
    if strip_count == 1:
        entries += [(273, 4, 1, data_at), (279, 4, 1, len(strip))]
    else:
        entries += [(273, 4, strip_count, offsets_at), (279, 4, strip_count, counts_at)]
    entries.sort()
    ifd = struct.pack("<H", len(entries))
    for tag, kind, count, value in entries:
        ifd += struct.pack("<HHII", tag, kind, count, value) if kind == 4 or count > 1 else struct.pack("<HHIHH", tag, kind, count, value, 0)
    ifd += struct.pack("<I", 0)
    arrays = b""
    if strip_count > 1:
        arrays = struct.pack(f"<{strip_count}I", *([data_at] * strip_count)) + struct.pack(f"<{strip_count}I", *([len(strip)] * strip_count))
    return b"II*\x00" + struct.pack("<I", head) + ifd + arrays + strip


def patch_jpeg_size(data: bytes, width: int, height: int) -> bytes:
    """Rewrite the size fields of a JPEG's frame header (SOF0/SOF2)."""
    for marker in (b"\xff\xc0", b"\xff\xc2"):
        at = data.find(marker)
        if at > 0:
            return data[:at + 5] + struct.pack(">HH", height, width) + data[at + 9:]
    raise ValueError("no SOF marker")


def jpeg_with_scans(n_scans: int) -> bytes:
    """A progressive JPEG whose last scan is repeated `n_scans` times: each pass walks the whole
    image (libjpeg only warns), the known way to make a small JPEG cost minutes of CPU."""
    data = pillow_bytes(sample_page(600, 800), "JPEG", quality=80, progressive=True)
    last_sos = data.rfind(b"\xff\xda")
    scan = data[last_sos:-2]  # the scan header and its entropy-coded data, up to EOI
    return data[:last_sos] + scan * n_scans + b"\xff\xd9"


def bmp_rle8(width: int, height: int) -> bytes:
    """An 8-bit RLE BMP that fills the whole image with palette 0 from a few hundred bytes: "delta"
    escapes skip 255 rows at a time (the skipped pixels decode to 0), runs finish the last row."""
    pixels = bytearray()
    left = abs(width) * abs(height)
    while left >= 255 * abs(width):
        pixels += b"\x00\x02\x00\xff"  # delta: 0 right, 255 down
        left -= 255 * abs(width)
    rows, rest = divmod(left, abs(width))
    if rows:
        pixels += b"\x00\x02\x00" + bytes([rows])
    while rest:
        run = min(255, rest)
        pixels += bytes([run, 0])
        rest -= run
    pixels += b"\x00\x01"  # end of bitmap
    palette = b"\xff\xff\xff\x00" * 256
    info = struct.pack("<IiiHHIIiiII", 40, width, height, 1, 8, 1, len(pixels), 2835, 2835, 256, 0)
    offset = 14 + len(info) + len(palette)
    head = b"BM" + struct.pack("<IHHI", offset + len(pixels), 0, 0, offset)
    return head + info + palette + bytes(pixels)


def gif_screen(width: int, height: int) -> bytes:
    """A GIF whose logical screen is `width` x `height` with one 1x1 frame: Pillow allocates the
    whole screen for the first frame."""
    header = b"GIF89a" + struct.pack("<HHBBB", width, height, 0x80, 0, 0) + b"\x00\x00\x00\xff\xff\xff"
    frame = b"\x2c" + struct.pack("<HHHHB", 0, 0, 1, 1, 0) + b"\x02\x02\x44\x01\x00"
    return header + frame + b"\x3b"


def webp_lossless_solid(width: int, height: int) -> bytes:
    """A lossless WebP of one colour: its entropy codes have one symbol each (zero bits per pixel),
    so patching the size in the VP8L header gives a valid 38-byte image of any size."""
    data = pillow_bytes(Image.new("L", (64, 64), 255), "WEBP", lossless=True, method=0)
    at = data.find(b"VP8L") + 9
    bits = struct.unpack("<I", data[at:at + 4])[0]
    bits = (bits & ~((1 << 28) - 1)) | (width - 1) | ((height - 1) << 14)
    return data[:at] + struct.pack("<I", bits) + data[at + 4:]


def webp_vp8x_canvas(width: int, height: int) -> bytes:
    """An extended WebP whose VP8X canvas is `width` x `height`, holding a small lossless image."""
    small = pillow_bytes(Image.new("RGB", (8, 8), (10, 200, 10)), "WEBP", lossless=True)
    body = small[12:]
    vp8x = b"VP8X" + struct.pack("<I", 10) + b"\x00\x00\x00\x00" + (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little")
    payload = b"WEBP" + vp8x + body
    return b"RIFF" + struct.pack("<I", len(payload)) + payload


def jpeg_exif(orientation: int | None = None, raw_exif: bytes | None = None) -> bytes:
    image = sample_page(240, 320)
    if raw_exif is not None:
        return pillow_bytes(image, "JPEG", quality=90, exif=raw_exif)
    exif = Image.Exif()
    exif[0x0112] = orientation
    return pillow_bytes(image, "JPEG", quality=90, exif=exif.tobytes())


# -- PDFs ---------------------------------------------------------------------------------------

def raw_pdf(objects: list[bytes], root: int = 1, trailer_extra: bytes = b"") -> bytes:
    """A PDF with the given objects (numbered from 1) and a correct cross-reference table."""
    out = io.BytesIO()
    out.write(b"%PDF-1.7\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % number + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1))
    for offset in offsets:
        out.write(b"%010d 00000 n \n" % offset)
    out.write(b"trailer\n<< /Size %d /Root %d 0 R %s>>\nstartxref\n%d\n%%%%EOF\n"
              % (len(objects) + 1, root, trailer_extra, xref))
    return out.getvalue()


CATALOG = b"<< /Type /Catalog /Pages 2 0 R >>"


def page_object(box: bytes = b"0 0 200 200", contents: int | None = None) -> bytes:
    extra = b" /Contents %d 0 R" % contents if contents else b""
    return b"<< /Type /Page /Parent 2 0 R /MediaBox [%s]%s >>" % (box, extra)


def pages_object(kids: list[int], count: int) -> bytes:
    refs = b" ".join(b"%d 0 R" % k for k in kids)
    return b"<< /Type /Pages /Kids [%s] /Count %d >>" % (refs, count)


def drawn_pdf(n_pages: int, size: tuple[float, float] = (200, 260)) -> bytes:
    """A real PDF of `n_pages` pages with a few drawn bars, made with pypdfium2."""
    import pypdfium2 as pdfium
    import pypdfium2.raw as raw

    document = pdfium.PdfDocument.new()
    for _ in range(n_pages):
        page = document.new_page(*size)
        for y in range(20, int(size[1]) - 20, 30):
            path = raw.FPDFPageObj_CreateNewRect(20, y, size[0] - 60, 8)
            raw.FPDFPageObj_SetFillColor(path, 20, 20, 20, 255)
            raw.FPDFPath_SetDrawMode(path, raw.FPDF_FILLMODE_ALTERNATE, False)
            raw.FPDFPage_InsertObject(page, path)
        raw.FPDFPage_GenerateContent(page)
        page.close()
    buffer = io.BytesIO()
    document.save(buffer)
    document.close()
    return buffer.getvalue()


def pdf_with_image(side: int) -> bytes:
    """A one-page PDF (200x200 pt) drawing a `side` x `side` grey image XObject of zeros: a
    compressed bomb inside the PDF (PDFium samples it down to the page while decoding)."""
    pixels = deflate_zeros(side * side)
    return raw_pdf([
        CATALOG, pages_object([3], 1),
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 200 200] /Resources << /XObject << /Im1 5 0 R >> >> /Contents 4 0 R >>",
        b"<< /Length 33 >>\nstream\nq 200 0 0 200 0 0 cm /Im1 Do Q\nendstream",
        b"<< /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceGray /BitsPerComponent 8 "
        b"/Filter /FlateDecode /Length %d >>\nstream\n" % (side, side, len(pixels)) + pixels + b"\nendstream",
    ])


def encrypted_pdf(user_password: str = "secret") -> bytes:
    import pikepdf

    source = io.BytesIO(drawn_pdf(1))
    with pikepdf.open(source) as pdf:
        out = io.BytesIO()
        pdf.save(out, encryption=pikepdf.Encryption(user=user_password, owner="owner-" + user_password))
        return out.getvalue()


# -- the corpus ----------------------------------------------------------------------------------

MP = 1_000_000


def _header_bombs() -> list[Case]:
    small_jpeg = pillow_bytes(sample_page(64, 64), "JPEG")
    too_big = LimitExceededError
    return [
        refused("png_header_2gp", "header bomb", png(50_000, 50_000, zlib.compress(b"\x00" * 100)), too_big, "MP", ".png"),
        refused("png_header_max_u31", "header bomb", png(2**31 - 1, 2**31 - 1, b""), InputError, "", ".png"),
        refused("jpeg_header_4gp", "header bomb", patch_jpeg_size(small_jpeg, 65_500, 65_500), too_big, "MP", ".jpg"),
        refused("bmp_header_2gp", "header bomb", bmp_rle8(50_000, 50_000), too_big, "MP", ".bmp"),
        refused("bmp_negative_height", "header bomb", bmp_rle8(40_000, -40_000), too_big, "MP", ".bmp"),
        refused("gif_screen_4gp", "header bomb", gif_screen(65_535, 65_535), too_big, "MP", ".gif"),
        refused("webp_vp8x_268mp", "header bomb", webp_vp8x_canvas(16_384, 16_384), too_big, "MP", ".webp"),
        refused("tiff_header_10gp", "header bomb", tiff(100_000, 100_000, b"\x00" * 16), too_big, "MP", ".tif"),
    ]


def _compressed_bombs() -> list[Case]:
    big = LimitExceededError
    side = 12_000  # 144 MP: over the 100 MP default, a few hundred MB once decoded
    rows = bytes(side + 1)  # one filter byte + one grey byte per pixel, all zero
    return [
        refused("png_deflate_144mp", "compressed bomb", png(side, side, deflate_zeros(len(rows) * side)), big, "MP", ".png"),
        refused("png_deflate_1gp", "compressed bomb", png(32_000, 32_000, deflate_zeros(32_001 * 32_000)), big, "MP", ".png"),
        refused("tiff_deflate_144mp", "compressed bomb", tiff(side, side, deflate_zeros(side * side), compression=8), big, "MP", ".tif"),
        refused("tiff_packbits_144mp", "compressed bomb", tiff(side, side, b"\x81\x00" * 8, compression=32773), big, "MP", ".tif"),
        refused("webp_vp8l_144mp", "compressed bomb", webp_lossless_solid(side, side), big, "MP", ".webp"),
        refused("webp_vp8l_268mp", "compressed bomb", webp_lossless_solid(16_384, 16_384), big, "MP", ".webp"),
        refused("bmp_rle8_144mp", "compressed bomb", bmp_rle8(side, side), big, "MP", ".bmp"),
        refused("jpeg_5000_scans", "compressed bomb", jpeg_with_scans(5000), big, "scans", ".jpg"),
        # Within limits: decompression is bounded by the header, so these simply decode.
        accepted("webp_vp8l_4mp_solid", "compressed bomb", webp_lossless_solid(2000, 2000), suffix=".webp", shape=(2000, 2000)),
        accepted("bmp_rle8_4mp", "compressed bomb", bmp_rle8(2000, 2000), suffix=".bmp", shape=(2000, 2000)),
        accepted("jpeg_40_scans", "compressed bomb", jpeg_with_scans(40), suffix=".jpg"),
        # Metadata bombs: text and ICC chunks that inflate to 100 MB (Pillow stops at 1 MB).
        refused("png_ztxt_bomb", "compressed bomb", png(8, 8, zlib.compress(bytes(9 * 8)), before_idat=(
            png_chunk(b"zTXt", b"Comment\x00\x00" + deflate_zeros(100 * MP)),)), InputError, "too large", ".png"),
        refused("png_itxt_bomb", "compressed bomb", png(8, 8, zlib.compress(bytes(9 * 8)), before_idat=(
            png_chunk(b"iTXt", b"Comment\x00\x01\x00\x00\x00" + deflate_zeros(100 * MP)),)), InputError, "too large", ".png"),
        refused("png_iccp_bomb", "compressed bomb", png(8, 8, zlib.compress(bytes(9 * 8)), before_idat=(
            png_chunk(b"iCCP", b"icc\x00\x00" + deflate_zeros(100 * MP)),)), InputError, "too large", ".png"),
        refused("tiff_many_strips", "compressed bomb", tiff(64, 4_000_000, b"\x00" * 64, strip_count=4_000_000), big, "", ".tif"),
    ]


def _truncations() -> list[Case]:
    page = sample_page()
    cases = []
    for fmt, suffix in (("PNG", ".png"), ("JPEG", ".jpg"), ("BMP", ".bmp"), ("TIFF", ".tif"), ("WEBP", ".webp"), ("GIF", ".gif")):
        data = pillow_bytes(page, fmt)
        for fraction in (0.5, 0.05):
            cut = data[: max(12, int(len(data) * fraction))]
            cases.append(refused(f"{fmt.lower()}_cut_{int(fraction * 100)}pct", "truncated", cut, InputError, "", suffix))
    # Strips whose compressed data is short or corrupt (libtiff would print its own lines).
    strip = deflate_zeros(300 * 200)
    cases.append(refused("tiff_deflate_strip_short", "truncated", tiff(300, 200, strip, compression=8)[:-30], InputError, "TIFF", ".tif"))
    cases.append(refused("tiff_deflate_strip_garbage", "truncated", tiff(300, 200, b"\x78\x9c" + bytes(range(256)) * 4, compression=8), InputError, "TIFF", ".tif"))
    cases.append(refused("tiff_lzw_strip_garbage", "truncated", tiff(300, 200, bytes(range(256)) * 4, compression=5), InputError, "TIFF", ".tif"))
    pdf = drawn_pdf(3)
    cases.append(refused("pdf_cut_half", "truncated", pdf[: len(pdf) // 2], InputError, "PDF", ".pdf"))
    cases.append(refused("pdf_header_only", "truncated", b"%PDF-1.7\n", InputError, "PDF", ".pdf"))
    cases.append(refused("empty_file", "truncated", b"", UnsupportedFormatError, "empty", ".jpg"))
    return cases


def _wrong_magic() -> list[Case]:
    page = sample_page()
    png_data = pillow_bytes(page, "PNG")
    jpeg_data = pillow_bytes(page, "JPEG")
    return [
        accepted("png_named_jpg", "wrong magic", png_data, suffix=".jpg"),
        accepted("jpeg_named_png", "wrong magic", jpeg_data, suffix=".png"),
        accepted("pdf_named_tif", "wrong magic", drawn_pdf(1), suffix=".tif"),
        refused("png_magic_jpeg_body", "wrong magic", png_data[:8] + jpeg_data[8:], InputError, "PNG", ".png"),
        refused("jpeg_magic_png_body", "wrong magic", jpeg_data[:4] + png_data[8:], InputError, "JPEG", ".jpg"),
        refused("gif_magic_only", "wrong magic", b"GIF89a", InputError, "GIF", ".gif"),
        refused("riff_not_webp", "wrong magic", b"RIFF\x10\x00\x00\x00WAVEfmt " + bytes(16), UnsupportedFormatError, "unsupported", ".webp"),
        refused("tiff_bad_ifd_offset", "wrong magic", b"II*\x00\xff\xff\xff\x7f" + bytes(64), InputError, "TIFF", ".tif"),
        refused("tiff_ifd_loop", "wrong magic", b"II*\x00\x08\x00\x00\x00\x00\x00\x08\x00\x00\x00", InputError, "TIFF", ".tif"),
    ]


def _random_bytes() -> list[Case]:
    rng = random.Random(20261125)
    cases = []
    for size in (1, 7, 100, 4096, 200_000):
        cases.append(refused(f"random_{size}", "random bytes", rng.randbytes(size), UnsupportedFormatError, "", ".jpg"))
    magics = {
        "jpeg": b"\xff\xd8\xff", "png": b"\x89PNG\r\n\x1a\n", "bmp": b"BM", "tiff": b"II*\x00",
        "gif": b"GIF89a", "webp": b"RIFF\x00\x10\x00\x00WEBPVP8 ", "pdf": b"%PDF-1.4\n",
    }
    for name, magic in magics.items():
        for size in (16, 5000):
            cases.append(refused(f"{name}_magic_random_{size}", "random bytes", magic + rng.randbytes(size), InputError, "", ".jpg"))
    return cases


def _refused_formats() -> list[Case]:
    unsupported = UnsupportedFormatError
    return [
        refused("svg", "refused format", b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="99999" height="99999"/>', unsupported, "SVG", ".png"),
        refused("svg_bare", "refused format", b"\n  <svg width='10' height='10'></svg>", unsupported, "SVG", ".jpg"),
        refused("postscript", "refused format", b"%!PS-Adobe-3.0\n/Helvetica findfont\nshowpage\n", unsupported, "PostScript", ".pdf"),
        refused("eps_binary", "refused format", b"\xc5\xd0\xd3\xc6" + bytes(28), unsupported, "EPS", ".tif"),
        refused("psd", "refused format", b"8BPS\x00\x01" + bytes(20), unsupported, "Photoshop", ".png"),
        refused("heic", "refused format", b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic", unsupported, "HEIF", ".jpg"),
        refused("avif", "refused format", b"\x00\x00\x00\x1cftypavif\x00\x00\x00\x00avifmif1miaf", unsupported, "HEIF", ".jpg"),
        refused("jpeg2000", "refused format", b"\x00\x00\x00\x0cjP  \r\n\x87\n" + bytes(20), unsupported, "JPEG 2000", ".jpg"),
        refused("bigtiff", "refused format", b"II+\x00\x08\x00\x00\x00" + bytes(20), unsupported, "BigTIFF", ".tif"),
        refused("zip", "refused format", b"PK\x03\x04" + bytes(26), unsupported, "ZIP", ".png"),
        refused("gzip", "refused format", b"\x1f\x8b\x08\x00" + bytes(16), unsupported, "gzip", ".png"),
        refused("html", "refused format", b"<!DOCTYPE html><html><body>404</body></html>", unsupported, "HTML", ".jpg"),
        refused("pnm", "refused format", b"P6\n10 10\n255\n" + bytes(300), unsupported, "PNM", ".png"),
        refused("ico", "refused format", b"\x00\x00\x01\x00\x01\x00" + bytes(40), unsupported, "", ".png"),
        refused("text", "refused format", b"hello, this is not a picture\n", unsupported, "", ".jpg"),
    ]


def _exif_cases() -> list[Case]:
    cases = [accepted(f"exif_orientation_{v}", "EXIF", jpeg_exif(v), suffix=".jpg", shape=(320, 240)) for v in (0, 9, 255)]
    # Orientation 6 (stored sideways): the page comes out turned upright.
    cases.append(accepted("exif_orientation_6", "EXIF", jpeg_exif(6), suffix=".jpg", shape=(240, 320)))
    garbage = b"II*\x00\xff\xff\x00\x00" + bytes(range(256)) * 4
    loop = b"II*\x00\x08\x00\x00\x00\x01\x00\x12\x01\x03\x00\x01\x00\x00\x00\x06\x00\x00\x00\x08\x00\x00\x00"
    cases.append(accepted("exif_corrupt_block", "EXIF", jpeg_exif(raw_exif=b"Exif\x00\x00" + garbage), suffix=".jpg", shape=(320, 240)))
    cases.append(accepted("exif_ifd_loop", "EXIF", jpeg_exif(raw_exif=b"Exif\x00\x00" + loop), suffix=".jpg"))
    cases.append(accepted("exif_not_tiff", "EXIF", jpeg_exif(raw_exif=b"Exif\x00\x00not a tiff header"), suffix=".jpg", shape=(320, 240)))
    return cases


def _pixel_modes() -> list[Case]:
    page = sample_page(200, 260)
    gray = np.asarray(page.convert("L"))
    rgb = np.asarray(page)
    cases = [
        accepted("png_gray16", "pixel modes", pillow_bytes(Image.fromarray(gray.astype(np.uint16) * 257), "PNG")),
        accepted("png_rgb16", "pixel modes", _cv2_png(rgb[:, :, ::-1].astype(np.uint16) * 257)),
        accepted("png_rgba16", "pixel modes", _cv2_png(np.dstack([rgb[:, :, ::-1], np.full(gray.shape, 128, np.uint8)]).astype(np.uint16) * 257)),
        accepted("png_la", "pixel modes", pillow_bytes(page.convert("LA"), "PNG")),
        accepted("png_rgba", "pixel modes", pillow_bytes(page.convert("RGBA"), "PNG")),
        accepted("png_palette_transparent", "pixel modes", pillow_bytes(page.convert("P"), "PNG", transparency=0)),
        accepted("png_1bit", "pixel modes", pillow_bytes(page.convert("1"), "PNG")),
        accepted("jpeg_cmyk", "pixel modes", pillow_bytes(page.convert("CMYK"), "JPEG"), suffix=".jpg"),
        accepted("jpeg_gray", "pixel modes", pillow_bytes(page.convert("L"), "JPEG"), suffix=".jpg"),
        accepted("tiff_cmyk", "pixel modes", pillow_bytes(page.convert("CMYK"), "TIFF"), suffix=".tif"),
        accepted("tiff_float32", "pixel modes", pillow_bytes(Image.fromarray(gray.astype(np.float32) / 255), "TIFF"), suffix=".tif"),
        accepted("tiff_int32", "pixel modes", pillow_bytes(Image.fromarray(gray.astype(np.int32) * 200), "TIFF"), suffix=".tif"),
        accepted("tiff_gray16_bigendian", "pixel modes", _tiff_16_bigendian(gray), suffix=".tif"),
        accepted("tiff_lab", "pixel modes", pillow_bytes(page.convert("LAB"), "TIFF"), suffix=".tif"),
        accepted("tiff_ycbcr_jpeg", "pixel modes", pillow_bytes(page, "TIFF", compression="jpeg"), suffix=".tif"),
        accepted("gif_animated_first_frame", "pixel modes", _animated_gif(), suffix=".gif"),
        accepted("webp_animated_first_frame", "pixel modes", _animated_webp(), suffix=".webp"),
        accepted("tiff_three_frames", "pixel modes", _multi_tiff(3), pages=3, suffix=".tif"),
    ]
    return cases


def _aspect_ratios() -> list[Case]:
    def solid(width: int, height: int) -> bytes:
        return pillow_bytes(Image.new("RGB", (width, height), (250, 250, 250)), "PNG")

    return [
        accepted("one_pixel", "extreme aspect", solid(1, 1), shape=(1, 1)),
        accepted("one_by_30000", "extreme aspect", solid(1, 30_000), shape=(30_000, 1)),
        accepted("30000_by_one", "extreme aspect", solid(30_000, 1), shape=(1, 30_000)),
        accepted("3_by_20000", "extreme aspect", solid(3, 20_000), shape=(20_000, 3)),
        # The gate takes it; unwarping refuses it (OpenCV's remap addresses pixels with 16 bits).
        accepted("40000_by_2", "extreme aspect", solid(40_000, 2), shape=(2, 40_000)),
    ]


def _pdfs() -> list[Case]:
    kids3 = [3, 4, 5]
    cases = [
        accepted("pdf_three_pages", "PDF", drawn_pdf(3), pages=3, suffix=".pdf"),
        refused("pdf_encrypted", "PDF", encrypted_pdf(), PasswordProtectedError, "PDF is password protected", ".pdf"),
        Case("pdf_count_lie_million", "PDF", raw_pdf([CATALOG, pages_object([3], 1_000_000), page_object()]),
             ".pdf", pages=1, failures=1, message="page tree"),
        Case("pdf_kids_cycle", "PDF", raw_pdf([CATALOG, pages_object([3, 2], 5), page_object()]),
             ".pdf", pages=1, failures=1, message="page tree"),
        refused("pdf_self_kid", "PDF", raw_pdf([CATALOG, pages_object([2], 1)]), InputError, "page", ".pdf"),
        refused("pdf_no_pages", "PDF", raw_pdf([CATALOG, pages_object([], 0)]), InputError, "PDF", ".pdf"),
        refused("pdf_no_catalog", "PDF", raw_pdf([b"<< /Type /Font >>"]), InputError, "PDF", ".pdf"),
        accepted("pdf_huge_mediabox", "PDF", raw_pdf([CATALOG, pages_object([3], 1), page_object(b"0 0 14400 14400")]), suffix=".pdf"),
        refused("pdf_absurd_mediabox", "PDF", raw_pdf([CATALOG, pages_object([3], 1), page_object(b"0 0 10000000 10000000")]),
                LimitExceededError, "MP", ".pdf"),
        Case("pdf_bad_middle_page", "PDF", raw_pdf([CATALOG, pages_object(kids3, 3), page_object(),
                                                    page_object(b"0 0 90000000 90000000"), page_object()]),
             ".pdf", pages=2, failures=1, error=LimitExceededError, message="MP"),
        accepted("pdf_garbage_content_stream", "PDF", raw_pdf([
            CATALOG, pages_object([3], 1), page_object(contents=4),
            b"<< /Length 40 >>\nstream\n" + b"q 1 0 0 1 0 0 cm BT /F9 Tf (x) Tj ET Q %%%\nendstream"]), suffix=".pdf"),
        accepted("pdf_many_pages", "PDF", drawn_pdf(300, (40, 50)), pages=300, suffix=".pdf"),
        # A 200 pt page box: its image asks for 7200 DPI; the page renders at the 600 DPI cap.
        accepted("pdf_image_400mp", "compressed bomb", pdf_with_image(20_000), suffix=".pdf", shape=(1667, 1667)),
        accepted("pdf_broken_xref", "PDF", drawn_pdf(2).replace(b"startxref", b"startxref\n999999999\n%"), pages=2, suffix=".pdf"),
    ]
    return cases


def _cv2_png(array: np.ndarray) -> bytes:
    import cv2

    ok, buffer = cv2.imencode(".png", array)
    assert ok
    return buffer.tobytes()


def _tiff_16_bigendian(gray: np.ndarray) -> bytes:
    image = Image.frombytes("I;16B", (gray.shape[1], gray.shape[0]), (gray.astype(">u2") * 257).tobytes())
    return pillow_bytes(image, "TIFF")


def _animated_gif() -> bytes:
    frames = [sample_page(120, 160).convert("P"), Image.new("P", (120, 160), 3)]
    return pillow_bytes(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=50)


def _animated_webp() -> bytes:
    frames = [sample_page(120, 160), Image.new("RGB", (120, 160), (9, 9, 9))]
    return pillow_bytes(frames[0], "WEBP", save_all=True, append_images=frames[1:], duration=50)


def _multi_tiff(n: int) -> bytes:
    frames = [sample_page(100 + 10 * i, 140) for i in range(n)]
    return pillow_bytes(frames[0], "TIFF", save_all=True, append_images=frames[1:])


BUILDERS: tuple[Callable[[], list[Case]], ...] = (
    _header_bombs, _compressed_bombs, _truncations, _wrong_magic, _random_bytes, _refused_formats,
    _exif_cases, _pixel_modes, _aspect_ratios, _pdfs,
)


@cache
def corpus() -> tuple[Case, ...]:
    cases = tuple(case for build in BUILDERS for case in build())
    names = [case.name for case in cases]
    assert len(names) == len(set(names)), "case names must be unique"
    return cases
