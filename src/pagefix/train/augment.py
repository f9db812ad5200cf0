"""Training-time damage for pages (OpenCV and NumPy only): a random quarter turn that moves the
label with it, scale, crop, small skew, colour, blur, noise and JPEG recompression.

The result is a square BGR crop of `resize_short` pixels (256): the classifier's own `preprocess`
then leaves its size alone and takes the centre 224x224, exactly as at inference. The crop is one
of the kinds of view pagefix's default view set shows the model (`models/orientation_views.py`),
drawn with the shares in `view_mix`: the reference's centre crop (short side 256), the whole page
letterboxed on white, or a crop anywhere along the page at short side 512. A model fine-tuned on
centre crops alone never sees the other two, and its answers on them drift freely: measured on
generated Devanagari pages, 91% right with the centre crop and 68% with the voting views.
Within a kind only the scale and position are jittered.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ..evaluation.datasets import turn_content
from ..models.orientation_views import RECIPE_SHORT_SIDES, letterbox
from .degrade import degrade_page

__all__ = ["VIEW_KINDS", "Augmentation"]

VIEW_KINDS = ("centre", "letterbox", "long")


@dataclass(frozen=True)
class Augmentation:
    resize_short: int = 256  # also the side of the square crop handed to `preprocess`
    crop_size: int = 224  # what `preprocess` keeps of it
    scale: tuple[float, float] = (1.0, 1.4)  # short side as a multiple of resize_short (1 = inference)
    shift: float = 0.5  # how far the crop may move from the centre, as a share of the slack
    # Shares of the centre crop, the letterboxed page and the crop at short side 512 (`VIEW_KINDS`);
    # (1, 0, 0): centre crops only (`--views reference`; in the Hebrew example of docs/fine-tuning.md it was worse
    # than the default mix even with the single view).
    view_mix: tuple[float, float, float] = (0.5, 0.2, 0.3)
    skew_degrees: float = 3.0
    turn_labels: bool = True  # random quarter turns, with the label turned too
    labels: tuple[int, ...] = (0, 90, 180, 270)
    # Share of pages given the damage of old print first (`degrade.degrade_page`: bleed-through,
    # stains, uneven ink, low contrast, binarisation). 0 draws nothing from the generator, so the
    # crops of a seed are those of earlier versions.
    degrade: float = 0.0

    def __call__(self, image: np.ndarray, angle: int, rng: np.random.Generator) -> tuple[np.ndarray, int]:
        if self.degrade > 0 and rng.random() < self.degrade:
            image = degrade_page(image, rng)
        if self.turn_labels:
            extra = int(rng.choice(self.labels))
            image = turn_content(image, extra)
            angle = (angle + extra) % 360
        image = self._scale_and_crop(image, rng)
        image = self._skew(image, rng)
        image = self._colour(image, rng)
        image = self._blur_noise_jpeg(image, rng)
        return image, angle

    def _scale_and_crop(self, image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        kind = VIEW_KINDS[int(rng.choice(len(VIEW_KINDS), p=np.asarray(self.view_mix) / sum(self.view_mix)))]
        if kind == "letterbox":  # the whole page, its long side filling 90-100% of the kept centre
            return letterbox(image, self.crop_size * rng.uniform(0.9, 1.0), self.resize_short)[0]
        if kind == "centre":
            return self._crop(image, self.resize_short * rng.uniform(*self.scale), self.shift, cv2.INTER_LINEAR, rng)
        # The voting views' long-side crops (short side 512 where the centre crop has 256), anywhere
        # along the page.
        long_short = self.resize_short * RECIPE_SHORT_SIDES["long3_512"] / RECIPE_SHORT_SIDES["centre256"]
        return self._crop(image, long_short * rng.uniform(0.9, 1.1), 1.0, cv2.INTER_AREA, rng)

    def _crop(self, image: np.ndarray, short: float, shift: float, interpolation: int,
              rng: np.random.Generator) -> np.ndarray:
        height, width = image.shape[:2]
        side = self.resize_short
        short = max(short, side)
        factor = short / min(height, width)
        new_w, new_h = max(side, round(width * factor)), max(side, round(height * factor))
        resized = cv2.resize(image, (new_w, new_h), interpolation=interpolation)
        slack_x, slack_y = new_w - side, new_h - side
        x0 = int(round(slack_x / 2 + rng.uniform(-1, 1) * shift * slack_x / 2))
        y0 = int(round(slack_y / 2 + rng.uniform(-1, 1) * shift * slack_y / 2))
        return resized[y0:y0 + side, x0:x0 + side]


    def _skew(self, image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        if self.skew_degrees <= 0 or rng.random() < 0.5:
            return image
        size = image.shape[1], image.shape[0]
        matrix = cv2.getRotationMatrix2D((size[0] / 2, size[1] / 2), rng.uniform(-1, 1) * self.skew_degrees, 1.0)
        return cv2.warpAffine(image, matrix, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)

    @staticmethod
    def _colour(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        out = image.astype(np.float32)
        if rng.random() < 0.8:
            contrast = rng.uniform(0.6, 1.3)
            brightness = rng.uniform(-40, 30)
            tint = rng.uniform(0.85, 1.15, size=3).astype(np.float32)
            out = (out - 128.0) * contrast + 128.0 + brightness
            out *= tint
        if rng.random() < 0.2:
            out = np.repeat(out.mean(axis=2, keepdims=True), 3, axis=2)
        return np.clip(out, 0, 255).astype(np.uint8)

    @staticmethod
    def _blur_noise_jpeg(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        if rng.random() < 0.3:
            image = cv2.GaussianBlur(image, (0, 0), rng.uniform(0.3, 1.2))
        if rng.random() < 0.3:
            noise = rng.normal(0, rng.uniform(2, 10), size=image.shape)
            image = np.clip(image.astype(np.float32) + noise, 0, 255).astype(np.uint8)
        if rng.random() < 0.5:
            quality = int(rng.integers(30, 95))
            ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
            decoded = cv2.imdecode(data, cv2.IMREAD_COLOR) if ok else None
            if decoded is not None:
                image = decoded
        return image

