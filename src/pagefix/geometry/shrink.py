"""Small images of a large page, made from one shared working copy.

The models see a page only through small images: the classifier's letterboxed page and its crops at
short side 512, UVDoc's 488x712 input and the flat-page probe's framed copy. Each used to be
area-averaged from the full page, reading every pixel: on a 12 MP photo each took about as long as
the classifier's whole vote. Now the page is halved (2x2 pixel averages, which OpenCV's bilinear
resize computes exactly at a scale of one half, several times faster than its area resize) while
it stays at least twice the size of every small image, and each small image is area-averaged from
that working copy (bench/run.py --in-memory; docs/benchmarks.md). The decisions the models take
on the small images made this way were measured equal to those on images made in one step, on the
development pages (bench/shrink_decisions.py).
"""

from __future__ import annotations

import cv2
import numpy as np

from .turns import quarter_turn

__all__ = ["COPY_LONG_SIDE", "COPY_SHORT_SIDE", "ShrinkablePage", "halve", "shrinkable"]

#: The working copy's smallest sides: twice UVDoc's input height (712) along the long side and
#: twice the classifier's largest short side (512) along the short one, so that every small image
#: is area-averaged from the copy over two or more of its pixels each way.
COPY_LONG_SIDE = 1424
COPY_SHORT_SIDE = 1024


class ShrinkablePage:
    """A page (HxWxC uint8) and, made the first time a small image is asked for, its working copy."""

    def __init__(self, image: np.ndarray, copy: np.ndarray | None = None) -> None:
        self.image = image
        self._copy = copy

    @property
    def shape(self) -> tuple[int, ...]:
        return self.image.shape

    @property
    def copy(self) -> np.ndarray:
        """The page halved as often as it stays at least `COPY_LONG_SIDE` x `COPY_SHORT_SIDE` (the
        page itself when it is not twice that size)."""
        if self._copy is None:
            copy = self.image
            while min(copy.shape[:2]) >= 2 * COPY_SHORT_SIDE and max(copy.shape[:2]) >= 2 * COPY_LONG_SIDE:
                copy = halve(copy)
            self._copy = copy
        return self._copy

    def shrunk(self, size: tuple[int, int]) -> np.ndarray:
        """The page at `size` (width, height), area-averaged from the working copy when the copy
        is at least that large, else from the page."""
        width, height = size
        copy = self.copy
        source = copy if copy.shape[1] >= width and copy.shape[0] >= height else self.image
        if source.shape[1] == width and source.shape[0] == height:
            return source
        return cv2.resize(source, (width, height), interpolation=cv2.INTER_AREA)

    def turned(self, angle: int, image: np.ndarray | None = None) -> ShrinkablePage:
        """The page put upright from a content turn of `angle` (`quarter_turn`); `image`: the full
        page already turned, when the caller has it. A working copy already made is turned with it
        rather than made again."""
        turned_image = quarter_turn(self.image, angle) if image is None else image
        return ShrinkablePage(turned_image, None if self._copy is None else quarter_turn(self._copy, angle))


def halve(image: np.ndarray) -> np.ndarray:
    """Each 2x2 block of pixels averaged into one (an odd last row or column is dropped): bilinear
    resizing at exactly half samples the centre of each block, so it is the area average."""
    height, width = image.shape[:2]
    even = image[: height - height % 2, : width - width % 2]
    return cv2.resize(even, (width // 2, height // 2), interpolation=cv2.INTER_LINEAR)


def shrinkable(page: np.ndarray | ShrinkablePage) -> ShrinkablePage:
    """`page` as a `ShrinkablePage` (a page given as an array gets its own working copy)."""
    return page if isinstance(page, ShrinkablePage) else ShrinkablePage(page)
