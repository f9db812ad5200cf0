"""Servers for the HTTP tests: the real app under uvicorn on 127.0.0.1 (a free port, a thread),
talked to over real HTTP; plus inputs built in code from a rendered page."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from PIL import Image

pytest.importorskip("fastapi")

from support.pages import PageLibrary, rgb  # noqa: E402
from support.serving import encode, running  # noqa: E402

from pagefix.serving import create_app  # noqa: E402
from pagefix.serving.settings import ServingSettings  # noqa: E402


@pytest.fixture(scope="session")
def page_image(pages: PageLibrary) -> Image.Image:
    """An upright rendered text page at the size of a scanned article page (596x794)."""
    return rgb(pages.scan).resize((596, 794), Image.Resampling.LANCZOS)


@pytest.fixture(scope="session")
def page_jpeg(page_image: Image.Image) -> bytes:
    return encode(page_image)


@pytest.fixture(scope="session")
def make_pdf(page_image: Image.Image):  # type: ignore[no-untyped-def]
    """`make_pdf(n)`: an n-page PDF of the real page at 72 DPI, each page rendered 2x by the service."""
    small = page_image.resize((298, 397))

    def build(n: int) -> bytes:
        pages = [small.rotate(0 if i % 2 == 0 else 180) for i in range(n)]
        return encode(pages[0], "PDF", save_all=True, append_images=pages[1:], resolution=72)

    return build


@pytest.fixture(scope="module")
def server(pipeline) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """The real pipeline with the service's defaults, allowed to fetch from 127.0.0.1."""
    settings = ServingSettings(allowed_hosts=("127.0.0.1",))
    with running(create_app(pipeline, settings=settings)) as url:
        yield url


@pytest.fixture(scope="module")
def client(server: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server, timeout=120) as client:
        yield client
