"""Safe image decoding: header-checked pixel caps, EXIF orientation, every pixel mode to BGR uint8.

This is the only place where image bytes meet a decoder. The format is sniffed from the bytes
(`formats.sniff_format`), the file's structure is checked (`probe`), the pixel count is read from
the header before anything is decoded, and Pillow's own bomb check is turned into our
`LimitExceededError`. OpenCV never sees the bytes.

Memory: a decoded page is converted to BGR in bands of rows and Pillow's copy is freed before the
page is turned upright, so a 100 MP page peaks at Pillow's pixels plus one BGR array (about
700 MB), not the four full-size copies a plain `np.asarray(image)` conversion makes.
"""

from __future__ import annotations

import ctypes
import io
import logging
import math
import re
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, cast

import cv2
import numpy as np
from PIL import Image, UnidentifiedImageError

from ..errors import InputError, LimitExceededError, PagefixError, UnsupportedFormatError
from ..limits import Limits
from .formats import sniff_format
from .probe import check_structure

__all__ = [
    "DecodedFrame", "array_to_bgr", "check_pixels", "decode_image", "decode_image_sized", "has_exif_turn",
    "iter_image_sizes", "to_bgr_array",
]

logger = logging.getLogger(__name__)

#: (frame index or None for a single-frame file, BGR image or the error for that frame)
DecodedFrame = tuple["int | None", "np.ndarray | PagefixError"]
#: As `DecodedFrame`, with the frame's pixels per inch (x, y): None when the file gives none.
SizedFrame = tuple["int | None", "np.ndarray | PagefixError", "tuple[float, float] | None"]

_PIL_FORMATS = {"jpeg": "JPEG", "png": "PNG", "bmp": "BMP", "tiff": "TIFF", "webp": "WEBP", "gif": "GIF"}
_EXIF_ORIENTATION = 0x0112
_DECODE_ERRORS = (OSError, ValueError, SyntaxError, EOFError, IndexError, TypeError, ZeroDivisionError)
_BAND_BYTES = 16 << 20  # rows converted at a time: bounds the temporary copies
_BOMB_SIZE = re.compile(r"\((\d+) pixels\)")
_EXIF_X_RESOLUTION = 0x011A
# Resolutions outside this range are not a page's: Pillow reports a TIFF without resolution tags
# as 1 DPI, and a broken header can say anything.
_DPI_RANGE = (10.0, 100_000.0)


def _silence_libtiff() -> None:
    """Stop the libtiff that Pillow loaded from printing its own lines to standard error
    ("TIFFFillStrip: Read error on strip 0 ..."): Pillow still gets the error, and we report it
    in one line. Best effort: Linux only, and nothing happens if the library is not found."""
    try:
        with open("/proc/self/maps", encoding="utf-8") as maps:
            paths = {line.split()[-1] for line in maps if "/libtiff" in line}
    except OSError:
        return
    for path in paths:
        try:
            library = ctypes.CDLL(path)  # the same file: the instance Pillow already uses
            library.TIFFSetErrorHandler(None)
            library.TIFFSetWarningHandler(None)
        except (OSError, AttributeError):
            continue


_silence_libtiff()


def check_pixels(width: int, height: int, limits: Limits, what: str = "image") -> None:
    """Refuse a size before anything of that size is allocated."""
    if width <= 0 or height <= 0:
        raise InputError(f"{what} has an invalid size {width}x{height}")
    if width * height > limits.max_pixels:
        raise LimitExceededError(
            f"{what} is {width}x{height} = {width * height / 1e6:.1f} MP, over the limit of "
            f"{limits.max_pixels / 1e6:.1f} MP (raise it with PAGEFIX_MAX_PIXELS or Limits.max_pixels)",
            limit="max_pixels", value=limits.max_pixels, actual=width * height,
        )


@contextmanager
def _quiet() -> Iterator[None]:
    # Pillow warns (UserWarning, DecompressionBombWarning) about exactly the files this gate is
    # for; our own checks and messages replace those warnings. The filter change is process-wide
    # for the duration; when threads interleave, the worst case is warnings staying silenced.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def decode_image(data: bytes, limits: Limits, fmt: str | None = None,
                 min_short_side: int | None = None) -> Iterator[DecodedFrame]:
    """Decode an image file's bytes into BGR uint8 frames.

    A multi-frame TIFF yields one frame per page (indices 0..n-1, at most `limits.max_frames`);
    every other file yields one frame with index None (GIF and animated WebP: the first frame
    only). A broken frame yields its error and the others still come.

    `min_short_side`: a JPEG may be decoded at 1/2, 1/4 or 1/8 of its size, in the DCT, as long
    as its short side stays at least this long (for a classifier that needs a small page only:
    an 8-megapixel scan decodes several times faster at 1/8). Other formats come at full size.
    """
    for index, frame, _ in decode_image_sized(data, limits, fmt, min_short_side):
        yield index, frame


