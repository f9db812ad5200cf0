"""`pagefix serve`: the reference's HTTP API on FastAPI + uvicorn (the `server` extra).

Importing this package needs nothing beyond the base install; `create_app` and `ServingSettings`
import the server extra when first used.

Internal: these modules may change between releases; the public API is what `pagefix`
exports (`pagefix.__all__`); the service's own interface is `pagefix serve` and its HTTP API.
"""

from __future__ import annotations

from typing import Any

__all__ = ["ServingSettings", "create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from .app import create_app

        return create_app
    if name == "ServingSettings":
        from .settings import ServingSettings

        return ServingSettings
    raise AttributeError(name)
