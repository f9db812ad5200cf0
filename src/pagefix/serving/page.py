"""The web page of `pagefix serve`: one HTML page with its script and style, shipped as package data
and served under a strict Content-Security-Policy. The page is a client of `POST
/document-preprocessing` like any other; the service has no second way to process a file.

    GET /                  the page (Serving.ui; `pagefix serve --no-ui` turns it off)
    GET /ui/<asset>        its script, style and icon
    GET /ui/settings.json  what the page needs to know of the server (stages, defaults, limits)
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from fastapi import FastAPI
from starlette.responses import Response

from ..pipeline.settings import MAX_KEEP_MARGIN, PipelineConfig
from .responses import ServiceError
from .settings import ServingSettings

__all__ = ["CONTENT_SECURITY_POLICY", "UI_ASSETS", "UI_PREFIX", "add_web_page"]

#: Every file of the page lives under this path, so a key check can leave them all open (issue 21).
UI_PREFIX = "/ui/"

#: The page's files (package data in pagefix/serving/ui/) and their media types; nothing else is served.
UI_ASSETS: dict[str, str] = {
    "index.html": "text/html; charset=utf-8",
    "app.js": "text/javascript; charset=utf-8",
    "pdf.js": "text/javascript; charset=utf-8",
    "app.css": "text/css; charset=utf-8",
    "icon.svg": "image/svg+xml",
}

#: Scripts and styles from this origin only, never inline or evaluated; images also from the
#: blob: URLs the page makes of the service's answers; no frames, plugins or form posts.
CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' blob: data:",
    "connect-src 'self'",
    "font-src 'none'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'none'",
])

_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    # Small files that change with the installed version: revalidated rather than kept stale.
    "Cache-Control": "no-cache",
}


def add_web_page(app: FastAPI, settings: ServingSettings, config: PipelineConfig) -> None:
    """Add the page's routes to `app` (the assets are read once, here)."""
    assets = {name: _read_asset(name) for name in UI_ASSETS}
    page_settings = json.dumps(_page_settings(settings, config)).encode()

    def asset(name: str) -> Response:
        return Response(assets[name], media_type=UI_ASSETS[name], headers=_HEADERS)

    @app.api_route("/", methods=["GET", "HEAD"], include_in_schema=False)
    async def index() -> Response:
        return asset("index.html")

    @app.api_route(UI_PREFIX + "settings.json", methods=["GET", "HEAD"], include_in_schema=False)
    async def ui_settings() -> Response:
        return Response(page_settings, media_type="application/json", headers=_HEADERS)

    @app.api_route(UI_PREFIX + "{name}", methods=["GET", "HEAD"], include_in_schema=False)
    async def ui_asset(name: str) -> Response:
        if name not in assets:
            raise ServiceError(404, "Not Found")
        return asset(name)


def _read_asset(name: str) -> bytes:
    return (resources.files(__package__) / "ui" / name).read_bytes()


def _page_settings(settings: ServingSettings, config: PipelineConfig) -> dict[str, Any]:
    """The stages the server has and the defaults of the switches the page shows, so it offers only
    what a request may ask for; and the limits it can check before sending a file."""
    return {
        "useDocOrientationClassify": bool(config.use_doc_orientation_classify),
        "useDocUnwarping": bool(config.use_doc_unwarping),
        "skipFlatPages": bool(config.skip_flat_pages),
        "keepMargin": float(config.keep_margin),
        "maxKeepMargin": MAX_KEEP_MARGIN,
        "maxRequestBytes": settings.max_request_bytes,
        "maxPages": settings.max_num_input_imgs,
    }
