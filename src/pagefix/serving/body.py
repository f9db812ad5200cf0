"""The inference request's body, bytes to `InferRequest`, meant to run on a worker thread: parsing
and validating a body of tens of megabytes takes the CPU for a while, and on the event loop it
would stall every other request (health checks included) meanwhile.

A JSON parser holds the GIL while it runs, so a thread alone does not keep the loop free against
a body made of millions of tiny values. Such a body is refused first, from a count of its commas
and brackets (one pass over the bytes in C): this API's body is one object of a few fields.
"""

from __future__ import annotations

import json
from email.message import Message
from typing import Any

from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError

from .responses import ServiceError
from .schemas import InferRequest

__all__ = ["MAX_JSON_SEPARATORS", "parse_infer_request"]

#: Commas, '[' and '{' a request body may hold: the API's object has eight fields, and a URL in
#: `file` is at most `Limits.max_url_length` characters; base64 has none of them.
MAX_JSON_SEPARATORS = 10_000


def parse_infer_request(raw: bytes, content_type: str | None) -> InferRequest:
    """The request model, or `RequestValidationError` (422) / `ServiceError` (400), answered and
    worded as FastAPI's own body handling does."""
    if not raw:
        raise RequestValidationError([{"type": "missing", "loc": ("body",), "msg": "Field required", "input": None}])
    content: Any = raw  # a body that does not say it is JSON is validated as bytes (and refused)
    if _is_json(content_type):
        separators = raw.count(b",") + raw.count(b"[") + raw.count(b"{")
        if separators > MAX_JSON_SEPARATORS:
            raise ServiceError(400, f"There was an error parsing the body: {separators} JSON values or nesting "
                               f"levels, more than the {MAX_JSON_SEPARATORS} a request of this API can hold")
        try:
            content = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise RequestValidationError([{"type": "json_invalid", "loc": ("body", exc.pos), "msg": "JSON decode error",
                                           "input": {}, "ctx": {"error": exc.msg}}]) from None
        except (ValueError, RecursionError):  # not UTF-8, nested too deep, an integer of 5000 digits
            raise ServiceError(400, "There was an error parsing the body") from None
    try:
        return InferRequest.model_validate(content, from_attributes=True)
    except ValidationError as exc:
        raise RequestValidationError(exc.errors(include_url=False, include_input=False)) from None


def _is_json(content_type: str | None) -> bool:
    if not content_type:
        return False
    message = Message()
    message["content-type"] = content_type
    if message.get_content_maintype() != "application":
        return False
    subtype = message.get_content_subtype()
    return subtype == "json" or subtype.endswith("+json")
