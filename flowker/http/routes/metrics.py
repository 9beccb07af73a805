"""``GET /metrics``: Prometheus text, series of the front door and of every actor (see docs/operations.md).

Its access is its own (:mod:`flowker.http.metrics_access`): a scraper holds the metrics key, not an API key.
"""

from __future__ import annotations

from aiohttp import web

from flowker.codes import UNAUTHORIZED
from flowker.http.keys import METRICS_ACCESS, SERVICES
from flowker.http.spec import TAG_SYSTEM, error, line, ok, operation
from flowker.telemetry.exposition import CONTENT_TYPE

routes = web.RouteTableDef()


@routes.get("/metrics")
@operation(
    "getMetrics",
    "Prometheus metrics",
    TAG_SYSTEM,
    "The series of the front door and of every supervisor, executor and audit actor of the cluster, in "
    "the Prometheus text format. Open in development unless `FLOWKER_METRICS_KEY` is set; that key "
    "(`Authorization: Bearer` or `X-API-Key`) when set; any API key in production when it is not.",
    {"200": ok("The metrics.", {"type": "string"}, media_type="text/plain")},
    {
        "401": error(
            "Not allowed",
            [
                line(
                    UNAUTHORIZED,
                    "the metrics key (in production without one: an API key) is missing or wrong",
                )
            ],
        )
    },
    public=True,
)
async def metrics(request: web.Request) -> web.Response:
    """The cluster's metrics."""
    request.app[METRICS_ACCESS].check(request)
    body = await request.app[SERVICES].metrics.scrape()
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE})
