"""UVDoc unwarping: predict a coarse sampling grid on a 488x712 copy of the page, then resample the
full-resolution page through it (align-corners bilinear grid upsampling, bilinear sampling with a
constant border), like the reference's grid_sample but in uint8 and in row tiles."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

import numpy as np

from ..geometry.resample import apply_grid, margin_pixels
from ..geometry.shrink import ShrinkablePage, shrinkable
from .fastest import AutoChoice, load_runner
from .runtime import Runner, RuntimeOptions
from .store import ModelFiles

__all__ = ["Unwarper", "unwarp_with_grid"]

class Unwarper:
    """Predict UVDoc grids and unwarp pages (BGR uint8) at their full resolution.

    >>> Unwarper.from_files(store.resolve("unwarping"), RuntimeOptions()).unwarp(page)  # doctest: +SKIP
    """

    def __init__(
        self, runner: Runner, input_width: int = 488, input_height: int = 712, channel_order: str = "rgb",
        exact: Callable[[], Runner] | None = None,
    ) -> None:
        self.runner = runner
        self.input_size = (int(input_width), int(input_height))
        # UVDoc was trained on RGB; the PaddleX port of it reads BGR. The weights we load are UVDoc's.
        self.channel_order = channel_order.lower()
        # When `runner` computes at a lower precision (bf16): how to load an fp32 runner, for the
        # few probes whose verdict lies too close to a limit to trust (`exact_grids_for_model_images`).
        self._load_exact = exact
        self._exact: Runner | None = None
        self._exact_lock = threading.Lock()

    @property
    def approximate(self) -> bool:
        """Whether the model runs at a lower precision than fp32 (its grids then differ a little)."""
        return self._load_exact is not None

    @classmethod
    def from_files(cls, files: ModelFiles, options: RuntimeOptions) -> Unwarper:
        settings = files.preprocessing
        kwargs = {k: settings[k] for k in ("input_width", "input_height", "channel_order") if k in settings}
        width, height = kwargs.get("input_width", 488), kwargs.get("input_height", 712)
        # bf16 may run UVDoc under enable_hpi: its loss on Inv3DReal was measured (docs/python.md).
        # By default (cpu_backend="auto") only where the table says its output was measured equal
        # (bench/backends.py); otherwise the fp32 configurations, which compute the same.
        auto: AutoChoice = "bf16" if files.spec is not None and files.spec.bf16_measured_equal else "fp32"
        shape = (1, 3, height, width)
        # One page (a scan's probe) and two (a photo's probe with its own grid, stages.find_grids).
        batches = (1, 2)
        runner = load_runner(files.path, options, shape, bf16_ok=True, auto=auto, batches=batches)
        exact = None
        if getattr(runner, "precision", "f32") == "bf16":
            # The fastest fp32 configuration, loaded the first time a probe needs it.
            def exact() -> Runner:
                return load_runner(files.path, options, shape, auto="fp32", batches=batches,
                                   role="fp32 guard of the bf16 probe")
        return cls(runner, **kwargs, exact=exact)

    def model_image(self, image: np.ndarray | ShrinkablePage) -> np.ndarray:
        """One page at the model's input size, uint8 HxWx3 in the model's channel order: all the
        model needs of a page, a quarter of the bytes of its float input (what a staged engine
        sends to the model's machine). Area-averaged from the page's working copy
        (geometry/shrink.py), shared with the page's other small images when given with it."""
        small = shrinkable(image).shrunk(self.input_size)
        return small[:, :, ::-1] if self.channel_order == "rgb" else small

    def model_input(self, image: np.ndarray) -> np.ndarray:
        """One page to the model's CHW float32 input in [0, 1]."""
        return _chw_unit(self.model_image(image))

    def predict_grids(self, images: Sequence[np.ndarray]) -> list[np.ndarray]:
        """The [2, 45, 31] sampling grid of each page, in one model call."""
        return self.grids_for_model_images([self.model_image(image) for image in images])

    def grids_for_model_images(self, small_images: Sequence[np.ndarray]) -> list[np.ndarray]:
        """`predict_grids` of pages already made `model_image`s, in one model call."""
        return _grids(self.runner, small_images)

    def exact_grids_for_model_images(self, small_images: Sequence[np.ndarray]) -> list[np.ndarray]:
        """`grids_for_model_images` at fp32, whatever precision the model runs at otherwise."""
        if self._load_exact is None or not small_images:
            return self.grids_for_model_images(small_images)
        with self._exact_lock:
            if self._exact is None:
                self._exact = self._load_exact()
        return _grids(self._exact, small_images)

    def unwarp(
        self, image: np.ndarray, grid: np.ndarray | None = None, keep_margin: float = 0.0,
        fill: int | tuple[int, int, int] = 0,
    ) -> np.ndarray:
        """The unwarped page, same size as the input (as the reference), plus `keep_margin` (a
        fraction of the width and height) on each side where the grid is extrapolated, so the
        page edges UVDoc cuts off are kept; what lies outside the photo gets `fill`."""
        if grid is None:
            grid = self.predict_grids([image])[0]
        return unwarp_with_grid(image, grid, keep_margin, fill)


def unwarp_with_grid(
    image: np.ndarray, grid: np.ndarray, keep_margin: float = 0.0, fill: int | tuple[int, int, int] = 0,
    threads: int = 1,
) -> np.ndarray:
    """`Unwarper.unwarp` with the grid given: no model needed (the resampling half of unwarping);
    `threads`: tiles resampled at once (`apply_grid`)."""
    return apply_grid(image, grid, fill=fill, margin=margin_pixels(image.shape[:2], keep_margin), threads=threads)


def _grids(runner: Runner, small_images: Sequence[np.ndarray]) -> list[np.ndarray]:
    """The grids `runner` gives for `model_image`s, in one call."""
    if not small_images:
        return []
    batch = np.stack([_chw_unit(small) for small in small_images])
    return [np.asarray(g, dtype=np.float32) for g in runner(batch)[0]]


def _chw_unit(small: np.ndarray) -> np.ndarray:
    """A uint8 HxWx3 image as the model's CHW float32 input in [0, 1]."""
    return np.ascontiguousarray(small.transpose(2, 0, 1), dtype=np.float32) * np.float32(1.0 / 255.0)
