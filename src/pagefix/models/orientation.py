"""Page orientation (0/90/180/270) with PP-LCNet_x1_0_doc_ori, preprocessed like the reference:
short side to 256 (bilinear), centre crop 224, ImageNet normalisation on RGB, softmax inside."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from ..geometry.shrink import ShrinkablePage, shrinkable
from .fastest import load_runner
from .orientation_views import (
    DEFAULT_CASCADE_STOP,
    ViewSet,
    centre_crop,
    combine_views,
    make_crops,
    remaining_views,
    resolve_view_set,
    shared_views,
    unanimous_angle,
    view_agreement,
)
from .runtime import Runner, RuntimeOptions
from .store import MODELS, ModelFiles

__all__ = ["Orientation", "OrientationClassifier"]

@dataclass(frozen=True)
class Orientation:
    angle: int  # clockwise turn of the content: 0, 90, 180 or 270
    score: float  # the classifier's probability for that angle
    probabilities: tuple[float, ...]  # one per label, in label order
    views: int = 1  # how many views the decision was voted with


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
        cascade_stop: float | None = None,
    ) -> None:
        self.runner = runner
        #: The model's name (the model table's, or a model directory's pagefix.yml); None when the
        #: runner was handed in without one.
        self.name = name
        self.labels = tuple(int(label) for label in labels)
        #: The probability at which a cascade without its own stops after its first stage,
        #: measured for this model (None: `DEFAULT_CASCADE_STOP`).
        self.cascade_stop = cascade_stop
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
        # A model directory may carry its own stop probability; a model of the table has it there.
        stop = settings.get("cascade_stop")
        if stop is None and files.name in MODELS:
            stop = MODELS[files.name].cascade_stop
        # bf16 may run it under enable_hpi: on real pages in four turns it scores what fp32 scores
        # (docs/python.md). cpu_backend="auto" leaves it on ONNX Runtime, the fastest fp32
        # configuration for it here (docs/unwarping.md, CPU configurations).
        # Timed at the batch sizes the view sets call it with: one view (the reference's), the
        # cascade's four turns, the rest of the vote (orientation_views.VIEW_SETS).
        runner = load_runner(files.path, options, (1, 3, crop, crop), bf16_ok=True, batches=(1, 4, 13))
        return cls(runner, name=files.name,
                   cascade_stop=None if stop is None else float(stop), **kwargs)

    def normalize(self, crops: Sequence[np.ndarray]) -> np.ndarray:
        """BGR uint8 crops (224x224) to the model's NCHW float32 input (ImageNet statistics on RGB).
        Written channel by channel into the NCHW array: one pass over each plane instead of a float
        copy of the batch per step (a tenth of the time for 17 crops, same values)."""
        batch = np.stack(crops)
        planes = np.empty((batch.shape[0], 3, *batch.shape[1:3]), dtype=np.float32)
        for channel in range(3):  # RGB planes from BGR pixels
            np.multiply(batch[..., 2 - channel], self._scale[channel], out=planes[:, channel], dtype=np.float32)
            planes[:, channel] += self._shift[channel]
        return planes

    def preprocess(self, image: np.ndarray | ShrinkablePage) -> np.ndarray:
        """One page to the model's CHW input with the reference's view."""
        return self.normalize(centre_crop(image, self.resize_short))[0]

    def predict(self, images: Sequence[np.ndarray | ShrinkablePage], views: str | ViewSet | None = "reference",
                expect: int | None = None) -> list[Orientation]:
        """Classify pages; all views of all pages go through the model in one call (two with a gate
        or a cascade: the first stage for every page, then the other views for the pages it left
        undecided). `expect`: a label the caller already believes; a cascade then stops early only
        on pages its first stage reads as that label (the pipeline's second look at a page). A page
        given with its working copy (`ShrinkablePage`) shares it with the caller's other uses."""
        if not images:
            return []
        view_set = resolve_view_set(views)
        if view_set.is_reference:
            return self.predict_batch(np.stack([self.preprocess(image) for image in images]))
        images = [shrinkable(image) for image in images]
        if view_set.gate is not None:
            # Score the first view of every page, then the other views only where it is unsure.
            first: tuple[tuple[str, tuple[int, ...]], ...] | None = view_set.views[:1]
        else:
            first = view_set.first
        if first is None:
            per_page = [make_crops(image, view_set.views) for image in images]
            return [self._decided(p, turns) for (_, turns), p in zip(per_page, self._probabilities_of(per_page))]
        # The first stage in two parts: its views that also vote, and its extra turns that only
        # check (the cascade's; they do not vote, so an undecided page gets the set's own vote).
        voting, checking = shared_views(first, view_set.views), remaining_views(first, view_set.views)
        firsts, split = [], []
        for image in images:
            made: dict[str, list[np.ndarray]] = {}
            (crops, turns), (more, more_turns) = make_crops(image, voting, made), make_crops(image, checking, made)
            firsts.append((crops + more, turns + more_turns))
            split.append(len(crops))
        first_probabilities = self._probabilities_of(firsts)
        stopped = [self._stops(view_set, p, turns, expect) for (_, turns), p in zip(firsts, first_probabilities)]
        rest = remaining_views(view_set.views, first)
        extra = [([], []) if done else make_crops(image, rest) for image, done in zip(images, stopped)]
        extra_probabilities = self._probabilities_of(extra)
        found = []
        for done, (_, turns), p, n, (_, more), q in zip(stopped, firsts, first_probabilities, split, extra,
                                                         extra_probabilities):
            # A stopped page is decided by its whole first stage, another by the set's own views.
            found.append(self._decided(p, turns) if done else self._decided(np.concatenate([p[:n], q]), turns[:n] + more))
        return found

    def _stops(self, view_set: ViewSet, probabilities: np.ndarray, turns: list[int], expect: int | None) -> bool:
        """Whether the first stage decides the page alone."""
        if view_set.gate is not None:
            return bool(probabilities.max(axis=1).min() >= view_set.gate)
        best, lowest = unanimous_angle(probabilities, turns)
        stop = next(v for v in (view_set.stop, self.cascade_stop, DEFAULT_CASCADE_STOP) if v is not None)
        if best is None or lowest < stop:
            return False
        return expect is None or self.labels[best] == expect

    def _decided(self, probabilities: np.ndarray, turns: list[int]) -> Orientation:
        best = int(combine_views(probabilities, turns).argmax())
        agreement = view_agreement(probabilities, turns)
        return Orientation(self.labels[best], float(agreement[best]), tuple(float(v) for v in agreement), len(turns))

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