def decode_image_sized(data: bytes, limits: Limits, fmt: str | None = None,
                       min_short_side: int | None = None) -> Iterator[SizedFrame]:
    """As `decode_image`, with each frame's pixels per inch (x, y) as the file states them (JFIF
    density, PNG pHYs, TIFF resolution, read from the header Pillow has already parsed), matched
    to the frame as decoded (a JPEG decoded smaller, an EXIF turn); None when the file says none."""
    fmt = fmt or sniff_format(data[:1024])
    if fmt not in _PIL_FORMATS:
        raise UnsupportedFormatError(f"{fmt} is not an image format")
    check_structure(data, fmt, limits)
    image = _open(data, fmt, limits)
    del data  # Pillow's file object holds the bytes until the image is closed
    try:
        if not (fmt == "tiff" and getattr(image, "is_animated", False)):
            dpi, stored = _file_dpi(image), image.size
            if min_short_side and fmt == "jpeg":
                _draft(image, min_short_side)
            frame, orientation = _decode_frame(image, limits)
            image.close()  # Pillow's copy goes before the turn makes another
            frame = _apply_orientation(frame, orientation)
            yield None, frame, _frame_dpi(dpi, stored, frame.shape, orientation)
            return
        yield from _tiff_frames(image, limits)
    finally:
        image.close()


def _file_dpi(image: Image.Image) -> tuple[float, float] | None:
    """The resolution the file states, or None. Pillow reports 72 DPI for a JPEG whose EXIF block
    has no resolution at all: that one is not taken as the file's."""
    dpi = image.info.get("dpi")
    try:
        if image.format == "JPEG" and image.info.get("jfif_unit") not in (1, 2):
            if _EXIF_X_RESOLUTION not in image.getexif():
                return None
        x, y = (float(v) for v in dpi)  # type: ignore[union-attr]
    except Exception:  # noqa: BLE001 - no or an odd resolution entry, a corrupt EXIF block: none stated
        return None
    low, high = _DPI_RANGE
    if not (low <= x <= high and low <= y <= high):
        return None
    return x, y


def _frame_dpi(dpi: tuple[float, float] | None, stored: tuple[int, int], shape: tuple[int, ...],
               orientation: int) -> tuple[float, float] | None:
    """The file's resolution for the frame as decoded: scaled with a DCT-reduced decode, x and y
    swapped by an EXIF turn of a quarter."""
    if dpi is None:
        return None
    turned = orientation in (5, 6, 7, 8)
    width, height = (shape[0], shape[1]) if turned else (shape[1], shape[0])
    x, y = dpi[0] * width / stored[0], dpi[1] * height / stored[1]
    return (y, x) if turned else (x, y)


def iter_image_sizes(data: bytes, fmt: str, limits: Limits, max_frames: int | None = None) -> Iterator[tuple[int, int]]:
    """(width, height) of each frame `decode_image` would yield, from the headers only (a TIFF's
    frames are found one at a time, after the same structure checks). Where reading stops with an
    error, the sizes stop too: decoding reports the error."""
    if fmt not in _PIL_FORMATS:
        return
    try:
        check_structure(data, fmt, limits)
        image = _open(data, fmt, limits)
    except PagefixError:
        return
    try:
        if not (fmt == "tiff" and getattr(image, "is_animated", False)):
            yield image.size
            return
        bound = limits.max_frames if max_frames is None else min(max_frames, limits.max_frames)
        for index in range(bound):
            try:
                with _quiet():
                    image.seek(index)
            except (EOFError, *_DECODE_ERRORS):
                return
            yield image.size
    finally:
        image.close()


def _draft(image: Image.Image, min_short_side: int) -> None:
    """Ask libjpeg for the smallest DCT scale that keeps the short side >= `min_short_side`."""
    width, height = image.size
    short = min(width, height)
    if short > min_short_side:
        factor = min_short_side / short
        with _quiet():
            image.draft(None, (math.ceil(width * factor), math.ceil(height * factor)))


