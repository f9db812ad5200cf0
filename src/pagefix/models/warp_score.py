"""Is a page warped at all? UVDoc, run on the page padded with a dark frame, returns a grid; how far
that grid is from a plain perspective view (a homography) tells flat pages from warped ones.

Why a padded probe: UVDoc was trained on tightly cropped pages, so on a full-frame scan it invents a
page border inside the page and its grid bends. With a frame around it, a flat page's border is
where the frame starts and the grid comes out close to the identity; a curled or folded page still
gets a curved grid. The grid of the unpadded page cannot tell the two apart.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from ..geometry.shrink import ShrinkablePage, shrinkable
from .unwarping import Unwarper

__all__ = [
    "APPROXIMATE_IDENTITY_BAND",
    "APPROXIMATE_SCORE_BAND",
    "PROBE_FILL",
    "PROBE_PAD",
    "ProbeFrame",
    "WarpProbe",
    "homography_residual",
    "identity_distance",
    "pad_for_probe",
    "probe_image",
    "probe_nodes",
    "read_probe",
    "run_probes",
    "settle_near_limits",
    "shows_background",
    "warp_probes",
]

#: Frame added on each side, as a fraction of the page's width (left, right) and height (top, bottom).
PROBE_PAD = 0.10
#: Frame colour (BGR): darker than paper, lighter than a black table, so a page edge stands out.
PROBE_FILL = (70, 70, 70)


#: How close to a limit, as a fraction of it, a probe read at bf16 is read again at fp32. bf16 moves
#: the score by at most a tenth of its limit and the identity RMS by a sixth of its limit on the
#: development pages (bench/backends.py), so outside these bands fp32 decides the same.
APPROXIMATE_SCORE_BAND = 0.15
APPROXIMATE_IDENTITY_BAND = 0.25

#: The outer ring of a model-size page that `shows_background` looks at, as a fraction of its
#: shorter side.
BACKGROUND_RING = 0.03
#: A ring with less than this share of paper-like pixels shows what the page lies on.
BACKGROUND_MAX_PAPER = 0.5


@dataclass(frozen=True)
class WarpProbe:
    """What the padded probe found on one page; both numbers are in ‰ of the page diagonal."""

    #: RMS distance of the probe's grid nodes from the best-fitting homography: the bending.
    score: float
    #: RMS distance of the probe's grid nodes from those of the untouched page (the identity).
    identity_rms: float

    def is_flat(self, max_score: float, max_identity_rms: float) -> bool:
        return self.score < max_score and self.identity_rms < max_identity_rms

    def near_limits(self, max_score: float, max_identity_rms: float) -> bool:
        """Whether a probe read at bf16 lies close enough to a limit that fp32 might decide the
        other way (`APPROXIMATE_SCORE_BAND`, `APPROXIMATE_IDENTITY_BAND`)."""
        return (abs(self.score - max_score) < APPROXIMATE_SCORE_BAND * max_score
                or abs(self.identity_rms - max_identity_rms) < APPROXIMATE_IDENTITY_BAND * max_identity_rms)


def pad_for_probe(image: np.ndarray, pad: float = PROBE_PAD) -> tuple[np.ndarray, tuple[int, int]]:
    """The page inside a frame of `pad` x its size on each side; returns the frame's (left, top)."""
    h, w = image.shape[:2]
    px, py = round(pad * w), round(pad * h)
    padded = cv2.copyMakeBorder(image, py, py, px, px, cv2.BORDER_CONSTANT, value=PROBE_FILL)
    return padded, (px, py)


def probe_nodes(grid: np.ndarray, padded_shape: tuple[int, int], offset: tuple[int, int]) -> np.ndarray:
    """The probe's [2, gh, gw] grid (in [-1, 1] of the padded page) as page pixels [gh, gw, 2]."""
    ph, pw = padded_shape
    x = (np.asarray(grid[0], np.float64) + 1.0) * 0.5 * (pw - 1) - offset[0]
    y = (np.asarray(grid[1], np.float64) + 1.0) * 0.5 * (ph - 1) - offset[1]
    return np.stack([x, y], axis=-1)


def _regular_nodes(shape: tuple[int, int], page_shape: tuple[int, int]) -> np.ndarray:
    """Where the nodes of a `shape` (gh, gw) grid sit on an untouched page of `page_shape` (h, w)."""
    gh, gw = shape
    h, w = page_shape
    ys, xs = np.meshgrid(np.linspace(0.0, h - 1.0, gh), np.linspace(0.0, w - 1.0, gw), indexing="ij")
    return np.stack([xs, ys], axis=-1)


def _permille(rms: float, page_shape: tuple[int, int]) -> float:
    return 1000.0 * rms / float(np.hypot(*page_shape))


def homography_residual(nodes: np.ndarray, page_shape: tuple[int, int]) -> float:
    """RMS distance (‰ of the diagonal) of `nodes` [gh, gw, 2] from the least-squares homography of
    the regular node layout onto them: zero for any flat page seen in perspective."""
    src = _regular_nodes(nodes.shape[:2], page_shape).reshape(-1, 2)
    dst = nodes.reshape(-1, 2)
    matrix, _ = cv2.findHomography(src, dst, 0)
    if matrix is None:  # degenerate grid (all nodes on a line): as bent as it gets
        return float("inf")
    fitted = cv2.perspectiveTransform(src.reshape(-1, 1, 2), matrix).reshape(-1, 2)
    return _permille(float(np.sqrt(np.mean(np.sum((fitted - dst) ** 2, axis=1)))), page_shape)


