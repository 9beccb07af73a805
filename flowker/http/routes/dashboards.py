"""``/v1/dashboards``: counts of workflows and executions by status, as the original's dashboards."""

from __future__ import annotations

from aiohttp import web

from flowker import codes
from flowker.dsl.run_state import ExecutionStatus
from flowker.http import schemas
from flowker.http.keys import SERVICES
from flowker.http.render import json_response
from flowker.http.spec import TAG_DASHBOARDS, error, line, ok, operation, param, query

routes = web.RouteTableDef()
_TIME = "RFC 3339 date-time (UTC when it has no offset), such as `2026-05-01T00:00:00Z`"
PARAMETERS = {
    "DashboardStartTime": query(
        "startTime",
        {"type": "string", "format": "date-time"},
        f"Only executions started at or after this {_TIME}.",
    ),
    "DashboardEndTime": query(
        "endTime",
        {"type": "string", "format": "date-time"},
        f"Only executions started at or before this {_TIME}.",
    ),
    "DashboardStatus": query(
        "status",
        {"type": "string", "enum": [s.value for s in ExecutionStatus]},
        "Only executions of this status (the other counts are then 0).",
    ),
}


@routes.get("/v1/dashboards/workflows/summary")
@operation(
    "getWorkflowSummary",
    "Workflows by status",
    TAG_DASHBOARDS,
    "How many workflows there are, how many are active, and how many have each status.",
    {"200": ok("The counts.", schemas.WorkflowSummaryOutput)},
)
async def workflow_summary(request: web.Request) -> web.Response:
    summary = await request.app[SERVICES].dashboards.workflows()
    return json_response(summary, model=schemas.WorkflowSummaryOutput)


@routes.get("/v1/dashboards/executions")
@operation(
    "getExecutionSummary",
    "Executions by status",
    TAG_DASHBOARDS,
    "How many executions started within the window (`startTime` to `endTime`, both included; "
    "either may be left out) have each status; `total` counts them all.",
    {"200": ok("The counts.", schemas.ExecutionSummaryOutput)},
    {
        "400": error(
            "Invalid query",
            [
                line(codes.INVALID_DASHBOARD_QUERY, "`startTime` or `endTime` is not an RFC 3339 date-time"),
                line(codes.INVALID_DASHBOARD_QUERY, "`startTime` is after `endTime`"),
                line(codes.INVALID_DASHBOARD_QUERY, "`status` is not one of its values"),
            ],
        )
    },
    parameters=[param(name) for name in ("DashboardStartTime", "DashboardEndTime", "DashboardStatus")],
)
async def execution_summary(request: web.Request) -> web.Response:
    summary = await request.app[SERVICES].dashboards.executions(request.query)
    return json_response(summary, model=schemas.ExecutionSummaryOutput)
