"""``/v1/workflows/{workflowId}/executions`` and ``/v1/executions``."""

from __future__ import annotations

import math
from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from flowker import codes
from flowker.dsl.run_state import ExecutionStatus
from flowker.http import schemas
from flowker.http.keys import SERVICES
from flowker.http.render import json_response, path_id, read_json, request_actor
from flowker.http.spec import (
    BAD_BODY,
    BAD_ID_ERROR,
    LIST_CODES,
    TAG_EXECUTIONS,
    TOO_DEEP,
    TOO_LARGE,
    error,
    id_parameter,
    line,
    ok,
    operation,
    param,
    query,
    status_parameter,
)
from flowker.tunables import MAX_WAIT_SECONDS
from flowker.usecases.executions import MAX_IDEMPOTENCY_KEY, Started
from flowker.usecases.executions import SORT_FIELDS as EXECUTION_SORT_FIELDS
from flowker.usecases.pagination import render_page

routes = web.RouteTableDef()
PARAMETERS = {
    "ExecutionId": id_parameter("execution"),
    "StartWorkflowId": {
        "name": "workflowId",
        "in": "path",
        "required": True,
        "description": f"The id of the workflow to run; anything but a UUID is 400 {codes.INVALID_UUID}.",
        "schema": {"type": "string", "format": "uuid"},
    },
    "PreferWait": {
        "name": "Prefer",
        "in": "header",
        "required": False,
        "description": (
            "`wait=N` (seconds, up to 60; larger values count as 60): answer `200` with the results "
            "if the execution ends within N seconds. Other preferences are ignored."
        ),
        "schema": {"type": "string", "examples": ["wait=10"]},
    },
    "IdempotencyKey": {
        "name": "Idempotency-Key",
        "in": "header",
        "required": True,
        "description": (
            f"1 to {MAX_IDEMPOTENCY_KEY} printable ASCII characters without spaces (surrounding spaces "
            f"are trimmed); missing or otherwise is 400 {codes.INVALID_IDEMPOTENCY_KEY}. The same key with "
            "the same workflow and `inputData` returns the execution it started; with another workflow or "
            f"input it is 409 {codes.IDEMPOTENCY_KEY_REUSED}. A UUID per business operation is a good key."
        ),
        "schema": {"type": "string", "minLength": 1, "maxLength": MAX_IDEMPOTENCY_KEY, "pattern": "^[!-~]+$"},
    },
    "ExecutionWorkflowFilter": query(
        "workflowId",
        {"type": "string", "format": "uuid"},
        f"Only executions of this workflow; anything but a UUID is 400 {codes.INVALID_UUID}.",
    ),
    "ExecutionStatusFilter": status_parameter([s.value for s in ExecutionStatus]),
    "ExecutionSortBy": query(
        "sortBy",
        {"type": "string", "enum": list(EXECUTION_SORT_FIELDS), "default": EXECUTION_SORT_FIELDS[0]},
        "`completedAt` lists only executions that have ended.",
    ),
}
NOT_FOUND = {"404": error("No such execution", [line(codes.EXECUTION_NOT_FOUND, "execution not found")])}
STARTED = "The execution: `executionId`, `workflowId`, `status`, `startedAt`."