def identity_distance(nodes: np.ndarray, page_shape: tuple[int, int]) -> float:
    """RMS distance (‰ of the diagonal) of `nodes` from the nodes of the untouched page."""
    regular = _regular_nodes(nodes.shape[:2], page_shape)
    return _permille(float(np.sqrt(np.mean(np.sum((nodes - regular) ** 2, axis=-1)))), page_shape)


@dataclass(frozen=True)
class ProbeFrame:
    """Where a page sits in its probe frame: what reading the probe's grid needs besides the grid."""

    page_shape: tuple[int, int]
    padded_shape: tuple[int, int]
    offset: tuple[int, int]


def probe_image(unwarper: Unwarper, image: np.ndarray | ShrinkablePage,
                pad: float = PROBE_PAD) -> tuple[np.ndarray, ProbeFrame]:
    """The page in its probe frame, at the model's input size (`Unwarper.model_image`), and the
    frame. The frame is drawn around the page's working copy (geometry/shrink.py): the verdict is
    read in fractions of the page, so the copy's scale drops out."""
    image = shrinkable(image).copy
    padded, offset = pad_for_probe(image, pad)
    frame = ProbeFrame(tuple(image.shape[:2]), tuple(padded.shape[:2]), offset)
    return unwarper.model_image(padded), frame


def read_probe(grid: np.ndarray, frame: ProbeFrame) -> WarpProbe:
    """The verdict of UVDoc's grid for a page in its probe frame."""
    nodes = probe_nodes(grid, frame.padded_shape, frame.offset)
    return WarpProbe(homography_residual(nodes, frame.page_shape), identity_distance(nodes, frame.page_shape))


def run_probes(unwarper: Unwarper, probes: Sequence[np.ndarray], frames: Sequence[ProbeFrame],
               limits: tuple[float, float] | None = None) -> list[WarpProbe]:
    """The verdicts for pages already made `probe_image`s (one UVDoc call for all of them).
    `limits` (max score, max identity RMS): the limits the verdicts will be judged by, so that a
    lower-precision UVDoc's verdicts near them are read again at fp32 (`settle_near_limits`)."""
    grids = unwarper.grids_for_model_images(probes)
    found = [read_probe(grid, frame) for grid, frame in zip(grids, frames)]
    return found if limits is None else settle_near_limits(unwarper, found, probes, frames, limits)


def settle_near_limits(unwarper: Unwarper, found: Sequence[WarpProbe], probes: Sequence[np.ndarray],
                       frames: Sequence[ProbeFrame], limits: tuple[float, float]) -> list[WarpProbe]:
    """`found` with each verdict that a bf16 UVDoc put near `limits` read again at fp32, so every
    page is judged flat or warped as fp32 judges it (docs: unwarping.md, CPU configurations); at
    fp32 the verdicts as they are."""
    settled = list(found)
    if not unwarper.approximate:
        return settled
    close = [i for i, probe in enumerate(found) if probe.near_limits(*limits)]
    for i, grid in zip(close, unwarper.exact_grids_for_model_images([probes[i] for i in close])):
        settled[i] = read_probe(grid, frames[i])
    return settled


def warp_probes(unwarper: Unwarper, images: Sequence[np.ndarray], pad: float = PROBE_PAD,
                limits: tuple[float, float] | None = None) -> list[WarpProbe]:
    """Probe each page (one UVDoc call for all of them; `limits` as in `run_probes`)."""
    framed = [probe_image(unwarper, image, pad) for image in images]
    return run_probes(unwarper, [small for small, _ in framed], [frame for _, frame in framed], limits)


def shows_background(small: np.ndarray) -> bool:
    """Whether a page (a `Unwarper.model_image`) shows what it lies on around it: less than
    `BACKGROUND_MAX_PAPER` of its outer ring is paper (unsaturated and nearly as bright as the
    page's paper). A photo of a page on a table does; a scan, whose edges are paper, does not.

    It decides nothing about the page: the pipeline uses it to guess that the page will need its
    own UVDoc grid and to ask for it in the probe's model call (docs: unwarping.md, flat pages)."""
    h, w = small.shape[:2]
    band = max(2, round(BACKGROUND_RING * min(h, w)))
    # Every other pixel of the ring and every eighth of the inside: a share and a percentile need
    # no more, and the probe's cost on a scan should not grow by more than a rounding error.
    ring = np.concatenate([small[:band:2, ::2].reshape(-1, 3), small[-band::2, ::2].reshape(-1, 3),
                           small[band:-band:2, :band:2].reshape(-1, 3), small[band:-band:2, -band::2].reshape(-1, 3)])
    # The paper's brightness: a bright percentile of the inside, where text is a minority.
    inside = small[band:-band:8, band:-band:8].reshape(-1, 3).sum(axis=1, dtype=np.int32)
    paper = float(np.percentile(inside, 90)) / 3.0
    spread = ring.max(axis=1) - ring.min(axis=1)  # uint8: max >= min, no wrap-around
    paper_like = (ring.sum(axis=1, dtype=np.int32) > 2.4 * paper) & (spread < 40)
    return float(np.mean(paper_like)) < BACKGROUND_MAX_PAPER
