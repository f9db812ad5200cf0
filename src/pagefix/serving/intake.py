"""The door of the inference endpoint, before the framework sees a byte of the body: refuse when the
pool is full or the server is stopping (503 + Retry-After), then read the body under a byte cap
and a deadline (413, 408), then hand the buffered body to the app.

Admission comes first so that a flood of requests is refused without keeping their bodies (a shed
client gets its 503 at once; what it still sends is read and dropped, within bounds, so that the
close does not turn into a reset); the framework's own body limit runs inside the app, after that
point, so it cannot do this.
"""

from __future__ import annotations

import asyncio

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .metrics import ServiceMetrics
from .responses import error_response, log_id_of
from .settings import ServingSettings
from .workers import InferencePool, Ticket

__all__ = ["INFER_PATH", "IntakeMiddleware", "ticket_of"]

INFER_PATH = "/document-preprocessing"
# An oversized body is read on (and dropped) up to this much, so the client, still sending, can
# read the 413 instead of a reset connection; bigger declared bodies are refused at once.
_DRAIN_BYTES = 16 * 1024 * 1024
# How long a shed client's body is read (and dropped) after its 503 went out: a client uploading
# at 1 MB/s finishes a 10 MB body in it; one slower than that may see a reset after its 503.
_SHED_DRAIN_SECONDS = 10.0


def ticket_of(scope: Scope) -> Ticket | None:
    """The pool place the intake reserved for this request."""
    return scope.get("state", {}).get("pagefix_ticket")


class IntakeMiddleware:
    def __init__(self, app: ASGIApp, pool: InferencePool, settings: ServingSettings, metrics: ServiceMetrics) -> None:
        self.app = app
        self.pool = pool
        self.settings = settings
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        log_id = log_id_of(scope)
        if scope["path"] != INFER_PATH or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        ticket = self.pool.try_admit()
        if ticket is None:
            self.metrics.shed.inc()
            reason = "server is shutting down" if self.pool.closed else "server is busy: too many requests queued"
            await self._shed(scope, receive, send, log_id, reason)
            return
        try:
            body = await self._read_body(scope, receive, send, log_id)
            if body is None:
                return
            scope["state"]["pagefix_ticket"] = ticket
            await self.app(scope, _replay(body, receive), send)
        finally:
            if not ticket.submitted:
                ticket.release()

    async def _shed(self, scope: Scope, receive: Receive, send: Send, log_id: str, reason: str) -> None:
        """Answer 503 at once, then read and drop what is left of the body (bounded) before the
        answer ends and the connection closes. Closing with unread bytes would reset the
        connection, and a client still uploading would see the reset, not the 503."""
        answer = error_response(log_id, 503, f"Service unavailable: {reason}; retry later",
                                {"Retry-After": str(self.settings.retry_after), "Connection": "close"})
        await send({"type": "http.response.start", "status": answer.status_code, "headers": answer.raw_headers})
        # Sent whole (Content-Length is in the headers): a client that reads while it sends has it now.
        await send({"type": "http.response.body", "body": answer.body, "more_body": True})
        declared = _content_length(scope)
        if declared is None or 0 <= declared <= self.settings.max_request_bytes + _DRAIN_BYTES:
            await self._drain(receive, self.settings.max_request_bytes + _DRAIN_BYTES)
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def _drain(self, receive: Receive, cap: int) -> None:
        """Read and drop the body until it ends, the client leaves, `cap` bytes or `_SHED_DRAIN_SECONDS`."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + min(self.settings.body_timeout, _SHED_DRAIN_SECONDS)
        size = 0
        while size <= cap:
            try:
                message = await asyncio.wait_for(receive(), max(0.0, deadline - loop.time()))
            except asyncio.TimeoutError:
                return
            if message["type"] == "http.disconnect" or not message.get("more_body", False):
                return
            size += len(message.get("body", b""))

    async def _read_body(self, scope: Scope, receive: Receive, send: Send, log_id: str) -> bytes | None:
        """The whole body, or None after answering (413, 408, 400) or when the client left."""
        cap = self.settings.max_request_bytes
        declared = _content_length(scope)
        # The rest of an unread body cannot be told from the next request: these answers close.
        close = {"Connection": "close"}
        too_large = error_response(log_id, 413, f"Request body is larger than the limit of {cap} bytes "
                                   "(Serving.max_request_bytes)", close)
        if declared == -1:
            await error_response(log_id, 400, "Invalid Content-Length header", close)(scope, receive, send)
            return None
        if declared is not None and declared > cap + _DRAIN_BYTES:
            await too_large(scope, receive, send)
            return None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.settings.body_timeout
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            try:
                message = await asyncio.wait_for(receive(), max(0.0, deadline - loop.time()))
            except asyncio.TimeoutError:
                await error_response(log_id, 408, f"Request body not received within {self.settings.body_timeout:g} s "
                                     "(Serving.body_timeout)", close)(scope, receive, send)
                return None
            if message["type"] == "http.disconnect":
                return None
            chunk = message.get("body", b"")
            size += len(chunk)
            more = bool(message.get("more_body", False))
            if size <= cap:
                chunks.append(chunk)
            elif size > cap + _DRAIN_BYTES:
                break
            else:
                chunks.clear()  # over the cap: keep reading only to let the client finish sending
        if size > cap:
            await too_large(scope, receive, send)
            return None
        return b"".join(chunks)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", ()):
        if name == b"content-length":
            text = value.decode("latin-1").strip()
            return int(text) if text.isdigit() else -1
    return None


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed
