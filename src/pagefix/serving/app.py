"""The FastAPI app of `pagefix serve`: the reference's API (docs/http.md) on one shared pipeline.

    app = create_app()                          # loads the models once, here
    app = create_app(pipeline, config="pipeline.yaml")

Every answer other than 200 is `{logId, errorCode, errorMsg}` with errorCode == HTTP status; a
server-side failure says only "Internal server error" and logs the detail under the logId.

The middleware, outermost first: metrics (counts every answer), CORS (only with
`Serving.cors_origins`), API keys (only when keys are configured; auth.py), intake (admission
and the body; intake.py).
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import Response

from ..errors import FetchError, PagefixError
from ..pipeline.settings import load_config
from .auth import PUBLIC_PATHS, ApiKeyMiddleware, ApiKeys
from .body import parse_infer_request
from .inference import Job, PagePipeline, answer_json
from .intake import INFER_PATH, IntakeMiddleware, ticket_of
from .metrics import CONTENT_TYPE_LATEST, MetricsMiddleware, ServiceMetrics
from .page import add_web_page
from .responses import ServiceError, error_response, log_id_of
from .schemas import InferRequest, InferResponse, NoResultResponse, ReadyResponse
from .settings import ServingSettings
from .workers import InferencePool, JobCancelled

__all__ = ["create_app"]

logger = logging.getLogger(__name__)

_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": NoResultResponse, "description": text}
    for status, text in {
        400: "The request body cannot be read (bad Content-Length, nesting too deep).",
        401: "No API key, or one not accepted, while the server requires one (see WWW-Authenticate).",
        408: "The request body was not received in time (Serving.body_timeout).",
        413: "The request body is over Serving.max_request_bytes, or its pages over Serving.max_request_pixels.",
        422: "The body does not match the schema, or the file cannot be used (named in errorMsg).",
        500: "Internal server error (details in the server log under the logId).",
        503: "Too many requests queued, or the server is stopping; see Retry-After.",
        504: "The request took longer than Serving.request_timeout.",
    }.items()
}


def create_app(
    pipeline: PagePipeline | None = None,
    config: str | os.PathLike[str] | dict[str, Any] | None = None,
    *,
    settings: ServingSettings | None = None,
    **pipeline_kwargs: Any,
) -> FastAPI:
    """Build the app. Without `pipeline`, a `DocPreprocessor(paddlex_config=config, **pipeline_kwargs)`
    is built now, so its models load once, before the first request. The `Serving:` section of
    `config` (or of the pipeline's own config) gives the settings unless `settings` is passed.
    API keys come from `settings.api_keys_file` and the `PAGEFIX_API_KEYS` variable; with neither,
    every request is answered without a key."""
    if pipeline is None:
        from ..pipeline.preprocessor import DocPreprocessor

        pipeline = DocPreprocessor(paddlex_config=config, **pipeline_kwargs)
    if settings is None:
        serving = pipeline.config.serving if config is None else load_config(config).serving
        settings = ServingSettings.from_config(serving)
    limits = settings.input_limits(pipeline.limits)
    pool = InferencePool(settings.workers, settings.max_queue)
    metrics = ServiceMetrics(admitted=lambda: pool.admitted, running=lambda: pool.running)
    api_keys = ApiKeys.from_sources(settings.api_keys_file)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        # The server has stopped taking requests and answered those in flight; end the workers.
        await asyncio.get_running_loop().run_in_executor(None, pool.shutdown)

    app = FastAPI(
        title="pagefix document preprocessing",
        description="Orientation correction and unwarping of document images and PDFs; the "
        "`POST /document-preprocessing` API of the PaddleOCR doc_preprocessor service.",
        lifespan=lifespan,
        # The browsable pages load their scripts from a CDN; the schema itself is served.
        docs_url=None,
        redoc_url=None,
    )
    app.state.pipeline = pipeline
    app.state.settings = settings
    app.state.limits = limits
    app.state.pool = pool
    app.state.metrics = metrics
    app.state.api_keys = api_keys
    # Start-up warnings that /ready reports; the server sets them once it knows its address (server.py).
    app.state.warnings = []
    # Added innermost first.
    app.add_middleware(IntakeMiddleware, pool=pool, settings=settings, metrics=metrics)
    if api_keys is not None:
        public = PUBLIC_PATHS | {"/metrics"} if settings.metrics_public else PUBLIC_PATHS
        app.add_middleware(ApiKeyMiddleware, keys=api_keys, metrics=metrics, public_paths=public,
                           max_body=settings.max_request_bytes, body_timeout=settings.body_timeout)
        logger.info("API keys required: %d key(s) (%s)", len(api_keys), ", ".join(api_keys.ids))
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware, allow_origins=list(settings.cors_origins), allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "X-API-Key", "Content-Type"],
            expose_headers=["Retry-After", "WWW-Authenticate"],
        )
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    _add_exception_handlers(app)
    config_stages = {
        "use_doc_orientation_classify": bool(pipeline.config.use_doc_orientation_classify),
        "use_doc_unwarping": bool(pipeline.config.use_doc_unwarping),
    }

    @app.get("/health", operation_id="health", response_model=NoResultResponse, tags=["service"])
    async def health(request: Request) -> NoResultResponse:
        """The server is up (the reference's health check)."""
        return NoResultResponse(logId=log_id_of(request), errorCode=0, errorMsg="Healthy")

    @app.get("/ready", operation_id="ready", response_model=ReadyResponse, tags=["service"],
             responses={503: {"model": NoResultResponse, "description": "Stopping: not taking requests."}})
    async def ready(request: Request) -> ReadyResponse:
        """Models are loaded and requests are taken (503 while stopping); `warnings` lists what the
        operator should know, such as serving a network without an API key."""
        if pool.closed:
            raise ServiceError(503, "Service unavailable: server is shutting down")
        return ReadyResponse(logId=log_id_of(request), errorCode=0, errorMsg="Ready",
                             warnings=list(app.state.warnings))

    @app.get("/metrics", include_in_schema=False)
    async def prometheus_metrics() -> Response:
        return Response(metrics.render(), media_type=CONTENT_TYPE_LATEST)

    @app.post(INFER_PATH, operation_id="infer", response_model=InferResponse,
              response_model_exclude_none=True, responses=_ERRORS, tags=["document preprocessing"],
              openapi_extra=_REQUEST_BODY)
    async def infer(request: Request) -> Response:
        """Turn the pages of an image or PDF upright and flat."""
        log_id = log_id_of(request)
        # The intake has buffered the body; it is parsed on a worker thread (see serving/body.py).
        body = await run_in_threadpool(parse_infer_request, await request.body(), request.headers.get("content-type"))
        ticket = ticket_of(request.scope)
        if ticket is None:  # the intake always reserves one; without it the app is misassembled
            raise RuntimeError("request reached the endpoint without a pool place")
        model_settings = _model_settings(body, config_stages)
        visualize = settings.visualize if body.visualize is None else body.visualize
        job = Job(body, model_settings, visualize)
        try:
            answer = await pool.run(ticket, settings.request_timeout, answer_json, log_id, job, pipeline, settings,
                                    limits, ticket.check, metrics.pages.inc)
        except asyncio.TimeoutError:
            raise ServiceError(504, f"Request took longer than {settings.request_timeout:g} s "
                               "(Serving.request_timeout)") from None
        except (PagefixError, ServiceError, JobCancelled):  # answered by the handlers below
            raise
        except Exception as exc:  # noqa: BLE001 - a bug or a model failure: logged, never shown
            return _internal_error(log_id, request, exc)
        return Response(answer, media_type="application/json")

    if settings.ui:
        add_web_page(app, settings, pipeline.config)
    _document_request_body(app)
    return app


# The endpoint reads its body itself (off the event loop), so FastAPI is told what it is.
_REQUEST_BODY = {
    "requestBody": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/InferRequest"}}},
                    "required": True},
}


def _document_request_body(app: FastAPI) -> None:
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = generate()
            model = InferRequest.model_json_schema(ref_template="#/components/schemas/{model}")
            for field in model.get("properties", {}).values():
                if "default" in field and field["default"] is None:
                    del field["default"]  # as FastAPI writes the schema of a body model
            schema.setdefault("components", {}).setdefault("schemas", {})["InferRequest"] = model
        return app.openapi_schema  # type: ignore[return-value]

    app.openapi = openapi  # type: ignore[method-assign]


def _model_settings(body: InferRequest, available: dict[str, bool]) -> dict[str, Any]:
    """The request's per-call settings (None: the pipeline's own), from the settings table."""
    asked = body.pipeline_settings()
    for key, loaded in available.items():
        # A stage whose model the server did not load cannot be switched on by a request.
        if asked.get(key) and not loaded:
            raise ServiceError(422, f"{body.field_of(key)} is not available: the server was started with {key} False")
    return asked


def _add_exception_handlers(app: FastAPI) -> None:
    @app.exception_handler(ServiceError)
    async def service_error(request: Request, exc: ServiceError) -> Response:
        return error_response(log_id_of(request), exc.status, exc.message, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid_body(request: Request, exc: RequestValidationError) -> Response:
        return error_response(log_id_of(request), 422, _validation_message(exc))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        return error_response(log_id_of(request), exc.status_code, str(exc.detail), exc.headers)

    @app.exception_handler(PagefixError)
    async def pagefix_error(request: Request, exc: PagefixError) -> Response:
        if exc.http_status >= 500:
            return _internal_error(log_id_of(request), request, exc)
        return error_response(log_id_of(request), exc.http_status, _input_message(exc))

    @app.exception_handler(JobCancelled)
    async def cancelled(request: Request, exc: JobCancelled) -> Response:  # raced with the timeout
        return error_response(log_id_of(request), 504, "Request took too long (Serving.request_timeout)")

    @app.exception_handler(Exception)
    async def internal_error(request: Request, exc: Exception) -> Response:
        return _internal_error(log_id_of(request), request, exc)


def _internal_error(log_id: str, request: Request, exc: BaseException) -> Response:
    logger.error("logId %s: internal error on %s %s", log_id, request.method, request.url.path,
                 exc_info=(type(exc), exc, exc.__traceback__))
    return error_response(log_id, 500, "Internal server error")


def _input_message(exc: PagefixError) -> str:
    if isinstance(exc, FetchError) and exc.reason == "blocked_address":
        # The resolved address of a name is kept in the server log only: it maps the private network.
        logger.info("URL refused: %s", exc)
        return "could not fetch file: the address is not allowed (loopback, private, link-local or reserved)"
    return str(exc)


def _validation_message(exc: RequestValidationError) -> str:
    """'file: Field required; fileType: Input should be 0 or 1' (never the rejected values)."""
    parts = []
    for error in exc.errors()[:10]:
        loc = [str(p) for p in error.get("loc", ()) if p != "body"]
        where = ".".join(loc) or "request body"
        message = str(error.get("msg", "invalid"))
        if error.get("type") == "json_invalid":
            message = f"not valid JSON ({error.get('ctx', {}).get('error', 'decode error')})"
            where = "request body"
        parts.append(f"{where}: {message}")
    return "; ".join(parts) or "invalid request"

