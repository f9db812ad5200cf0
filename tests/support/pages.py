"""Test pages made by the project's own code, and the one page reader of the tests.

- `text_page`: an upright page rendered by `pagefix.train.synthetic.render_page` (Latin, Pillow's
  built-in font; layouts "text", "receipt", "table", "columns"), flat like a scan.
- `curled_photo`: a page bent like an open book and photographed at a slant on a dark table, by
  `examples/make_example.py` (the bundled example without its final quarter turn).
- `turned`, `write_exif_sideways`, `write_pdf`: the same pages turned, stored sideways with an EXIF
  Orientation tag, or bound into a PDF.
- `fixture_file`: the small real pages of tests/fixtures (their sources and licences are in
  tests/fixtures/manifest.csv).

`PageLibrary` makes each of these once per session on first use (tests/conftest.py's `pages`).
"""

from __future__ import annotations

import importlib.util
from functools import cache, cached_property
from pathlib import Path
from types import ModuleType

import cv2
import numpy as np
from PIL import Image

from pagefix.inputs import Page, iter_pages
from pagefix.train.synthetic import render_page, word_source

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures"
_TURNS = {90: cv2.ROTATE_90_CLOCKWISE, 180: cv2.ROTATE_180, 270: cv2.ROTATE_90_COUNTERCLOCKWISE}


def read_page(path: str | Path) -> np.ndarray:
    """The first page of a file as the pipeline decodes it (BGR, EXIF turn applied)."""
    page = next(iter(iter_pages(str(path))))
    if not isinstance(page, Page):
        raise AssertionError(f"cannot decode {path}: {page.message}")
    return page.image


def fixture_file(name: str) -> Path:
    path = FIXTURES / name
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing (see tests/fixtures/manifest.csv)")
    return path


def turned(image: np.ndarray, angle: int) -> np.ndarray:
    """The page with its content turned `angle` degrees clockwise (the label convention)."""
    return image if angle % 360 == 0 else cv2.rotate(image, _TURNS[angle % 360])


def text_page(seed: int = 0, layout: str = "text", align: str | None = "ragged") -> np.ndarray:
    rng = np.random.default_rng(seed)
    return render_page(word_source("latin", rng), [None], False, rng, layout=layout, align=align)


@cache
def _example_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_example", REPO / "examples" / "make_example.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def curled_photo(page: np.ndarray | None = None) -> np.ndarray:
    """`page` (default: the bundled example's page) curled and photographed, upright (1500x2000)."""
    example = _example_module()
    return example.curl_and_photograph(example.render_page() if page is None else page)


def rgb(image: np.ndarray) -> Image.Image:
    return Image.fromarray(np.ascontiguousarray(image[:, :, ::-1]))


def write_exif_sideways(path: Path, upright: np.ndarray, quality: int = 92) -> Path:
    """Stored turned 90 degrees counter-clockwise with EXIF Orientation=6: shown upright."""
    exif = Image.Exif()
    exif[0x0112] = 6  # the viewer turns the stored pixels 90 degrees clockwise
    rgb(cv2.rotate(upright, cv2.ROTATE_90_COUNTERCLOCKWISE)).save(path, quality=quality, exif=exif)
    return path


def write_pdf(path: Path, pages: list[np.ndarray], resolution: float = 144.0) -> Path:
    """A PDF of the pages; at 144 DPI the pipeline (scale 2) renders them back at their pixel size."""
    first, *rest = [rgb(p) for p in pages]
    first.save(path, "PDF", save_all=True, append_images=rest, resolution=resolution)
    return path


def write_jpeg(path: Path, image: np.ndarray, quality: int = 92) -> Path:
    if not cv2.imwrite(str(path), image, [cv2.IMWRITE_JPEG_QUALITY, quality]):
        raise OSError(f"cannot write {path}")
    return path


def write_png(path: Path, image: np.ndarray) -> Path:
    if not cv2.imwrite(str(path), image):
        raise OSError(f"cannot write {path}")
    return path


class PageLibrary:
    """The generated pages, made on first use and written under `folder`; read-only for tests
    (copy a file before changing it)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    # Flat pages, as a scanner or a renderer gives them.
    @cached_property
    def scan(self) -> np.ndarray:
        """Running text, 1240x1633."""
        return text_page(0, "text")

    @cached_property
    def scan_jpeg(self) -> Path:
        return write_jpeg(self.folder / "scan.jpg", self.scan)

    @cached_property
    def table(self) -> np.ndarray:
        return text_page(1, "table")

    @cached_property
    def table_png(self) -> Path:
        return write_png(self.folder / "table.png", self.table)

    @cached_property
    def receipt(self) -> np.ndarray:
        """A narrow slip, 444x902."""
        return text_page(0, "receipt")

    @cached_property
    def receipt_jpeg(self) -> Path:
        return write_jpeg(self.folder / "receipt.jpg", self.receipt)

    # Warped photos.
    @cached_property
    def curled(self) -> np.ndarray:
        """The bundled example's page, curled and photographed, upright (1500x2000)."""
        return curled_photo()

    @cached_property
    def curled_jpeg(self) -> Path:
        return write_jpeg(self.folder / "curled.jpg", self.curled)

    @cached_property
    def curled_crop(self) -> np.ndarray:
        """The curled photo cropped to the page, as the DocUNet benchmark crops its photos: the
        page reaches the edges of the picture (1180x1700)."""
        return np.ascontiguousarray(self.curled[150:1850, 160:1340])

    @cached_property
    def curled_columns(self) -> tuple[np.ndarray, np.ndarray]:
        """(photo, flat original): a two-column page, curled and photographed."""
        flat = text_page(2, "columns")
        return curled_photo(flat), flat

    @cached_property
    def curled_receipt(self) -> tuple[np.ndarray, np.ndarray]:
        """(photo, flat original): the receipt, enlarged to a page's height, curled and photographed."""
        flat = cv2.resize(self.receipt, None, fx=1.8, fy=1.8, interpolation=cv2.INTER_CUBIC)
        return curled_photo(flat), flat

    # Stored sideways, and documents.
    @cached_property
    def exif_sideways_jpeg(self) -> Path:
        return write_exif_sideways(self.folder / "sideways.jpg", self.scan)

    @cached_property
    def three_page_pdf(self) -> Path:
        """Three pages (text, table, receipt on a page) at their pixel size, the second turned 90
        degrees clockwise."""
        pages = [self.scan, turned(self.table, 90), text_page(3, "text")]
        return write_pdf(self.folder / "three.pdf", pages)
