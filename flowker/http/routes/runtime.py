"""``/v1/runtime``: what the cluster is doing now, asked of the actors rather than read from the store."""

from __future__ import annotations

from aiohttp import web

from flowker import codes
from flowker.http import schemas
from flowker.http.keys import SERVICES
from flowker.http.render import json_response
from flowker.http.spec import TAG_EXECUTIONS, error, line, ok, operation, param

routes = web.RouteTableDef()


@routes.get("/v1/runtime/executions")
@operation(
    "listLiveExecutions",
    "List the executions running now",
    TAG_EXECUTIONS,
    "The executions the supervisors are driving now, cluster-wide, oldest first: where each is "
    "(the nodes whose calls are in flight), which supervisor and Ray node host it, and its age. "
    "Gathered from the supervisors with a bounded wait; one that does not answer is counted in "
    "`unansweredSupervisors`. `flowker ps` prints it.",
    {"200": ok("The live executions.", schemas.LiveExecutionsOutput)},
    {"400": error("Invalid query", [line(codes.INVALID_UUID, "`workflowId` is not a UUID")])},
    parameters=[param("ExecutionWorkflowFilter")],
)
async def live_executions(request: web.Request) -> web.Response:
    view = await request.app[SERVICES].live.list(request.query.get("workflowId"))
    return json_response(
        {"items": view.items, "unansweredSupervisors": view.unanswered}, model=schemas.LiveExecutionsOutput
    )
