"""Run an app under uvicorn with a graceful stop: on SIGTERM or Ctrl-C the pool stops admitting
(new requests get 503), uvicorn stops listening, requests in flight are answered, then the
workers end and the process exits with status 0."""

from __future__ import annotations

import logging
import signal
from types import FrameType

import uvicorn
from fastapi import FastAPI

from .workers import InferencePool

__all__ = ["GracefulServer", "serve"]

logger = logging.getLogger(__name__)


class GracefulServer(uvicorn.Server):
    def __init__(self, config: uvicorn.Config, pool: InferencePool) -> None:
        super().__init__(config)
        self.pool = pool

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if not self.should_exit:
            logger.info("stopping: finishing %d request(s) in flight, refusing new ones", self.pool.admitted)
        self.pool.close()
        super().handle_exit(sig, frame)


def server_for(app: FastAPI, host: str, port: int, log_level: str = "info") -> GracefulServer:
    settings = app.state.settings
    config = uvicorn.Config(
        app, host=host, port=port, log_level=log_level, lifespan="on",
        # In-flight requests may take up to their own timeout; past that uvicorn cancels them.
        timeout_graceful_shutdown=int(settings.request_timeout + settings.body_timeout) + 5,
    )
    return GracefulServer(config, app.state.pool)


def serve(app: FastAPI, host: str, port: int, log_level: str = "info") -> None:
    """Serve until SIGTERM/SIGINT; return after a graceful stop."""
    server = server_for(app, host, port, log_level)
    # uvicorn re-raises the signal it stopped for once it has restored the previous handlers;
    # with these no-op handlers in place that ends here, and the command exits with status 0.
    previous = {sig: signal.signal(sig, _ignore) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        server.run()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _ignore(sig: int, frame: FrameType | None) -> None:
    return None
