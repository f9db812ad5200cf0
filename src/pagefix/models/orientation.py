"""Page orientation (0/90/180/270) with PP-LCNet_x1_0_doc_ori, preprocessed like the reference:
short side to 256 (bilinear), centre crop 224, ImageNet normalisation on RGB, softmax inside."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .fastest import load_runner
from .orientation_views import ViewSet, centre_crop, combine_views, make_crops, resolve_view_set, view_agreement
from .runtime import Runner, RuntimeOptions
from .store import ModelFiles

__all__ = ["Orientation", "OrientationClassifier"]

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
        name: str | None = None,
    ) -> None:
        self.runner = runner
        #: The model's name (the model table's, or a model directory's pagefix.yml); None when the
        #: runner was handed in without one.
        self.name = name
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
        crop = kwargs.get("crop_size", 224)
        # bf16 may run it under enable_hpi: on real pages in four turns it scores what fp32 scores
        # (docs/python.md). cpu_backend="auto" leaves it on ONNX Runtime, the fastest fp32
        # configuration for it here (docs/unwarping.md, CPU configurations).
        return cls(load_runner(files.path, options, (1, 3, crop, crop), bf16_ok=True), name=files.name, **kwargs)

    def normalize(self, crops: Sequence[np.ndarray]) -> np.ndarray:
        """BGR uint8 crops (224x224) to the model's NCHW float32 input (ImageNet statistics on RGB)."""
        batch = np.stack(crops)[:, :, :, ::-1].astype(np.float32)
        return np.ascontiguousarray((batch * self._scale + self._shift).transpose(0, 3, 1, 2))

    def preprocess(self, image: np.ndarray) -> np.ndarray:
        """One page to the model's CHW input with the reference's view."""
        return self.normalize(centre_crop(image, self.resize_short))[0]

    def predict(self, images: Sequence[np.ndarray], views: str | ViewSet | None = "reference") -> list[Orientation]:
        """Classify pages; all views of all pages go through the model in one call (two with a gate)."""
        if not images:
            return []
        view_set = resolve_view_set(views)
        if view_set.is_reference:
            return self.predict_batch(np.stack([self.preprocess(image) for image in images]))
        if view_set.gate is None:
            per_page = [make_crops(image, view_set.views) for image in images]
            probabilities = self._probabilities_of(per_page)
        else:
            # Score the first view of every page, then the other views only where it is unsure.
            first, rest = view_set.views[:1], view_set.views[1:]
            per_page = [make_crops(image, first) for image in images]
            probabilities = self._probabilities_of(per_page)
            unsure = [p.max(axis=1).min() < view_set.gate for p in probabilities]
            extra = [make_crops(image, rest) if u else ([], []) for image, u in zip(images, unsure)]
            extra_probabilities = self._probabilities_of(extra)
            per_page = [(a + c, b + d) for (a, b), (c, d) in zip(per_page, extra)]
            probabilities = [np.concatenate([p, q]) for p, q in zip(probabilities, extra_probabilities)]
        found = []
        for (_, turns), probs in zip(per_page, probabilities):
            best = int(combine_views(probs, turns).argmax())
            agreement = view_agreement(probs, turns)
            found.append(Orientation(self.labels[best], float(agreement[best]), tuple(float(v) for v in agreement)))
        return found

    def _probabilities_of(self, per_page: list[tuple[list[np.ndarray], list[int]]]) -> list[np.ndarray]:
        crops = [crop for page_crops, _ in per_page for crop in page_crops]
        probabilities = self.probabilities(self.normalize(crops)) if crops else np.zeros((0, len(self.labels)))
        out, start = [], 0
        for page_crops, _ in per_page:
            out.append(probabilities[start:start + len(page_crops)])
            start += len(page_crops)
        return out

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
