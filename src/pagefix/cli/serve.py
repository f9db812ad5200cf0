"""`pagefix serve`: the HTTP service on the command line. Importing this module needs only the
base install, so `pagefix --help` works without the server extra."""

from __future__ import annotations

import argparse
import logging
from typing import Any

__all__ = ["register", "run"]

logger = logging.getLogger("pagefix")

_EXTRA_HINT = 'the HTTP service needs the server extra: pip install "pagefix[server]"'


def register(subparsers: Any) -> None:
    from .flags import add_pipeline_arguments

    parser = subparsers.add_parser(
        "serve", help="run the HTTP service (POST /document-preprocessing)",
        description="Serve the reference's document-preprocessing API. Limits and defaults come from the "
        "Serving and Limits sections of the configuration; the flags below override them.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8080, help="port to listen on (default: 8080)")
    parser.add_argument("--config", metavar="YAML",
                        help="pipeline configuration with Serving/Limits sections (same as --paddlex_config)")
    parser.add_argument("--workers", type=int, metavar="N",
                        help="inference threads sharing the models (default: Serving.workers, 2)")
    parser.add_argument("--max_queue", type=int, metavar="N",
                        help="requests waiting for a worker before 503 (default: Serving.max_queue, 8)")
    parser.add_argument("--request_timeout", type=float, metavar="SECONDS",
                        help="answer 504 after this long (default: Serving.request_timeout, 120)")
    parser.add_argument("--allow_host", action="append", metavar="HOST",
                        help="host, address or CIDR network URL inputs may reach even if private; repeatable")
    access = parser.add_argument_group(
        "access", "API keys: one a line in --api_keys_file (reloaded on SIGHUP) and/or comma-separated in "
        "PAGEFIX_API_KEYS; with any key, requests need 'Authorization: Bearer <key>' or 'X-API-Key: <key>' "
        "(GET /health and /ready excepted)")
    access.add_argument("--api_keys_file", metavar="FILE",
                        help="file of API keys, one a line, # comments (default: Serving.api_keys_file)")
    access.add_argument("--metrics_public", action="store_true", default=None,
                        help="let GET /metrics answer without a key")
    access.add_argument("--allow_anonymous", action="store_true", default=None,
                        help="serving a network address without a key is on purpose: do not warn")
    access.add_argument("--cors_origin", action="append", metavar="ORIGIN",
                        help="let web pages of this origin (https://host[:port], or *) call the API from a "
                        "browser; repeatable (default: Serving.cors_origins, none)")
    parser.add_argument("--no_ui", dest="no_ui", action="store_true",
                        help="do not serve the web page at / (API only; default: Serving.ui, true)")
    add_pipeline_arguments(parser)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        import fastapi  # noqa: F401
        import prometheus_client  # noqa: F401
        import uvicorn  # noqa: F401
    except ModuleNotFoundError as exc:
        logger.error("%s (missing module %s)", _EXTRA_HINT, exc.name)
        return 2
    from ..pipeline.preprocessor import DocPreprocessor
    from ..pipeline.settings import load_config
    from ..serving.app import create_app
    from ..serving.auth import ApiKeys
    from ..serving.server import serve
    from ..serving.settings import ServingSettings
    from .flags import pipeline_kwargs

    if not (args.quiet or args.verbose):
        logger.setLevel(logging.INFO)
    kwargs = pipeline_kwargs(args)
    file_config = kwargs.pop("paddlex_config")
    if args.config and file_config:
        logger.error("give the configuration once: --config or --paddlex_config")
        return 2
    config = args.config or file_config
    serving = load_config(config).serving
    hosts = origins = None
    if args.allow_host or args.cors_origin:
        base = ServingSettings.from_config(serving)
        if args.allow_host:
            hosts = tuple(dict.fromkeys(base.allowed_hosts + tuple(args.allow_host)))
        if args.cors_origin:
            origins = base.cors_origins + tuple(args.cors_origin)
    settings = ServingSettings.from_config(
        serving, workers=args.workers, max_queue=args.max_queue, request_timeout=args.request_timeout,
        allowed_hosts=hosts, api_keys_file=args.api_keys_file, metrics_public=args.metrics_public,
        allow_anonymous=args.allow_anonymous, cors_origins=origins, ui=False if args.no_ui else None,
    )
    # Keys are read before the models load, so a bad keys file fails at once.
    ApiKeys.from_sources(settings.api_keys_file)
    logger.info("loading models")
    pipeline = DocPreprocessor(paddlex_config=config, **kwargs)
    app = create_app(pipeline, settings=settings)
    logger.info("serving on http://%s:%d with %d worker(s), queue %d", args.host, args.port,
                settings.workers, settings.max_queue)
    if settings.ui:
        logger.info("web page: http://%s:%d/", _url_host(args.host), args.port)
    serve(app, args.host, args.port, log_level="warning" if args.quiet else "info")
    return 0


def _url_host(host: str) -> str:
    """The listening address as a browser is told it: IPv6 in brackets."""
    return f"[{host}]" if ":" in host else host
