"""The error envelope `{logId, errorCode, errorMsg}` (errorCode == HTTP status), built the same way
by the middleware and by the app's exception handlers."""

from __future__ import annotations

import uuid
from collections.abc import Mapping

from starlette.requests import HTTPConnection
from starlette.responses import Response
from starlette.types import Scope

from .schemas import NoResultResponse

__all__ = ["ServiceError", "error_response", "log_id_of"]


class ServiceError(Exception):
    """An answer other than 200 decided by the service itself (shedding, timeouts, bad input)."""

    def __init__(self, status: int, message: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = dict(headers or {})


def log_id_of(scope: Scope | HTTPConnection) -> str:
    """The request's logId: made once per request and kept in the ASGI scope's state."""
    if isinstance(scope, HTTPConnection):
        scope = scope.scope
    state = scope.setdefault("state", {})
    if "log_id" not in state:
        state["log_id"] = str(uuid.uuid4())
    return state["log_id"]


def error_response(log_id: str, status: int, message: str, headers: Mapping[str, str] | None = None) -> Response:
    body = NoResultResponse(logId=log_id, errorCode=status, errorMsg=message).model_dump_json()
    return Response(body, status_code=status, media_type="application/json", headers=dict(headers or {}))
