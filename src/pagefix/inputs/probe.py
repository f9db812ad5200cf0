"""Structural checks on image bytes that run before any decoder sees them: the costs that the
pixel count in a header does not show.

- A progressive JPEG may repeat its scans thousands of times; libjpeg only warns and walks the
  whole image once per scan (minutes of CPU for a file of a few hundred KB).
- A TIFF's strip and tile tables are unpacked by Pillow into Python objects before the size is
  known to anyone: four million strips cost 1.5 GB and 15 s without a single pixel decoded.
"""

from __future__ import annotations

import re

import numpy as np

from ..errors import LimitExceededError
from ..limits import Limits

__all__ = ["MAX_TIFF_STRIPS", "check_structure", "count_jpeg_scans"]

#: Strips or tiles in one TIFF frame. A page scanned at one row per strip has one strip per row;
#: 100 000 covers that for pages of 100 000 rows and keeps Pillow's tables to a few MB.
MAX_TIFF_STRIPS = 100_000

# A marker inside entropy-coded data: 0xFF followed by anything but a stuffed zero, a restart
# marker (RST0-7) or another fill byte.
_MARKER_IN_SCAN = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")
_STANDALONE = frozenset({0x01, 0xD8, *range(0xD0, 0xD8)})
_TIFF_TABLES = (273, 279, 324, 325)  # StripOffsets, StripByteCounts, TileOffsets, TileByteCounts


def check_structure(data: bytes, fmt: str, limits: Limits) -> None:
    """Raise `LimitExceededError` when a file's structure would cost far more than its size."""
    if fmt == "jpeg":
        scans = count_jpeg_scans(data, stop_after=limits.max_jpeg_scans)
        if scans > limits.max_jpeg_scans:
            raise LimitExceededError(
                f"JPEG has more than {limits.max_jpeg_scans} scans (a progressive JPEG has about 10); "
                "raise the limit with PAGEFIX_MAX_JPEG_SCANS or Limits.max_jpeg_scans",
                limit="max_jpeg_scans", value=limits.max_jpeg_scans, actual=scans,
            )
    elif fmt == "tiff":
        _check_tiff_tables(data, limits.max_frames + 1)


def count_jpeg_scans(data: bytes, stop_after: int | None = None) -> int:
    """Start-of-scan markers in a JPEG up to its end-of-image, walking segment lengths (so bytes
    inside metadata are never taken for markers); counting stops once past `stop_after`."""
    scans = 0
    pos, end = 2, len(data)
    while pos + 4 <= end:
        if data[pos] != 0xFF:  # junk between segments: libjpeg skips to the next marker too
            pos = data.find(b"\xff", pos)
            if pos < 0:
                break
            continue
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker in _STANDALONE:
            pos += 2
            continue
        if marker == 0xD9:  # end of image
            break
        length = int.from_bytes(data[pos + 2:pos + 4], "big")
        pos += 2 + length
        if marker == 0xDA:
            scans += 1
            if stop_after is not None and scans > stop_after:
                break
            found = _MARKER_IN_SCAN.search(data, pos)
            pos = found.start() if found else end
    return scans


def _check_tiff_tables(data: bytes, max_ifds: int) -> None:
    """Walk the IFD chain (loops end it) and refuse strip or tile tables over `MAX_TIFF_STRIPS`."""
    order = "<" if data[:2] == b"II" else ">"
    entry = np.dtype([("tag", f"{order}u2"), ("type", f"{order}u2"), ("count", f"{order}u4"), ("value", f"{order}u4")])
    offset = int.from_bytes(data[4:8], "little" if order == "<" else "big")
    seen: set[int] = set()
    while offset and offset not in seen and len(seen) < max_ifds and offset + 2 <= len(data):
        seen.add(offset)
        count = int.from_bytes(data[offset:offset + 2], "little" if order == "<" else "big")
        count = min(count, (len(data) - offset - 2) // 12)  # a short IFD is Pillow's to report
        entries = np.frombuffer(data, dtype=entry, count=count, offset=offset + 2)
        tables = entries[np.isin(entries["tag"], _TIFF_TABLES)]
        if tables.size and int(tables["count"].max()) > MAX_TIFF_STRIPS:
            raise LimitExceededError(
                f"TIFF frame {len(seen) - 1} has {int(tables['count'].max())} strips or tiles, over the "
                f"bound of {MAX_TIFF_STRIPS}",
                limit="max_tiff_strips", value=MAX_TIFF_STRIPS, actual=int(tables["count"].max()),
            )
        after = offset + 2 + 12 * count
        if after + 4 > len(data):
            break
        offset = int.from_bytes(data[after:after + 4], "little" if order == "<" else "big")
