"""``/v1/executors``: executor configurations, every secret masked on the way out."""

from __future__ import annotations

from aiohttp import web

from flowker.domain.executor_config import ExecutorConfigInput, ExecutorStatus
from flowker.http.keys import SERVICES
from flowker.http.render import json_response, path_id, read_json, request_actor
from flowker.usecases.pagination import parse_list_query, render_page

routes = web.RouteTableDef()


@routes.post("/v1/executors")
async def create_executor(request: web.Request) -> web.Response:
    body = await read_json(request, ExecutorConfigInput)
    config = await request.app[SERVICES].executor_configs.create(body, request_actor(request))
    return json_response(config.to_output(), status=201)


@routes.get("/v1/executors")
async def list_executors(request: web.Request) -> web.Response:
    query = parse_list_query(request.query, [s.value for s in ExecutorStatus])
    page = await request.app[SERVICES].executor_configs.list(query)
    return json_response(render_page(page, query, lambda config: config.to_output()))


@routes.get("/v1/executors/{id}")
async def get_executor(request: web.Request) -> web.Response:
    config = await request.app[SERVICES].executor_configs.get(path_id(request))
    return json_response(config.to_output())


@routes.patch("/v1/executors/{id}")
async def patch_executor(request: web.Request) -> web.Response:
    config_id = path_id(request)
    body = await read_json(request, ExecutorConfigInput)
    config = await request.app[SERVICES].executor_configs.patch(config_id, body, request_actor(request))
    return json_response(config.to_output())


@routes.delete("/v1/executors/{id}")
async def delete_executor(request: web.Request) -> web.Response:
    await request.app[SERVICES].executor_configs.delete(path_id(request), request_actor(request))
    return web.Response(status=204)


@routes.post("/v1/executors/{id}/disable")
async def disable_executor(request: web.Request) -> web.Response:
    config = await request.app[SERVICES].executor_configs.toggle(
        path_id(request), "disable", request_actor(request)
    )
    return json_response(config.to_output())


@routes.post("/v1/executors/{id}/enable")
async def enable_executor(request: web.Request) -> web.Response:
    config = await request.app[SERVICES].executor_configs.toggle(
        path_id(request), "enable", request_actor(request)
    )
    return json_response(config.to_output())


@routes.post("/v1/executors/{id}/test")
async def test_executor(request: web.Request) -> web.Response:
    return json_response(await request.app[SERVICES].executor_configs.test(path_id(request)))