class ExecuteInput(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "description": (
                "The body of a start: a JSON object (`{}` at least; an empty body is "
                f"400 {codes.BAD_BODY}) whose `inputData`, when sent, is an object."
            )
        }
    )

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
@operation(
    "startExecution",
    "Start an execution",
    TAG_EXECUTIONS,
    "Run an active workflow on `inputData`, in the background. The answer comes once the "
    "execution is durably recorded: poll `GET /v1/executions/{id}` for its progress.\n\n"
    "The `Idempotency-Key` makes a retry safe: the same key with the same workflow and input "
    "answers the execution it already started (`201` while it has not ended, `200` once it "
    "has; the workflow need no longer be active), with another workflow or input `409 "
    f"{codes.IDEMPOTENCY_KEY_REUSED}`. The execution runs the definition the workflow has now, even if the "
    "workflow is deactivated or edited meanwhile.\n\n"
    "With `Prefer: wait=N` (RFC 7240, N up to 60 seconds) the answer waits: when the execution "
    "ends within N seconds it is `200` with the results document and `Preference-Applied`; "
    "otherwise the usual `201`.",
    {
        "201": ok(
            f"Started (`pending`), or a replay of an execution that has not ended yet. {STARTED}",
            schemas.ExecutionCreateOutput,
        ),
        "200": ok(
            f"A replay of an execution that has ended (same key, workflow and input): {STARTED} "
            "Or, with `Prefer: wait=N`, the results document of an execution that ended in time.",
            {"oneOf": [schemas.ExecutionCreateOutput, schemas.ExecutionResultsOutput]},
        ),
    },
    {
        "400": error(
            "Invalid request",
            [
                line(codes.INVALID_UUID, "`workflowId` is not a UUID"),
                BAD_BODY,
                line(codes.WRONG_FIELD_TYPE, "`inputData` is not a JSON object"),
                TOO_DEEP,
                line(
                    codes.INVALID_IDEMPOTENCY_KEY,
                    f"the `Idempotency-Key` header is missing, longer than {MAX_IDEMPOTENCY_KEY} characters, "
                    "or not printable ASCII",
                ),
            ],
        ),
        "404": error("No such workflow", [line(codes.WORKFLOW_NOT_FOUND, "workflow not found")]),
        "409": error(
            "Idempotency conflict",
            [
                line(
                    codes.IDEMPOTENCY_KEY_REUSED,
                    "the `Idempotency-Key` was used for another workflow or input",
                )
            ],
        ),
        **TOO_LARGE,
        "422": error(
            "Not executable",
            [line(codes.WORKFLOW_NOT_ACTIVE, "the workflow is not active (draft or inactive)")],
        ),
    },
    parameters=[param("StartWorkflowId"), param("IdempotencyKey"), param("PreferWait")],
    body=ExecuteInput,
    body_description="The input of the execution; `{}` runs it on an empty input.",
)
async def start_execution(request: web.Request) -> web.Response:
    workflow_id = path_id(request, "workflowId")
    body = await read_json(request, ExecuteInput)
    started = await request.app[SERVICES].executions.start(
        workflow_id, body.inputData, request.headers.get("Idempotency-Key"), request_actor(request)
    )
    return await answer_start(request, started)


async def answer_start(
    request: web.Request, started: Started, headers: dict[str, str] | None = None
) -> web.Response:
    """The answer to a start (here and from a webhook): ``Prefer: wait``, else 201, or 200 for a replay
    of an execution that has ended."""
    wait = prefer_wait(request.headers.get("Prefer"))
    if wait:
        results = await request.app[SERVICES].executions.wait_for_end(started, wait)
        if results is not None:
            applied = {**(headers or {}), "Preference-Applied": f"wait={wait:g}"}
            return json_response(results, headers=applied, model=schemas.ExecutionResultsOutput)
    execution = started.execution
    # A replay of an execution that has ended answers 200, as in the original; anything else 201.
    status = 200 if not started.created and execution.is_terminal else 201
    return json_response(
        execution.created_output(), status=status, headers=headers, model=schemas.ExecutionCreateOutput
    )


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
@operation(
    "listExecutions",
    "List executions",
    TAG_EXECUTIONS,
    "One page of executions, newest first by default.",
    {"200": ok("A page of executions.", schemas.ExecutionListOutput)},
    {"400": error("Invalid query", [line(codes.INVALID_UUID, "`workflowId` is not a UUID"), *LIST_CODES])},
    parameters=[
        param(name)
        for name in (
            "ExecutionWorkflowFilter",
            "ExecutionStatusFilter",
            "Limit",
            "Cursor",
            "ExecutionSortBy",
            "SortOrder",
        )
    ],
)
async def list_executions(request: web.Request) -> web.Response:
    page, query = await request.app[SERVICES].executions.list(request.query)
    return json_response(
        render_page(page, query, lambda e: e.status_output()), model=schemas.ExecutionListOutput
    )


