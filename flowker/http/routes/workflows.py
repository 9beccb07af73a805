"""``/v1/workflows``: thin handlers, parse → use case → render."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import BaseModel

from flowker.dsl.model import Workflow, WorkflowDefinition, WorkflowStatus
from flowker.http.keys import SERVICES
from flowker.http.render import json_response, path_id, read_json, request_actor
from flowker.usecases.pagination import parse_list_query, render_page

routes = web.RouteTableDef()
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
    )


def _render(workflow: Workflow) -> dict[str, Any]:
    return workflow.to_output()


@routes.post("/v1/workflows")
async def create_workflow(request: web.Request) -> web.Response:
    definition = await read_json(request, WorkflowDefinition)
    return _created(await request.app[SERVICES].workflows.create(definition, request_actor(request)))


@routes.get("/v1/workflows")
async def list_workflows(request: web.Request) -> web.Response:
    query = parse_list_query(request.query, [s.value for s in WorkflowStatus])
    page = await request.app[SERVICES].workflows.list(query)
    return json_response(render_page(page, query, _render))


@routes.get("/v1/workflows/{id}")
async def get_workflow(request: web.Request) -> web.Response:
    return json_response(_render(await request.app[SERVICES].workflows.get(path_id(request))))


@routes.put("/v1/workflows/{id}")
async def replace_workflow(request: web.Request) -> web.Response:
    workflow_id = path_id(request)
    definition = await read_json(request, WorkflowDefinition)
    return json_response(
        _render(
            await request.app[SERVICES].workflows.replace(workflow_id, definition, request_actor(request))
        )
    )


@routes.delete("/v1/workflows/{id}")
async def delete_workflow(request: web.Request) -> web.Response:
    await request.app[SERVICES].workflows.delete(path_id(request), request_actor(request))
    return web.Response(status=204)


@routes.post("/v1/workflows/{id}/clone")
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
    return json_response(_render(workflow))


@routes.post("/v1/workflows/{id}/activate")
async def activate_workflow(request: web.Request) -> web.Response:
    return await _transition(request, "activate")


@routes.post("/v1/workflows/{id}/deactivate")
async def deactivate_workflow(request: web.Request) -> web.Response:
    return await _transition(request, "deactivate")


@routes.post("/v1/workflows/{id}/draft")
async def draft_workflow(request: web.Request) -> web.Response:
    return await _transition(request, "draft")