def _tiff_frames(image: Image.Image, limits: Limits) -> Iterator[SizedFrame]:
    # Frames are found one at a time (never `n_frames`, which walks every IFD of the file first).
    for index in range(limits.max_frames + 1):
        try:
            with _quiet():
                image.seek(index)
        except EOFError:
            return
        except _DECODE_ERRORS as exc:
            yield index, InputError(f"TIFF frame {index} cannot be read: {exc}"), None
            return
        if index == limits.max_frames:
            logger.warning(
                "TIFF has more than %d frames; only the first %d are processed (Limits.max_frames)",
                limits.max_frames, limits.max_frames,
            )
            return
        dpi, stored = _file_dpi(image), image.size
        try:
            frame, orientation = _decode_frame(image, limits, what=f"TIFF frame {index}")
        except PagefixError as exc:
            yield index, exc, None
            continue
        frame = _apply_orientation(frame, orientation)
        yield index, frame, _frame_dpi(dpi, stored, frame.shape, orientation)


def has_exif_turn(data: bytes) -> bool:
    """Whether a JPEG's EXIF asks for the pixels to be turned or flipped before display."""
    try:
        with _quiet(), Image.open(io.BytesIO(data)) as image:
            return _orientation(image) != 1
    except Exception:  # noqa: BLE001 - a file Pillow cannot open has no usable EXIF either
        return False


def _open(data: bytes, fmt: str, limits: Limits) -> Image.Image:
    try:
        with _quiet():
            image = Image.open(io.BytesIO(data), formats=[_PIL_FORMATS[fmt]])
    except Image.DecompressionBombError as exc:
        claimed = _BOMB_SIZE.search(str(exc))
        size = f" (its header claims {int(claimed.group(1)) / 1e6:.0f} MP)" if claimed else ""
        raise LimitExceededError(
            f"image is over the limit of {limits.max_pixels / 1e6:.1f} MP{size} "
            "(raise it with PAGEFIX_MAX_PIXELS or Limits.max_pixels)",
            limit="max_pixels", value=limits.max_pixels, actual=int(claimed.group(1)) if claimed else None,
        ) from exc
    except (UnidentifiedImageError, *_DECODE_ERRORS) as exc:
        raise InputError(f"cannot decode {fmt.upper()} image: corrupt or truncated file{_reason(exc)}") from exc
    try:
        check_pixels(*image.size, limits)
    except PagefixError:
        image.close()
        raise
    return image


def _reason(exc: BaseException) -> str:
    text = str(exc).strip()
    if not text or isinstance(exc, UnidentifiedImageError):
        return ""
    return f" ({text[:200]})"


def _decode_frame(image: Image.Image, limits: Limits, what: str = "image") -> tuple[np.ndarray, int]:
    """The frame's pixels in BGR, as stored, and the EXIF orientation still to apply to them."""
    check_pixels(*image.size, limits, what)
    try:
        with _quiet():
            image.load()
            orientation = _orientation(image)
            bgr = to_bgr_array(image)
    except MemoryError as exc:
        raise LimitExceededError(f"out of memory decoding a {image.size[0]}x{image.size[1]} {what}",
                                 limit="memory", actual=image.size[0] * image.size[1]) from exc
    except _DECODE_ERRORS as exc:
        raise InputError(f"cannot decode {image.format or 'image'}: corrupt or truncated file{_reason(exc)}") from exc
    # The EXIF turn is applied to the BGR array by the caller, once Pillow's pixels are freed
    # (exif_transpose would make a third full-size copy).
    return bgr, orientation


def _orientation(image: Image.Image) -> int:
    """The EXIF orientation (1-8); 1 for none, an unknown value (0, 9, 255) or a corrupt block."""
    try:
        value = image.getexif().get(_EXIF_ORIENTATION, 1)
    except Exception as exc:  # noqa: BLE001 - Pillow raises many types on a corrupt EXIF block
        logger.warning("ignoring a corrupt EXIF block: %s", exc)
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def _apply_orientation(image: np.ndarray, orientation: int) -> np.ndarray:
    """Turn or flip like `ImageOps.exif_transpose` (and OpenCV's IMREAD_COLOR, the reference's)."""
    if orientation == 1:
        return image
    if orientation == 2:
        return cv2.flip(image, 1)
    if orientation == 3:
        return cv2.rotate(image, cv2.ROTATE_180)
    if orientation == 4:
        return cv2.flip(image, 0)
    if orientation == 5:
        return cv2.transpose(image)
    if orientation == 6:
        return cv2.rotate(image, cv2.ROTATE_90_CLOCKWISE)
    if orientation == 7:
        return cv2.flip(cv2.transpose(image), -1)
    return cv2.rotate(image, cv2.ROTATE_90_COUNTERCLOCKWISE)


