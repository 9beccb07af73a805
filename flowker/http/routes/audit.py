"""``/v1/audit-events``: search, read and verify the hash-chained audit trail."""

from __future__ import annotations

from aiohttp import web

from flowker.http.keys import SERVICES
from flowker.http.render import json_response, path_id
from flowker.usecases.audit import render_audit_page

routes = web.RouteTableDef()


@routes.get("/v1/audit-events")
async def list_audit_events(request: web.Request) -> web.Response:
    page, _ = await request.app[SERVICES].audit.list(request.query)
    return json_response(render_audit_page(page))


@routes.get("/v1/audit-events/{id}")
async def get_audit_event(request: web.Request) -> web.Response:
    return json_response(await request.app[SERVICES].audit.get(path_id(request)))


@routes.get("/v1/audit-events/{id}/verify")
async def verify_audit_event(request: web.Request) -> web.Response:
    return json_response(await request.app[SERVICES].audit.verify(path_id(request)))
