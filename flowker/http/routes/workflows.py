"""``/v1/workflows``: thin handlers, parse → use case → render."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import BaseModel

from flowker import codes
from flowker.dsl import validation as dsl
from flowker.dsl.model import Workflow, WorkflowDefinition, WorkflowStatus
from flowker.http import schemas
from flowker.http.keys import SERVICES
from flowker.http.render import json_response, path_id, read_json, request_actor
from flowker.http.spec import (
    BAD_BODY,
    BAD_ID,
    BAD_ID_ERROR,
    LIST_CODES,
    LIST_PARAMETERS,
    METADATA_CODES,
    TAG_WORKFLOWS,
    TOO_DEEP,
    TOO_LARGE,
    WRONG_TYPE,
    Schema,
    error,
    id_parameter,
    line,
    ok,
    operation,
    param,
    status_parameter,
)
from flowker.usecases.pagination import parse_list_query, render_page

routes = web.RouteTableDef()
PARAMETERS = {
    "WorkflowId": id_parameter("workflow"),
    "WorkflowStatusFilter": status_parameter([s.value for s in WorkflowStatus]),
}
NOT_FOUND_LINE = line(codes.WORKFLOW_NOT_FOUND, "workflow not found")
NOT_FOUND = {"404": error("No such workflow", [NOT_FOUND_LINE])}
STATE_CHANGED = line(codes.STATE_CHANGED, "the workflow changed concurrently; read it again and retry")
NAME_TAKEN = {"409": error("Conflict", [line(codes.WORKFLOW_NAME_TAKEN, "a workflow with this name exists")])}
NAME_CODES = (
    line(codes.WORKFLOW_NAME_REQUIRED, "name is required"),
    line(codes.WORKFLOW_NAME_TOO_LONG, f"name is longer than {dsl.MAX_NAME} characters"),
)
DRAFT_CODES = (
    BAD_BODY,
    WRONG_TYPE,
    TOO_DEEP,
    *NAME_CODES,
    line(codes.WORKFLOW_DESCRIPTION_TOO_LONG, f"description is longer than {dsl.MAX_DESCRIPTION} characters"),
    line(codes.TOO_MANY_NODES, f"more than {dsl.MAX_NODES} nodes"),
    line(codes.TOO_MANY_EDGES, f"more than {dsl.MAX_EDGES} edges"),
    line(codes.NODE_ID_REQUIRED, "a node id is required"),
    line(codes.NODE_ID_TOO_LONG, f"a node id is longer than {dsl.MAX_ID} characters"),
    line(codes.DUPLICATE_NODE_ID, "two nodes share an id"),
    line(
        codes.MISREADABLE_NODE_ID,
        "a node id is `workflow` or `$`, or holds `.`, `[` or `]`: paths would misread it",
    ),
    line(codes.NODE_TYPE_REQUIRED, "a node type is required"),
    line(codes.UNKNOWN_NODE_TYPE, "a node type is not trigger, executor, conditional or action"),
    line(codes.SET_OUTPUT_NOT_OBJECT, "a `set_output` action has no `output` object"),
    line(codes.INVALID_CONDITION, "a condition (conditional node or edge) does not parse"),
    line(codes.INVALID_INPUT_MAPPING, "an executor node's `inputMapping` is invalid"),
    line(codes.INVALID_OUTPUT_MAPPING, "an executor node's `outputMapping` is invalid"),
    line(codes.RAW_TRANSFORMS, "an executor node uses raw `transforms`, which are not supported"),
    line(codes.INVALID_RETRY_POLICY, "an executor node's `retry` is not a valid retry policy"),
    f"`{codes.EDGE_ID_REQUIRED}` / `{codes.EDGE_SOURCE_REQUIRED}` / `{codes.EDGE_TARGET_REQUIRED}` "
    "an edge id / source / target is required",
    line(
        codes.EDGE_FIELD_TOO_LONG,
        f"an edge id, source, target, sourceHandle or label is longer than {dsl.MAX_ID} characters",
    ),
    line(codes.DUPLICATE_EDGE_ID, "two edges share an id"),
    line(codes.EDGE_NAMES_NO_NODE, "an edge's source or target names no node of the workflow"),
    line(
        codes.INVALID_TRIGGER_CONFIG,
        "a webhook trigger's `path`, `method` or `verify_token` is invalid, it has another property, "
        "or its `verify_token` is the mask `********` while the node has no token",
    ),
    line(
        codes.INVALID_PROVIDER_CONFIG_REF,
        "an executor node in catalog form names no provider configuration in `providerConfigId`",
    ),
    line(
        codes.PROVIDER_EXECUTOR_MISMATCH,
        "an executor node's provider configuration is not of its catalog executor's provider",
    ),
    *METADATA_CODES,
)
CATALOG_EXECUTOR = line(
    codes.UNKNOWN_EXECUTOR_REFERENCE,
    "an executor node's `executorId` is not an executor of the catalog",
)
ACTIVATION_ERRORS = {
    "400": error(
        "Invalid request or incomplete graph",
        [
            BAD_ID,
            line(codes.INVALID_CONDITION, "a conditional node has no condition"),
            line(
                codes.CONDITIONAL_EDGE_WITHOUT_HANDLE,
                "an edge leaving a conditional node has no `sourceHandle` `true` or `false`",
            ),
            line(codes.EXECUTOR_CONFIG_ID_REQUIRED, "an executor node has no `executorConfigId`"),
            line(
                codes.UNKNOWN_ENDPOINT,
                "an executor node's `endpointName` is not an endpoint of its configuration",
            ),
            line(
                codes.MISREADABLE_NODE_ID,
                "a draft saved before node ids were checked has one that paths would misread",
            ),
        ],
    ),
    "404": error(
        "No such workflow or executor configuration",
        [
            NOT_FOUND_LINE,
            line(
                codes.UNKNOWN_EXECUTOR_REFERENCE,
                "an executor node names an executor configuration that does not exist",
            ),
        ],
    ),
    "409": error(
        "Conflict",
        [
            f"{STATE_CHANGED} (including an executor configuration it uses being disabled or "
            "deleted meanwhile)",
            line(
                codes.WEBHOOK_PATH_TAKEN,
                "another active workflow's webhook trigger has the same method and path",
            ),
        ],
    ),
    "422": error(
        "Not allowed in the workflow's status, or not executable",
        [
            line(codes.WORKFLOW_TRANSITION_NOT_ALLOWED, "the workflow is not a draft"),
            line(codes.WORKFLOW_WITHOUT_NODES, "the workflow has no nodes"),
            line(codes.NOT_ONE_TRIGGER, "the workflow has no trigger node or more than one"),
            line(
                codes.CYCLE_OR_EDGE_TO_TRIGGER,
                "an edge points at the trigger node, or the graph has a cycle",
            ),
            line(codes.EXECUTOR_CONFIG_DISABLED, "an executor node's configuration is disabled"),
        ],
    ),
}
WORKFLOW = ok("The workflow.", schemas.WorkflowOutput)
CREATED = ok("Created as a draft.", schemas.WorkflowCreateOutput)
#: The original answers create and clone with a constant version string; kept for its clients.
CREATE_VERSION = "1.0.0"


class CloneInput(BaseModel):
    name: str | None = None


def _created(workflow: Workflow) -> web.Response:
    return json_response(
        {
            "workflowId": workflow.id,
            "version": CREATE_VERSION,
            "status": workflow.status.value,
            "createdAt": workflow.createdAt,
        },
        status=201,
        model=schemas.WorkflowCreateOutput,
    )


def _render(workflow: Workflow) -> dict[str, Any]:
    return workflow.to_output()


@routes.post("/v1/workflows")
@operation(
    "createWorkflow",
    "Create a workflow",
    TAG_WORKFLOWS,
    "Save a new workflow as a draft.",
    {"201": CREATED},
    {
        "400": error("Invalid definition", DRAFT_CODES),
        "404": error("Unknown executor", [CATALOG_EXECUTOR]),
        **NAME_TAKEN,
        **TOO_LARGE,
    },
    body=schemas.WorkflowDefinition,
    body_description="The workflow definition.",
)
async def create_workflow(request: web.Request) -> web.Response:
    definition = await read_json(request, WorkflowDefinition)
    return _created(await request.app[SERVICES].workflows.create(definition, request_actor(request)))


class _FromTemplate(BaseModel):
    templateId: str
    params: dict[str, Any] = {}


@routes.post("/v1/workflows/from-template")
@operation(
    "createWorkflowFromTemplate",
    "Create a workflow from a template",
    TAG_WORKFLOWS,
    "Build the catalog template's workflow from `params` (checked against its `paramSchema`, `GET "
    "/v1/catalog/templates/{id}`) and save it as a draft, as `POST /v1/workflows` does.",
    {"201": CREATED},
    {
        "400": error(
            "Invalid parameters or definition",
            [
                line(codes.INVALID_TEMPLATE_PARAMS, "`params` do not match the template's paramSchema"),
                *DRAFT_CODES,
            ],
        ),
        "404": error(
            "Unknown template or executor",
            [
                line(codes.TEMPLATE_NOT_FOUND, "no template with this `templateId` in the catalog"),
                CATALOG_EXECUTOR,
            ],
        ),
        **NAME_TAKEN,
        **TOO_LARGE,
    },
    body=schemas.WorkflowFromTemplateInput,
    body_description="The template and its parameters.",
)
async def create_workflow_from_template(request: web.Request) -> web.Response:
    body = await read_json(request, _FromTemplate)
    workflows = request.app[SERVICES].workflows
    return _created(await workflows.from_template(body.templateId, body.params, request_actor(request)))


@routes.get("/v1/workflows")
@operation(
    "listWorkflows",
    "List workflows",
    TAG_WORKFLOWS,
    "One page of workflows.",
    {"200": ok("A page of workflows.", schemas.WorkflowListOutput)},
    {"400": error("Invalid query", LIST_CODES)},
    parameters=[param("WorkflowStatusFilter"), *LIST_PARAMETERS],
)
async def list_workflows(request: web.Request) -> web.Response:
    query = parse_list_query(request.query, [s.value for s in WorkflowStatus])
    page = await request.app[SERVICES].workflows.list(query)
    return json_response(render_page(page, query, _render), model=schemas.WorkflowListOutput)


@routes.get("/v1/workflows/{id}")
@operation(
    "getWorkflow",
    "Get a workflow",
    TAG_WORKFLOWS,
    "The workflow with its full definition.",
    {"200": WORKFLOW},
    {**BAD_ID_ERROR, **NOT_FOUND},
    parameters=[param("WorkflowId")],
)
async def get_workflow(request: web.Request) -> web.Response:
    return json_response(
        _render(await request.app[SERVICES].workflows.get(path_id(request))), model=schemas.WorkflowOutput
    )


@routes.put("/v1/workflows/{id}")
@operation(
    "replaceWorkflow",
    "Replace a draft workflow",
    TAG_WORKFLOWS,
    "Replace a draft's whole definition (fields not sent are cleared); only drafts are editable.",
    {"200": WORKFLOW},
    {
        "400": error("Invalid request or definition", [BAD_ID, *DRAFT_CODES]),
        "404": error("No such workflow or executor", [NOT_FOUND_LINE, CATALOG_EXECUTOR]),
        "409": error(
            "Conflict", [line(codes.WORKFLOW_NAME_TAKEN, "another workflow has this name"), STATE_CHANGED]
        ),
        "422": error(
            "Not a draft",
            [line(codes.WORKFLOW_NOT_EDITABLE, "the workflow is active or inactive; move it to draft first")],
        ),
        **TOO_LARGE,
    },
    parameters=[param("WorkflowId")],
    body=schemas.WorkflowDefinition,
    body_description="The new definition.",
)
async def replace_workflow(request: web.Request) -> web.Response:
    workflow_id = path_id(request)
    definition = await read_json(request, WorkflowDefinition)
    replaced = await request.app[SERVICES].workflows.replace(workflow_id, definition, request_actor(request))
    return json_response(_render(replaced), model=schemas.WorkflowOutput)


@routes.delete("/v1/workflows/{id}")
@operation(
    "deleteWorkflow",
    "Delete a workflow",
    TAG_WORKFLOWS,
    "Delete a draft or inactive workflow.",
    {"204": ok("Deleted.")},
    {
        **BAD_ID_ERROR,
        **NOT_FOUND,
        "409": error("Conflict", [STATE_CHANGED]),
        "422": error("Active", [line(codes.WORKFLOW_NOT_EDITABLE, "an active workflow cannot be deleted")]),
    },
    parameters=[param("WorkflowId")],
)
async def delete_workflow(request: web.Request) -> web.Response:
    await request.app[SERVICES].workflows.delete(path_id(request), request_actor(request))
    return web.Response(status=204)


@routes.post("/v1/workflows/{id}/clone")
@operation(
    "cloneWorkflow",
    "Clone a workflow",
    TAG_WORKFLOWS,
    "A new draft with the workflow's description, nodes, edges and metadata, under a new name. "
    "Works from any status.",
    {"201": CREATED},
    {
        "400": error("Invalid request", [BAD_ID, BAD_BODY, WRONG_TYPE, TOO_DEEP, *NAME_CODES]),
        **NOT_FOUND,
        **NAME_TAKEN,
        **TOO_LARGE,
    },
    parameters=[param("WorkflowId")],
    body=schemas.CloneWorkflowInput,
    body_description="The name of the copy.",
)
async def clone_workflow(request: web.Request) -> web.Response:
    workflow_id = path_id(request)
    body = await read_json(request, CloneInput)
    return _created(
        await request.app[SERVICES].workflows.clone(workflow_id, body.name, request_actor(request))
    )


async def _transition(request: web.Request, action: str) -> web.Response:
    workflow = await request.app[SERVICES].workflows.transition(
        path_id(request), action, request_actor(request)
    )
    return json_response(_render(workflow), model=schemas.WorkflowOutput)


def _transition_operation(
    action: str, summary: str, source: str, target: str, extra: dict[str, Schema], description: str = ""
) -> Any:
    errors: dict[str, Schema] = {
        **BAD_ID_ERROR,
        **NOT_FOUND,
        "409": error("Conflict", [STATE_CHANGED]),
        "422": error(
            "Not allowed in the workflow's status",
            [line(codes.WORKFLOW_TRANSITION_NOT_ALLOWED, f"the workflow is not {source}")],
        ),
        **extra,
    }
    return operation(
        f"{action}Workflow",
        summary,
        TAG_WORKFLOWS,
        description or f"Move a workflow from {source} to {target}.",
        {"200": ok(f"The workflow, now {target}.", schemas.WorkflowOutput)},
        errors,
        parameters=[param("WorkflowId")],
    )


@routes.post("/v1/workflows/{id}/activate")
@_transition_operation(
    "activate",
    "Activate a workflow",
    "draft",
    "active",
    ACTIVATION_ERRORS,
    "Check the whole graph (exactly one trigger, no cycle, every executor node bound to an "
    "active executor configuration and one of its endpoints) and make the draft executable.",
)
async def activate_workflow(request: web.Request) -> web.Response:
    return await _transition(request, "activate")


@routes.post("/v1/workflows/{id}/deactivate")
@_transition_operation("deactivate", "Deactivate a workflow", "active", "inactive", {})
async def deactivate_workflow(request: web.Request) -> web.Response:
    return await _transition(request, "deactivate")


@routes.post("/v1/workflows/{id}/draft")
@_transition_operation("draft", "Move a workflow back to draft", "inactive", "draft", {})
async def draft_workflow(request: web.Request) -> web.Response:
    return await _transition(request, "draft")
