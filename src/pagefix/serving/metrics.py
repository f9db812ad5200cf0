"""Prometheus metrics of one app (its own registry, so several apps can live in one process) and the
ASGI middleware that counts every request, whatever answered it."""

from __future__ import annotations

import time
from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["CONTENT_TYPE_LATEST", "MetricsMiddleware", "ServiceMetrics"]

#: Paths reported by name; anything else is "other", so a scanner cannot grow the label set.
KNOWN_PATHS = frozenset({"/document-preprocessing", "/health", "/ready", "/metrics", "/openapi.json"})


class ServiceMetrics:
    def __init__(self, admitted: Callable[[], float], running: Callable[[], float]) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "pagefix_http_requests", "HTTP requests answered, by path and status code.",
            ["path", "status"], registry=self.registry,
        )
        self.errors = Counter(
            "pagefix_http_errors", "HTTP requests answered with an error, by errorCode (= status).",
            ["code"], registry=self.registry,
        )
        self.latency = Histogram(
            "pagefix_http_request_duration_seconds", "Time from request start to the end of the answer.",
            ["path"], registry=self.registry,
            buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300),
        )
        self.in_flight = Gauge(
            "pagefix_http_requests_in_flight", "HTTP requests being answered now.", registry=self.registry,
        )
        self.pages = Counter(
            "pagefix_pages_processed", "Pages (images, PDF pages, TIFF frames) run through the pipeline.",
            registry=self.registry,
        )
        self.shed = Counter(
            "pagefix_requests_shed", "Requests refused with 503 because the queue was full or the server stopping.",
            registry=self.registry,
        )
        self.unauthorized = Counter(
            "pagefix_requests_unauthorized", "Requests refused with 401: API key missing or not accepted.",
            ["reason"], registry=self.registry,
        )
        for reason in ("missing", "invalid"):  # shown at 0 from the start, so a rate can be taken
            self.unauthorized.labels(reason)
        admitted_gauge = Gauge(
            "pagefix_jobs_admitted", "Requests holding a place in the worker pool (running or queued).",
            registry=self.registry,
        )
        admitted_gauge.set_function(admitted)
        running_gauge = Gauge("pagefix_jobs_running", "Requests running on a worker.", registry=self.registry)
        running_gauge.set_function(running)

    def render(self) -> bytes:
        return generate_latest(self.registry)


class MetricsMiddleware:
    def __init__(self, app: ASGIApp, metrics: ServiceMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"] if scope["path"] in KNOWN_PATHS else "other"
        status = 500  # what the client gets if the app fails before answering
        started = time.perf_counter()

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        self.metrics.in_flight.inc()
        try:
            await self.app(scope, receive, send_status)
        finally:
            self.metrics.in_flight.dec()
            self.metrics.latency.labels(path).observe(time.perf_counter() - started)
            self.metrics.requests.labels(path, str(status)).inc()
            if status >= 400:
                self.metrics.errors.labels(str(status)).inc()
