"""Image and text metrics of the document-unwarping literature (DocUNet, Ma et al. 2018, and the
papers that reuse its evaluation code), on OpenCV and scikit-image.

- Both images are grayscale; the flat original is resized to an area of 598,400 pixels keeping its
  aspect, and the result to exactly that size.
- MS-SSIM: the weighted *sum* of SSIM at 5 levels, weights (0.0448, 0.2856, 0.3001, 0.2363, 0.1333),
  SSIM with an 11x11 Gaussian window of sigma 1.5 and K = (0.01, 0.03) on 0..255 (MATLAB's `ssim`
  defaults), each level halved with a 5-tap Gaussian pyramid (`cv2.pyrDown`, as MATLAB's impyramid).
- Local distortion (LD): both images smoothed (7x7 Gaussian, sigma 1) and halved (bicubic), then the
  mean length, in those half-size pixels, of the dense flow that carries the original onto the
  result. The literature uses SIFT flow (a MATLAB/C++ package); pagefix uses OpenCV's DIS optical
  flow instead, so LD values are comparable between pagefix runs but not digit for digit with
  published tables.
- CER / ED: Levenshtein edit distance between OCR texts (whitespace collapsed), CER = ED / length of
  the reference text.
"""

from __future__ import annotations

import cv2
import numpy as np

from ..errors import ConfigError

__all__ = [
    "MSSSIM_WEIGHTS",
    "TARGET_AREA",
    "character_error_rate",
    "local_distortion",
    "ms_ssim",
    "prepare_pair",
]

TARGET_AREA = 598_400
MSSSIM_WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)


def _gray(image: np.ndarray) -> np.ndarray:
    return image if image.ndim == 2 else cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)


def prepare_pair(result: np.ndarray, original: np.ndarray, area: int = TARGET_AREA) -> tuple[np.ndarray, np.ndarray]:
    """(result, original) as grayscale uint8 of the same size, the original at `area` pixels."""
    original = _gray(original)
    height, width = original.shape
    scale = np.sqrt(area / (height * width))
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    original = cv2.resize(original, size, interpolation=interpolation)
    result = _gray(result)
    shrink = result.shape[0] * result.shape[1] > size[0] * size[1]
    result = cv2.resize(result, size, interpolation=cv2.INTER_AREA if shrink else cv2.INTER_CUBIC)
    return result, original


def _require(module: str):
    import importlib

    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ConfigError(f"{module.split('.')[0]} is needed for evaluation: pip install \"pagefix[eval]\"") from exc


def ms_ssim(x: np.ndarray, y: np.ndarray) -> float:
    """MS-SSIM of two grayscale uint8 images of the same size (see the module notes)."""
    structural_similarity = _require("skimage.metrics").structural_similarity

    if x.shape != y.shape:
        raise ValueError(f"images differ in size: {x.shape} and {y.shape}")
    total = 0.0
    a: np.ndarray = x.astype(np.float64)
    b: np.ndarray = y.astype(np.float64)
    for level, weight in enumerate(MSSSIM_WEIGHTS):
        if min(a.shape) < 7:
            raise ValueError("images are too small for 5 MS-SSIM levels")
        total += weight * structural_similarity(
            a, b, data_range=255.0, gaussian_weights=True, sigma=1.5, use_sample_covariance=False
        )
        if level < len(MSSSIM_WEIGHTS) - 1:
            a, b = cv2.pyrDown(a), cv2.pyrDown(b)
    return float(total)


def local_distortion(x: np.ndarray, y: np.ndarray) -> float:
    """Mean flow length from the original `y` onto the result `x` (grayscale uint8, same size)."""
    if x.shape != y.shape:
        raise ValueError(f"images differ in size: {x.shape} and {y.shape}")

    def half(image: np.ndarray) -> np.ndarray:
        smooth = cv2.GaussianBlur(image, (7, 7), 1.0, borderType=cv2.BORDER_REPLICATE)
        return cv2.resize(smooth, None, fx=0.5, fy=0.5, interpolation=cv2.INTER_CUBIC)

    original, result = half(y), half(x)
    # OpenCV takes None for the initial flow (none given); its stubs do not say so.
    flow = cv2.DISOpticalFlow.create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM).calc(original, result, None)  # type: ignore[call-overload]
    length = np.sqrt(flow[..., 0] ** 2 + flow[..., 1] ** 2)
    mask = original != 0  # as the literature: pixels that are pure black in the original do not count
    return float(length[mask].mean()) if mask.any() else float(length.mean())


def character_error_rate(hypothesis: str, reference: str) -> tuple[float, int]:
    """(CER, edit distance) of `hypothesis` against `reference`, whitespace collapsed."""
    Levenshtein = _require("rapidfuzz.distance").Levenshtein

    hyp, ref = " ".join(hypothesis.split()), " ".join(reference.split())
    distance = Levenshtein.distance(hyp, ref)
    return (distance / len(ref) if ref else float(bool(hyp))), distance
