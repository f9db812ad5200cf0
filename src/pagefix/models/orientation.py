"""Page orientation (0/90/180/270) with PP-LCNet_x1_0_doc_ori, preprocessed like the reference:
short side to 256 (bilinear), centre crop 224, ImageNet normalisation on RGB, softmax inside."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from .runtime import OnnxRunner, Runner, RuntimeOptions
from .store import ModelFiles

__all__ = ["Orientation", "OrientationClassifier", "quarter_turn"]

# A page this much longer than wide would become a huge strip at short side 256; above this size
# the crop is taken from the source first and only that region is resized.
_MAX_RESIZED_SIDE = 4096

# cv2.rotate codes that undo a clockwise turn of the content by the label.
_UNDO_TURN = {
    90: cv2.ROTATE_90_COUNTERCLOCKWISE,
    180: cv2.ROTATE_180,
    270: cv2.ROTATE_90_CLOCKWISE,
}


def quarter_turn(image: np.ndarray, angle: int) -> np.ndarray:
    """Turn a page whose content is rotated `angle` degrees clockwise back upright.

    Exact and lossless (no resampling): unlike the reference's warpAffine recipe, it neither
    shifts the page by one pixel nor draws a black line along an edge.
    """
    angle %= 360
    if angle == 0:
        return image
    if angle not in _UNDO_TURN:
        raise ValueError(f"angle must be a multiple of 90, got {angle}")
    return cv2.rotate(image, _UNDO_TURN[angle])


@dataclass(frozen=True)
class Orientation:
    angle: int  # clockwise turn of the content: 0, 90, 180 or 270
    score: float  # the classifier's probability for that angle
    probabilities: tuple[float, ...]  # one per label, in label order


class OrientationClassifier:
    """Classify pages (BGR uint8) into their clockwise turn.

    >>> OrientationClassifier.from_files(store.resolve("orientation"), RuntimeOptions()).predict([page])  # doctest: +SKIP
    [Orientation(angle=0, score=0.91, ...)]
    """

    def __init__(
        self,
        runner: Runner,
        labels: Sequence[int] = (0, 90, 180, 270),
        resize_short: int = 256,
        crop_size: int = 224,
        mean: Sequence[float] = (0.485, 0.456, 0.406),
        std: Sequence[float] = (0.229, 0.224, 0.225),
    ) -> None:
        self.runner = runner
        self.labels = tuple(int(label) for label in labels)
        self.resize_short = resize_short
        self.crop_size = crop_size
        # x/255 - mean) / std == x * scale + shift, per RGB channel
        std_array = np.asarray(std, dtype=np.float32)
        self._scale = (1.0 / (255.0 * std_array)).astype(np.float32)
        self._shift = (-np.asarray(mean, dtype=np.float32) / std_array).astype(np.float32)

    @classmethod
    def from_files(cls, files: ModelFiles, options: RuntimeOptions) -> OrientationClassifier:
        settings = files.preprocessing
        kwargs = {k: settings[k] for k in ("labels", "resize_short", "crop_size", "mean", "std") if k in settings}
        return cls(OnnxRunner.load(files.path, options), **kwargs)

    def preprocess(self, image: np.ndarray) -> np.ndarray:
        """One page to the model's CHW float32 input."""
        crop = self._resized_centre_crop(image)
        rgb = crop[:, :, ::-1].astype(np.float32)
        return np.ascontiguousarray((rgb * self._scale + self._shift).transpose(2, 0, 1))

    def _resized_centre_crop(self, image: np.ndarray) -> np.ndarray:
        height, width = image.shape[:2]
        scale = self.resize_short / min(height, width)
        # Python's round() (banker's rounding) as the reference computes the new size.
        new_w, new_h = round(width * scale), round(height * scale)
        size = self.crop_size
        if max(new_w, new_h) > _MAX_RESIZED_SIDE:
            # Extreme aspect ratio: cut the source region that becomes the crop, then resize it.
            src_w, src_h = min(width, round(size / scale)), min(height, round(size / scale))
            x0, y0 = (width - src_w) // 2, (height - src_h) // 2
            return cv2.resize(image[y0:y0 + src_h, x0:x0 + src_w], (size, size), interpolation=cv2.INTER_LINEAR)
        if (new_w, new_h) != (width, height):
            image = cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_LINEAR)
        x0, y0 = max(0, (new_w - size) // 2), max(0, (new_h - size) // 2)
        return image[y0:y0 + size, x0:x0 + size]

    def predict(self, images: Sequence[np.ndarray]) -> list[Orientation]:
        """Classify a batch of pages in one model call."""
        if not images:
            return []
        batch = np.stack([self.preprocess(image) for image in images])
        return self.predict_batch(batch)

    def predict_batch(self, batch: np.ndarray) -> list[Orientation]:
        probabilities = self.probabilities(batch)
        best = probabilities.argmax(axis=1)
        return [
            Orientation(self.labels[i], float(p[i]), tuple(float(v) for v in p))
            for i, p in zip(best, probabilities)
        ]

    def probabilities(self, batch: np.ndarray) -> np.ndarray:
        """Softmax probabilities [N, 4] for a preprocessed batch (the exported graph ends in softmax)."""
        return np.asarray(self.runner(batch)[0], dtype=np.float32)