def to_bgr_array(image: Image.Image) -> np.ndarray:
    """Any Pillow mode to a contiguous BGR uint8 array; transparency is composited on white.

    The conversion runs on bands of rows written into one output array, so the only full-size
    allocation is the result itself.
    """
    width, height = image.size
    convert = _band_converter(image)
    out = np.empty((height, width, 3), dtype=np.uint8)
    rows = max(1, _BAND_BYTES // max(1, width * 16))
    for top in range(0, height, rows):
        bottom = min(height, top + rows)
        band = image if (top, bottom) == (0, height) else image.crop((0, top, width, bottom))
        out[top:bottom] = convert(band)
    return out


def _band_converter(image: Image.Image) -> Callable[[Image.Image], np.ndarray]:
    mode = image.mode
    if mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
        return lambda band: _gray_to_bgr(_high_depth_to_uint8(np.asarray(band)))
    if mode == "F":
        # One band: Pillow gives (min, max) as numbers; its annotation also covers multi-band images.
        low, high = cast("tuple[float, float]", image.getextrema())
        peak = float(high) if np.isfinite(high) else 0.0
        scale = 255.0 if peak <= 1.0 else 1.0  # floats in [0, 1] are brightness, others grey levels
        return lambda band: _gray_to_bgr(_float_to_uint8(np.asarray(band), scale))
    if mode in ("RGBA", "LA", "PA", "La", "RGBa") or (mode == "P" and "transparency" in image.info):
        return _composite_on_white
    if mode in ("L", "1", "P", "RGB"):
        target = "L" if mode in ("L", "1") else "RGB"
        code = cv2.COLOR_GRAY2BGR if target == "L" else cv2.COLOR_RGB2BGR
        return lambda band: cv2.cvtColor(np.asarray(band if band.mode == target else band.convert(target)), code)
    # CMYK, YCbCr, LAB, HSV
    return lambda band: cv2.cvtColor(np.asarray(band.convert("RGB")), cv2.COLOR_RGB2BGR)


def _composite_on_white(band: Image.Image) -> np.ndarray:
    background = Image.new("RGBA", band.size, (255, 255, 255, 255))
    background.alpha_composite(band.convert("RGBA"))
    return cv2.cvtColor(np.asarray(background.convert("RGB")), cv2.COLOR_RGB2BGR)


def _high_depth_to_uint8(array: np.ndarray) -> np.ndarray:
    wide = array.astype(np.int64, copy=False)
    return (np.clip(wide, 0, 65535) >> 8).astype(np.uint8)


def _float_to_uint8(array: np.ndarray, scale: float) -> np.ndarray:
    return np.clip(np.nan_to_num(array * scale), 0, 255).astype(np.uint8)


def _gray_to_bgr(gray: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(np.ascontiguousarray(gray, dtype=np.uint8), cv2.COLOR_GRAY2BGR)


def array_to_bgr(array: Any) -> np.ndarray:
    """Validate a caller's ndarray (BGR like the reference) and bring it to HxWx3 uint8."""
    if not isinstance(array, np.ndarray):
        raise InputError(f"expected a numpy.ndarray, got {type(array).__name__}")
    if array.dtype != np.uint8:
        raise InputError(f"image array must be uint8, got {array.dtype}")
    if array.ndim == 2:
        return _gray_to_bgr(array)
    if array.ndim != 3 or array.shape[2] not in (1, 3, 4) or 0 in array.shape[:2]:
        raise InputError(f"image array must be HxW, HxWx3 or HxWx4, got shape {array.shape}")
    if array.shape[2] == 1:
        return _gray_to_bgr(array[:, :, 0])
    if array.shape[2] == 4:
        alpha = array[:, :, 3:4].astype(np.float32) / 255.0
        blended = array[:, :, :3].astype(np.float32) * alpha + 255.0 * (1.0 - alpha)
        return np.clip(blended + 0.5, 0, 255).astype(np.uint8)
    return np.ascontiguousarray(array)
