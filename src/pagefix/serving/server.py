"""Run an app under uvicorn with a graceful stop: on SIGTERM or Ctrl-C the pool stops admitting
(new requests get 503), uvicorn stops listening, requests in flight are answered, then the
workers end and the process exits with status 0. SIGHUP reads the API keys file again.
At start-up a server reachable from other machines without an API key warns, once."""

from __future__ import annotations

import logging
import signal
from types import FrameType

import uvicorn
from fastapi import FastAPI

from .auth import exposure_warning
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
    warning = exposure_warning(host, app.state.api_keys, settings.allow_anonymous)
    app.state.warnings = [warning] if warning else []
    if warning:
        logger.warning("%s", warning)
    config = uvicorn.Config(
        app, host=host, port=port, log_level=log_level, lifespan="on",
        # In-flight requests may take up to their own timeout; past that uvicorn cancels them.
        timeout_graceful_shutdown=int(settings.request_timeout + settings.body_timeout) + 5,
    )
    return GracefulServer(config, app.state.pool)


def serve(app: FastAPI, host: str, port: int, log_level: str = "info") -> None:
    """Serve until SIGTERM/SIGINT; return after a graceful stop. With an API keys file, SIGHUP
    reloads it (otherwise SIGHUP keeps its default action)."""
    server = server_for(app, host, port, log_level)
    # uvicorn re-raises the signal it stopped for once it has restored the previous handlers;
    # with these no-op handlers in place that ends here, and the command exits with status 0.
    previous = {sig: signal.signal(sig, _ignore) for sig in (signal.SIGTERM, signal.SIGINT)}
    keys = app.state.api_keys
    if keys is not None and keys.file is not None and hasattr(signal, "SIGHUP"):
        # Python runs the handler in the main thread (the event loop's) between two bytecodes; the
        # reload swaps one tuple, so a request being checked sees the old keys or the new ones.
        previous[signal.SIGHUP] = signal.signal(signal.SIGHUP, lambda sig, frame: keys.reload())
    try:
        server.run()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _ignore(sig: int, frame: FrameType | None) -> None:
    return None
