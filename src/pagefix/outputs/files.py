"""Encoding pages to files and writing them so that a crash never leaves a half file that looks done."""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from ..errors import ConfigError, OutputError
from ..limits import did_you_mean

__all__ = ["encode_image", "image_suffix", "png_encoder", "write_atomic"]

_log = logging.getLogger(__name__)

_ENCODE_PARAMS = {
    ".jpg": [cv2.IMWRITE_JPEG_QUALITY, 95],
    ".jpeg": [cv2.IMWRITE_JPEG_QUALITY, 95],
    # Level 1: several times faster than the default level for slightly larger files (bench/run.py).
    ".png": [cv2.IMWRITE_PNG_COMPRESSION, 1],
    ".webp": [cv2.IMWRITE_WEBP_QUALITY, 95],
    ".bmp": [],
    ".tif": [],
    ".tiff": [],
}


#: Largest image fpng encodes; bigger ones go to OpenCV's zlib. fpng holds about three times the
#: image in working memory where zlib streams, so a page near the pixel limit would pass the
#: memory bound on the encoder alone (docs/limits.md, bench/hostile.py). 40 MP covers the
#: three-panel picture of a 12 MP photo.
FPNG_MAX_PIXELS = 40_000_000


def image_suffix(name: str | None, default: str = ".png") -> str:
    """The suffix results are saved with: the input's own when it is an image suffix we write."""
    suffix = Path(name).suffix.lower() if name else ""
    return suffix if suffix in _ENCODE_PARAMS else default


def encode_image(image: np.ndarray, suffix: str, jpeg_quality: int | None = None) -> bytes:
    """Encode a BGR uint8 image to the format named by `suffix` ('.png', '.jpg', ...)."""
    suffix = suffix.lower()
    if suffix not in _ENCODE_PARAMS:
        raise OutputError(f"cannot write images as {suffix!r}; use one of {', '.join(sorted(_ENCODE_PARAMS))}")
    if (suffix == ".png" and image.ndim == 3 and image.shape[2] == 3
            and image.shape[0] * image.shape[1] <= FPNG_MAX_PIXELS and png_encoder() == "fpng"):
        data = _fpng.from_cv2(np.ascontiguousarray(image))
        if data:  # fpng signals a failure with no bytes; OpenCV then writes the page
            return data
    params = list(_ENCODE_PARAMS[suffix])
    if jpeg_quality is not None and suffix in (".jpg", ".jpeg"):
        params = [cv2.IMWRITE_JPEG_QUALITY, int(jpeg_quality)]
    ok, buffer = cv2.imencode(suffix, image, params)
    if not ok:
        raise OutputError(f"OpenCV could not encode a {image.shape} image as {suffix}")
    return buffer.tobytes()


def png_encoder() -> str:
    """Which encoder writes colour PNGs: "fpng" (default where the `fpng` wheel imports) or "zlib".

    fpng writes a 12 MP page in about 0.1 s where OpenCV's zlib at level 1 takes about 0.6 s; its
    files are about a third larger. `PAGEFIX_PNG_ENCODER=zlib` chooses the smaller files.
    """
    wanted = os.environ.get("PAGEFIX_PNG_ENCODER", "fpng").strip().lower() or "fpng"
    if wanted not in ("fpng", "zlib"):
        raise ConfigError(f"PAGEFIX_PNG_ENCODER must be 'fpng' or 'zlib', not {wanted!r}"
                          + did_you_mean(wanted, ("fpng", "zlib")))
    if wanted == "fpng" and _fpng is None:
        return "zlib"
    return wanted


def _import_fpng() -> Any:  # the untyped fpng module, or None
    try:
        import fpng
    except ImportError:  # a platform without its wheel: OpenCV writes the PNGs
        _log.debug("fpng is not installed; PNGs are written with OpenCV's zlib")
        return None
    return fpng


_fpng = _import_fpng()


def write_atomic(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write `data` to a temporary file beside `path`, flush it, then rename it into place.

    A crash, a signal or a full disk leaves at most a hidden `.NAME.*.part` file, never a short
    file under the final name; the temporary file is removed on any error this process survives.
    """
    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
    except OSError as exc:
        raise OutputError(_cannot_write(target, exc)) from exc
    try:
        with os.fdopen(fd, "wb") as handle:
            if hasattr(os, "fchmod"):
                os.fchmod(handle.fileno(), _FILE_MODE)  # mkstemp makes 0600; results are ordinary files
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp, target)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        if isinstance(exc, OSError):
            raise OutputError(_cannot_write(target, exc)) from exc
        raise
    return target


def _cannot_write(target: Path, exc: OSError) -> str:
    return f"cannot write {target}: {exc.strerror or exc}; nothing was written under that name"


def _umask() -> int:
    # No way to read the umask without setting it; done once, at import.
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_FILE_MODE = 0o666 & ~_umask()
