"""Safe image decoding: header-checked pixel caps, EXIF orientation, every pixel mode to BGR uint8.

This is the only place where image bytes meet a decoder. The format is sniffed from the bytes
(`formats.sniff_format`), the pixel count is read from the header before anything is decoded,
and Pillow's own bomb check is turned into our `LimitExceededError`.
"""

from __future__ import annotations

import io
import logging
import warnings
from collections.abc import Iterator
from typing import Any

import cv2
import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from ..errors import InputError, LimitExceededError, PagefixError, UnsupportedFormatError
from ..limits import Limits
from .formats import sniff_format

__all__ = ["DecodedFrame", "check_pixels", "decode_image", "to_bgr_array"]

logger = logging.getLogger(__name__)

#: (frame index or None for a single-frame file, BGR image or the error for that frame)
DecodedFrame = tuple["int | None", "np.ndarray | PagefixError"]

_PIL_FORMATS = {"jpeg": "JPEG", "png": "PNG", "bmp": "BMP", "tiff": "TIFF", "webp": "WEBP", "gif": "GIF"}
_EXIF_ORIENTATION = 0x0112


def check_pixels(width: int, height: int, limits: Limits, what: str = "image") -> None:
    """Refuse a size before anything of that size is allocated."""
    if width <= 0 or height <= 0:
        raise InputError(f"{what} has an invalid size {width}x{height}")
    if width * height > limits.max_pixels:
        raise LimitExceededError(
            f"{what} is {width}x{height} = {width * height / 1e6:.1f} MP, over the limit of "
            f"{limits.max_pixels / 1e6:.1f} MP (raise it with PAGEFIX_MAX_PIXELS or Limits.max_pixels)"
        )


def decode_image(data: bytes, limits: Limits, fmt: str | None = None) -> Iterator[DecodedFrame]:
    """Decode an image file's bytes into BGR uint8 frames.

    A multi-frame TIFF yields one frame per page (indices 0..n-1); every other file yields one
    frame with index None (GIF and animated WebP: the first frame only). A broken frame yields its
    error and the others still come.
    """
    fmt = fmt or sniff_format(data[:1024])
    if fmt not in _PIL_FORMATS:
        raise UnsupportedFormatError(f"{fmt} is not an image format")
    image = _open(data, fmt, limits)
    try:
        n_frames = getattr(image, "n_frames", 1) if fmt == "tiff" else 1
        if n_frames <= 1:
            yield None, _decode_frame(image, limits, apply_exif=True)
            return
        if n_frames > limits.max_frames:
            raise LimitExceededError(
                f"TIFF has {n_frames} frames, over the limit of {limits.max_frames} "
                "(raise it with PAGEFIX_MAX_FRAMES or Limits.max_frames)"
            )
        for index in range(n_frames):
            try:
                image.seek(index)
                yield index, _decode_frame(image, limits, apply_exif=True)
            except PagefixError as exc:
                yield index, exc
            except (OSError, ValueError, SyntaxError, EOFError) as exc:
                yield index, InputError(f"TIFF frame {index} cannot be decoded: {exc}")
    finally:
        image.close()


def has_exif_turn(data: bytes) -> bool:
    """Whether a JPEG's EXIF asks for the pixels to be turned or flipped before display."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(io.BytesIO(data)) as image:
                return image.getexif().get(_EXIF_ORIENTATION, 1) in range(2, 9)
    except Exception:  # noqa: BLE001 - a broken EXIF block simply means "no turn"
        return False


def _open(data: bytes, fmt: str, limits: Limits) -> Image.Image:
    try:
        with warnings.catch_warnings():
            # Our own cap (checked below, from the header) replaces Pillow's bomb warning.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=[_PIL_FORMATS[fmt]])
    except Image.DecompressionBombError as exc:
        raise LimitExceededError(
            f"image is over the limit of {limits.max_pixels / 1e6:.1f} MP ({exc})"
        ) from exc
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError) as exc:
        raise InputError(f"cannot decode {fmt.upper()} image: corrupt or truncated file") from exc
    try:
        check_pixels(*image.size, limits)
    except PagefixError:
        image.close()
        raise
    return image


def _decode_frame(image: Image.Image, limits: Limits, apply_exif: bool) -> np.ndarray:
    check_pixels(*image.size, limits)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image.load()
            if apply_exif:
                image = _exif_upright(image)
            return to_bgr_array(image)
    except (OSError, ValueError, SyntaxError, EOFError, MemoryError) as exc:
        raise InputError(f"cannot decode {image.format or 'image'}: corrupt or truncated file ({exc})") from exc


def _exif_upright(image: Image.Image) -> Image.Image:
    """Apply the EXIF orientation tag like OpenCV's IMREAD_COLOR (and so the reference) does."""
    try:
        return ImageOps.exif_transpose(image) or image
    except Exception as exc:  # noqa: BLE001 - Pillow raises many types on a corrupt EXIF block
        logger.warning("ignoring a corrupt EXIF block: %s", exc)
        return image


def to_bgr_array(image: Image.Image) -> np.ndarray:
    """Any Pillow mode to a contiguous BGR uint8 array; transparency is composited on white."""
    mode = image.mode
    if mode in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F"):
        return _gray_to_bgr(_high_depth_to_uint8(np.asarray(image)))
    if mode == "P":
        image = image.convert("RGBA" if "transparency" in image.info else "RGB")
    elif mode in ("PA", "La", "RGBa"):
        image = image.convert("RGBA")
    elif mode == "1":
        image = image.convert("L")
    if image.mode in ("RGBA", "LA"):
        background = Image.new("RGBA", image.size, (255, 255, 255, 255))
        background.alpha_composite(image.convert("RGBA"))
        image = background.convert("RGB")
    if image.mode == "L":
        return _gray_to_bgr(np.asarray(image))
    if image.mode != "RGB":  # CMYK, YCbCr, LAB, HSV
        image = image.convert("RGB")
    return cv2.cvtColor(np.asarray(image), cv2.COLOR_RGB2BGR)


def _high_depth_to_uint8(array: np.ndarray) -> np.ndarray:
    if array.dtype.kind == "f":
        peak = float(np.nanmax(array)) if array.size else 0.0
        scaled = array * 255.0 if peak <= 1.0 else array
        return np.clip(np.nan_to_num(scaled), 0, 255).astype(np.uint8)
    wide = array.astype(np.int64, copy=False)
    return (np.clip(wide, 0, 65535) >> 8).astype(np.uint8)


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
