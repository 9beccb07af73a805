"""Unauthenticated system routes: liveness, readiness, version and the OpenAPI document.

``/health/live`` and ``/health/ready`` are aliases of ``/health`` and ``/readyz``: the original's names
before v1.0.2, which its README, older Helm charts and Lerian's MCP server still call.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from aiohttp import web

from flowker import __version__
from flowker.clock import iso, utc_now
from flowker.http.keys import OPENAPI_DOCUMENT, SERVICES, STARTED_AT
from flowker.http.render import json_response
from flowker.http.schemas import HealthResponse, ReadinessResponse, VersionResponse
from flowker.http.spec import TAG_SYSTEM, alias, ok, operation
from flowker.tunables import READINESS_CHECK_TIMEOUT_SECONDS

routes = web.RouteTableDef()


@routes.get("/health")
@operation(
    "getHealth",
    "Liveness",
    TAG_SYSTEM,
    "The process answers. Checks no dependency (see `/readyz`).",
    {"200": ok("Alive.", HealthResponse)},
    public=True,
)
async def health(request: web.Request) -> web.Response:
    """Liveness: the process answers."""
    uptime = time.monotonic() - request.app[STARTED_AT]
    return json_response(
        {
            "status": "healthy",
            "version": __version__,
            "uptime": round(uptime, 3),
            "timestamp": iso(utc_now()),
        },
        model=HealthResponse,
    )


@routes.get("/readyz")
@operation(
    "getReadiness",
    "Readiness",
    TAG_SYSTEM,
    "Every dependency answers within its timeout. 503 when one does not, or while the "
    "service drains before shutting down.",
    {"200": ok("Every dependency is up.", ReadinessResponse)},
    {"503": ok("A dependency is down, or the service is draining.", ReadinessResponse)},
    public=True,
)
async def readyz(request: web.Request) -> web.Response:
    """Readiness: every dependency answers within its timeout; 503 otherwise or while draining."""
    services = request.app[SERVICES]
    if services.draining:
        draining = {"status": "draining", "checks": {}, "version": __version__}
        return json_response(draining, status=503, model=ReadinessResponse)
    names = list(services.readiness)
    results = await asyncio.gather(*(_check(services.readiness[n]) for n in names))
    checks = dict(zip(names, results, strict=True))
    healthy = all(c["status"] == "up" for c in checks.values())
    return json_response(
        {"status": "healthy" if healthy else "unhealthy", "checks": checks, "version": __version__},
        status=200 if healthy else 503,
        model=ReadinessResponse,
    )


routes.get("/health/live")(alias(health, "/health", "getHealthLive"))
routes.get("/health/ready")(alias(readyz, "/readyz", "getReadinessReady"))


async def _check(check: Any) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        await asyncio.wait_for(check(), READINESS_CHECK_TIMEOUT_SECONDS)
    except TimeoutError:
        return {"status": "down", "error": f"no answer within {READINESS_CHECK_TIMEOUT_SECONDS} s"}
    except Exception as exc:
        return {"status": "down", "error": type(exc).__name__}
    return {"status": "up", "latency_ms": round((time.perf_counter() - started) * 1000, 3)}


@routes.get("/version")
@operation(
    "getVersion",
    "Version",
    TAG_SYSTEM,
    "The running version.",
    {"200": ok("The version.", VersionResponse)},
    public=True,
)
async def version(request: web.Request) -> web.Response:
    """The running version."""
    return json_response({"version": __version__, "requestDate": iso(utc_now())}, model=VersionResponse)


@routes.get("/openapi.json")
@operation(
    "getOpenApiDocument",
    "OpenAPI document",
    TAG_SYSTEM,
    "This document.",
    {"200": ok("An OpenAPI 3.1 document.", {"type": "object"})},
    public=True,
)
async def openapi(request: web.Request) -> web.Response:
    """The OpenAPI 3.1 document of this API."""
    return json_response(request.app[OPENAPI_DOCUMENT])
