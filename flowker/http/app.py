"""The application factory, used by ``flowker serve`` and by the tests."""

from __future__ import annotations

import time

from aiohttp import web
from aiohttp.log import server_logger

from flowker.domain.api_keys import parse_api_keys
from flowker.http.auth_throttle import AuthThrottle
from flowker.http.keys import METRICS_ACCESS, OPENAPI_DOCUMENT, SERVICES, STARTED_AT, Services
from flowker.http.metrics_access import MetricsAccess
from flowker.http.middleware.api_key import api_key_middleware
from flowker.http.middleware.cors import cors_middleware
from flowker.http.middleware.errors import ProtocolLog, errors_middleware
from flowker.http.middleware.expect import with_expect_handler
from flowker.http.middleware.request_head import PARSER_LIMITS, request_head_middleware
from flowker.http.middleware.request_id import request_id_middleware
from flowker.http.middleware.request_metrics import request_metrics_middleware
from flowker.http.middleware.tracing import tracing_middleware
from flowker.http.middleware.transport_security import add_hsts, forwarded_https_middleware
from flowker.http.openapi import openapi_document
from flowker.http.routes import MODULES
from flowker.http.routes.sandbox import add_sandbox_routes
from flowker.settings import Settings


def create_app(
    settings: Settings,
    services: Services,
    api_keys: tuple[str, ...],
    *,
    auth_throttle: AuthThrottle | None = None,
) -> web.Application:
    """The front door: middleware in their one order, then every route table.

    ``api_keys`` are ``FLOWKER_API_KEYS`` entries; ``auth_throttle`` replaces the default slow-down of
    repeated failed authentication (tests make it quick).
    """
    middlewares = [
        request_id_middleware(),
        tracing_middleware(),
        request_metrics_middleware(),
        cors_middleware(allowed_origins=settings.cors_allowed_origins),
        errors_middleware(max_body_bytes=settings.max_body_bytes),
        request_head_middleware(),
    ]
    if settings.production and not settings.tls:
        middlewares.append(forwarded_https_middleware(trusted_proxies=settings.trusted_proxies))
    middlewares.append(
        api_key_middleware(
            keys=parse_api_keys(api_keys), throttle=auth_throttle, on_rejected=services.audit.rejected_key
        )
    )
    app = web.Application(
        middlewares=middlewares,
        client_max_size=settings.max_body_bytes,
        # Requests aiohttp refuses before any middleware runs are still not logged as server errors.
        handler_args={"logger": ProtocolLog(server_logger), **PARSER_LIMITS},
    )
    if settings.production:
        app.on_response_prepare.append(add_hsts)
    app[SERVICES] = services
    app[STARTED_AT] = time.monotonic()
    app[OPENAPI_DOCUMENT] = openapi_document()
    app[METRICS_ACCESS] = MetricsAccess(settings.metrics_key, settings.production, parse_api_keys(api_keys))
    for module in MODULES:
        app.router.add_routes(with_expect_handler(module.routes))
    if settings.sandbox:  # never in production mode: Settings refuses the two together
        add_sandbox_routes(app)
    return app