@routes.get("/v1/executions/{id}")
@operation(
    "getExecution",
    "Get an execution's status",
    TAG_EXECUTIONS,
    "Where the execution stands; poll it until its status is final.",
    {"200": ok("The execution's progress.", schemas.ExecutionStatusOutput)},
    {**BAD_ID_ERROR, **NOT_FOUND},
    parameters=[param("ExecutionId")],
)
async def get_execution(request: web.Request) -> web.Response:
    execution = await request.app[SERVICES].executions.get(path_id(request))
    return json_response(execution.status_output(), model=schemas.ExecutionStatusOutput)


@routes.get("/v1/executions/{id}/results")
@operation(
    "getExecutionResults",
    "Get an execution's results",
    TAG_EXECUTIONS,
    "Every step that ran, and the final output of a completed execution. Exists once the "
    "execution has ended (`completed`, `failed` or `cancelled`).",
    {"200": ok("The results.", schemas.ExecutionResultsOutput)},
    {
        **BAD_ID_ERROR,
        **NOT_FOUND,
        "422": error(
            "Not ended", [line(codes.EXECUTION_NOT_ENDED, "the execution is still `pending` or `running`")]
        ),
    },
    parameters=[param("ExecutionId")],
)
async def execution_results(request: web.Request) -> web.Response:
    return json_response(
        await request.app[SERVICES].executions.results(path_id(request)), model=schemas.ExecutionResultsOutput
    )


@routes.get("/v1/executions/{id}/timeline")
@operation(
    "getExecutionTimeline",
    "Get an execution's step timeline",
    TAG_EXECUTIONS,
    "The steps recorded so far — also while the execution runs — with what each executor step sent, "
    "what it received and how many attempts its call took, and the calls in flight. Values under "
    "credential-like keys (`token`, `password`, `secret`, `api_key`, ...) read `********`.",
    {"200": ok("The timeline.", schemas.ExecutionTimelineOutput)},
    {**BAD_ID_ERROR, **NOT_FOUND},
    parameters=[param("ExecutionId")],
)
async def execution_timeline(request: web.Request) -> web.Response:
    return json_response(
        await request.app[SERVICES].executions.timeline(path_id(request)),
        model=schemas.ExecutionTimelineOutput,
    )


@routes.post("/v1/executions/{id}/cancel")
@operation(
    "cancelExecution",
    "Cancel an execution",
    TAG_EXECUTIONS,
    "Ask the execution to stop; takes no body. A `pending` execution is `cancelled` at once. "
    "A `running` one stops before its next step: provider calls in flight finish and are "
    "recorded, no new step starts, and it then ends `cancelled` (or `failed`, when a call in "
    "flight fails); poll `GET /v1/executions/{id}` to see it.",
    {
        "202": ok(
            "Accepted: the execution as it stands, `cancelled` when it had not started yet, "
            "otherwise usually still `running`.",
            schemas.ExecutionStatusOutput,
        )
    },
    {
        **BAD_ID_ERROR,
        **NOT_FOUND,
        "422": error(
            "Already ended",
            [
                line(
                    codes.EXECUTION_ALREADY_ENDED,
                    "the execution is already `completed`, `failed` or `cancelled`",
                )
            ],
        ),
    },
    parameters=[param("ExecutionId")],
)
async def cancel_execution(request: web.Request) -> web.Response:
    execution = await request.app[SERVICES].executions.cancel(path_id(request), request_actor(request))
    return json_response(execution.status_output(), status=202, model=schemas.ExecutionStatusOutput)
