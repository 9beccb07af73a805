"""``/v1/workflows/{workflowId}/executions`` and ``/v1/executions``."""

from __future__ import annotations

import math
from typing import Any

from aiohttp import web
from pydantic import BaseModel, Field

from flowker.http.keys import SERVICES
from flowker.http.render import json_response, path_id, read_json, request_actor
from flowker.usecases.pagination import render_page

routes = web.RouteTableDef()
#: ``Prefer: wait=N`` is honoured up to this many seconds.
MAX_WAIT_SECONDS = 60.0


class ExecuteInput(BaseModel):
    """The body of a start: a JSON object (`{}` at least; an empty body is 400 FLK-0001) whose
    `inputData`, when sent, is an object."""

    inputData: dict[str, Any] = Field(
        default_factory=dict,
        description=(
            "The execution's input, which mappings and conditions read as `workflow.<path>` "
            "(e.g. `workflow.customer.cpf`). Bound to the `Idempotency-Key` with the workflow."
        ),
        examples=[{"customer": {"cpf": "123.456.789-00", "name": "John Doe"}}],
        json_schema_extra={"default": {}},
    )


@routes.post("/v1/workflows/{workflowId}/executions")
async def start_execution(request: web.Request) -> web.Response:
    workflow_id = path_id(request, "workflowId")
    body = await read_json(request, ExecuteInput)
    started = await request.app[SERVICES].executions.start(
        workflow_id, body.inputData, request.headers.get("Idempotency-Key"), request_actor(request)
    )
    wait = prefer_wait(request.headers.get("Prefer"))
    if wait:
        results = await request.app[SERVICES].executions.wait_for_end(started, wait)
        if results is not None:
            return json_response(results, status=200, headers={"Preference-Applied": f"wait={wait:g}"})
    execution = started.execution
    # A replay of an execution that has ended answers 200, as in the original; anything else 201.
    status = 200 if not started.created and execution.is_terminal else 201
    return json_response(execution.created_output(), status=status)


def prefer_wait(header: str | None) -> float:
    """The ``wait`` preference of RFC 7240 in seconds, capped at 60; 0 when absent or malformed."""
    for preference in (header or "").split(","):
        name, _, value = preference.strip().partition("=")
        if name.strip().lower() == "wait":
            number = value.strip().strip('"')
            # float() also reads "nan", which min/max cannot cap and which would reach the event loop as a
            # timeout, and digits of other scripts: neither is the delta-seconds RFC 7240 asks for.
            if not number.isascii():
                return 0.0
            try:
                seconds = float(number)
            except ValueError:
                return 0.0
            return 0.0 if math.isnan(seconds) else min(max(seconds, 0.0), MAX_WAIT_SECONDS)
    return 0.0


@routes.get("/v1/executions")
async def list_executions(request: web.Request) -> web.Response:
    page, query = await request.app[SERVICES].executions.list(request.query)
    return json_response(render_page(page, query, lambda e: e.status_output()))


@routes.get("/v1/executions/{id}")
async def get_execution(request: web.Request) -> web.Response:
    execution = await request.app[SERVICES].executions.get(path_id(request))
    return json_response(execution.status_output())


@routes.get("/v1/executions/{id}/results")
async def execution_results(request: web.Request) -> web.Response:
    return json_response(await request.app[SERVICES].executions.results(path_id(request)))


@routes.post("/v1/executions/{id}/cancel")
async def cancel_execution(request: web.Request) -> web.Response:
    execution = await request.app[SERVICES].executions.cancel(path_id(request), request_actor(request))
    return json_response(execution.status_output(), status=202)
