"""Decide a file's format from its first bytes, never from its name or a Content-Type."""

from __future__ import annotations

from ..errors import UnsupportedFormatError

__all__ = ["ALLOWED_FORMATS", "sniff_format"]

#: Formats pagefix decodes. Everything else is refused by name.
ALLOWED_FORMATS = ("jpeg", "png", "bmp", "tiff", "webp", "gif", "pdf")

_IMAGE_MAGIC = (
    (b"\xff\xd8\xff", "jpeg"),
    (b"\x89PNG\r\n\x1a\n", "png"),
    (b"BM", "bmp"),
    (b"II*\x00", "tiff"),
    (b"MM\x00*", "tiff"),
    (b"GIF87a", "gif"),
    (b"GIF89a", "gif"),
)

# Formats we recognise only to refuse them with a clear name.
_REFUSED_MAGIC = (
    (b"%!PS", "PostScript"),
    (b"\xc5\xd0\xd3\xc6", "EPS"),
    (b"II+\x00", "BigTIFF"),
    (b"MM\x00+", "BigTIFF"),
    (b"\x00\x00\x00\x0cjP  ", "JPEG 2000"),
    (b"\xff\x4f\xff\x51", "JPEG 2000"),
    (b"8BPS", "Photoshop PSD"),
    (b"PK\x03\x04", "ZIP archive"),
    (b"\x1f\x8b", "gzip archive"),
    (b"P1", "PNM"), (b"P2", "PNM"), (b"P3", "PNM"), (b"P4", "PNM"), (b"P5", "PNM"), (b"P6", "PNM"),
)


def sniff_format(head: bytes) -> str:
    """Return one of `ALLOWED_FORMATS` for the first bytes of a file, or raise.

    >>> sniff_format(b"%PDF-1.7\\n...")
    'pdf'
    """
    if not head:
        raise UnsupportedFormatError("empty file")
    for magic, name in _IMAGE_MAGIC:
        if head.startswith(magic):
            return name
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    # PDF readers accept the header anywhere in the first KiB.
    if b"%PDF-" in head[:1024]:
        return "pdf"
    if head[4:12] in (b"ftypheic", b"ftypheix", b"ftypmif1", b"ftypavif"):
        raise UnsupportedFormatError("unsupported file format: HEIF/AVIF (convert it to JPEG or PNG)")
    for magic, name in _REFUSED_MAGIC:
        if head.startswith(magic):
            raise UnsupportedFormatError(f"unsupported file format: {name}")
    text = head[:1024].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if text.startswith(b"<svg") or (text.startswith(b"<?xml") and b"<svg" in text):
        raise UnsupportedFormatError("unsupported file format: SVG")
    if text.startswith((b"<!doctype html", b"<html")):
        raise UnsupportedFormatError("unsupported file format: HTML (not an image or PDF)")
    raise UnsupportedFormatError(
        "unsupported file format: not a JPEG, PNG, BMP, TIFF, WebP, GIF or PDF file"
    )
