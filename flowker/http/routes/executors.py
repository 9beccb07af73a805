"""``/v1/executors``: executor configurations, every secret masked on the way out."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from flowker import codes
from flowker.domain import authentication as auth
from flowker.domain import executor_config as ec
from flowker.domain.executor_config import ExecutorConfigInput, ExecutorStatus
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
    TAG_EXECUTORS,
    TOO_DEEP,
    TOO_LARGE,
    WRONG_TYPE,
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
    "ExecutorConfigId": id_parameter("executor configuration"),
    "ExecutorStatusFilter": status_parameter([s.value for s in ExecutorStatus]),
}
NOT_FOUND = {
    "404": error(
        "No such executor configuration",
        [
            line(
                codes.EXECUTOR_CONFIG_NOT_FOUND,
                "executor configuration not found",
            )
        ],
    )
}
STATE_CHANGED = line(codes.STATE_CHANGED, "the configuration changed concurrently; read it again and retry")
CONFIG_CODES = (
    BAD_BODY,
    WRONG_TYPE,
    TOO_DEEP,
    line(codes.EXECUTOR_CONFIG_NAME_REQUIRED, "name is required"),
    line(codes.EXECUTOR_CONFIG_NAME_TOO_LONG, f"name is longer than {ec.MAX_NAME} characters"),
    line(
        codes.EXECUTOR_CONFIG_DESCRIPTION_TOO_LONG,
        f"description is longer than {ec.MAX_DESCRIPTION} characters",
    ),
    line(codes.BASE_URL_REQUIRED, "baseUrl is required"),
    line(codes.BASE_URL_TOO_LONG, f"baseUrl is longer than {ec.MAX_BASE_URL} characters"),
    line(
        codes.INVALID_BASE_URL,
        "baseUrl is not an http(s) URL with a host, or has credentials, a query or a fragment",
    ),
    line(codes.NO_ENDPOINTS, "at least one endpoint is required"),
    line(codes.TOO_MANY_ENDPOINTS, f"more than {ec.MAX_ENDPOINTS} endpoints"),
    line(codes.ENDPOINT_NAME_REQUIRED, "an endpoint name is required"),
    line(codes.DUPLICATE_ENDPOINT_NAME, "two endpoints share a name"),
    line(
        codes.ENDPOINT_FIELD_TOO_LONG,
        f"an endpoint name or path is too long ({ec.MAX_ENDPOINT_NAME} / {ec.MAX_ENDPOINT_PATH})",
    ),
    line(
        codes.INVALID_ENDPOINT_PATH,
        "an endpoint path is required, or is a URL rather than a path relative to baseUrl",
    ),
    line(codes.ENDPOINT_METHOD_REQUIRED, "an endpoint method is required"),
    line(codes.INVALID_ENDPOINT_METHOD, f"an endpoint method is not one of {', '.join(ec.METHODS)}"),
    line(
        codes.INVALID_ENDPOINT_TIMEOUT, f"an endpoint timeout is outside 1..{ec.MAX_TIMEOUT_SECONDS} seconds"
    ),
    line(codes.NO_AUTHENTICATION, "authentication is required"),
    line(codes.AUTHENTICATION_TYPE_REQUIRED, "authentication.type is required"),
    line(
        codes.UNSUPPORTED_AUTHENTICATION_TYPE,
        f"authentication.type is not one of {', '.join(auth.SCHEMAS)}",
    ),
    line(
        codes.INVALID_AUTHENTICATION_FIELD,
        "an authentication.config field is unknown, missing, malformed, "
        f"or a `{auth.MASK}` mask with no stored secret to keep",
    ),
    line(
        codes.INVALID_BREAKER_OVERRIDE,
        "a circuitBreaker field is unknown, of the wrong type or out of bounds (the message names it)",
    ),
    *METADATA_CODES,
)
CONFIG = ok("The executor configuration, secrets masked.", schemas.ExecutorConfigurationOutput)
EXECUTOR_TEST_DESCRIPTION = """\
Check that the service the configuration describes can be reached and accepts its credentials,
without executing anything. Three stages run in order, each with a 10 s timeout; a failed stage
skips the ones after it:

1. `connectivity`: `GET baseUrl` without credentials; passes on any answer below 500.
2. `authentication`: `GET baseUrl` with the credentials; passes unless the answer is 401 or 403.
   Skipped when `authentication.type` is `none`. For `oidc_client_credentials` and `oidc_user` it
   obtains a token from the issuer instead (discovery, then the token endpoint; 30 s each) and
   reports the issuer's answer: `details.url` (the token endpoint), `statusCode`,
   `expiresInSeconds` and `refreshToken` when it passed, `statusCode` and the issuer's OAuth
   `error` code when it refused. The token itself is never shown.
3. `end_to_end`: calls the configuration's first `GET` or `HEAD` endpoint, with credentials (for
   OIDC, the token just obtained) and without a body; passes on a 2xx answer. It **only ever calls
   a GET or HEAD endpoint**, never one that may change data (`POST`, `PUT`, `PATCH`, `DELETE`), so a
   test cannot create a payment: a configuration without such an endpoint has this stage skipped.

An unreachable service is a result, not an error: the answer is still `200`, with the stage
`failed` and `message` `no answer: <error type>`. A disabled configuration can be tested too. The
test changes nothing but the configuration's `lastTestedAt`, which it sets to `completedAt`.
"""


def _toggle_operation(action: str, source: str, target: str, description: str) -> Any:
    return operation(
        f"{action}Executor",
        f"{action.capitalize()} an executor configuration",
        TAG_EXECUTORS,
        description,
        {"200": ok(f"The configuration, now {target}.", schemas.ExecutorConfigurationOutput)},
        {
            **BAD_ID_ERROR,
            **NOT_FOUND,
            "409": error("Conflict", [STATE_CHANGED]),
            "422": error(
                "Not allowed in its status",
                [line(codes.EXECUTOR_CONFIG_NOT_ALLOWED, f"the configuration is not {source}")],
            ),
        },
        parameters=[param("ExecutorConfigId")],
    )


@routes.post("/v1/executors")
@operation(
    "createExecutor",
    "Create an executor configuration",
    TAG_EXECUTORS,
    "Save a new configuration, `active` at once. Secrets are encrypted before they are stored.",
    {"201": ok("Created; secrets masked.", schemas.ExecutorConfigurationOutput)},
    {
        "400": error("Invalid configuration", CONFIG_CODES),
        "409": error(
            "Conflict",
            [
                line(
                    codes.EXECUTOR_CONFIG_NAME_TAKEN,
                    "an executor configuration with this name exists",
                )
            ],
        ),
        **TOO_LARGE,
    },
    body=schemas.ExecutorConfigCreateInput,
    body_description="The configuration.",
)
async def create_executor(request: web.Request) -> web.Response:
    body = await read_json(request, ExecutorConfigInput)
    config = await request.app[SERVICES].executor_configs.create(body, request_actor(request))
    return json_response(config.to_output(), status=201, model=schemas.ExecutorConfigurationOutput)


@routes.get("/v1/executors")
@operation(
    "listExecutors",
    "List executor configurations",
    TAG_EXECUTORS,
    "One page of executor configurations, secrets masked.",
    {"200": ok("A page of configurations.", schemas.ExecutorConfigurationListOutput)},
    {"400": error("Invalid query", LIST_CODES)},
    parameters=[param("ExecutorStatusFilter"), *LIST_PARAMETERS],
)
async def list_executors(request: web.Request) -> web.Response:
    query = parse_list_query(request.query, [s.value for s in ExecutorStatus])
    page = await request.app[SERVICES].executor_configs.list(query)
    return json_response(
        render_page(page, query, lambda config: config.to_output()),
        model=schemas.ExecutorConfigurationListOutput,
    )


@routes.get("/v1/executors/{id}")
@operation(
    "getExecutor",
    "Get an executor configuration",
    TAG_EXECUTORS,
    "The configuration, secrets masked, with the state of its circuit breaker (`breaker`): the live "
    "executor actor's if one runs, else the state last stored.",
    {"200": CONFIG},
    {**BAD_ID_ERROR, **NOT_FOUND},
    parameters=[param("ExecutorConfigId")],
)
async def get_executor(request: web.Request) -> web.Response:
    configs = request.app[SERVICES].executor_configs
    config = await configs.get(path_id(request))
    body = {**config.to_output(), "breaker": await configs.breaker(config)}
    return json_response(body, model=schemas.ExecutorConfigurationOutput)


@routes.patch("/v1/executors/{id}")
@operation(
    "patchExecutor",
    "Update an executor configuration",
    TAG_EXECUTORS,
    "Change the fields sent; the result is checked as a whole. An endpoint that an active "
    "workflow calls cannot be removed.",
    {"200": CONFIG},
    {
        "400": error("Invalid request or configuration", [BAD_ID, *CONFIG_CODES]),
        **NOT_FOUND,
        "409": error(
            "Conflict",
            [
                line(codes.EXECUTOR_CONFIG_NAME_TAKEN, "another executor configuration has this name"),
                STATE_CHANGED,
            ],
        ),
        "422": error(
            "In use",
            [line(codes.EXECUTOR_CONFIG_NOT_ALLOWED, "a removed endpoint is called by an active workflow")],
        ),
        **TOO_LARGE,
    },
    parameters=[param("ExecutorConfigId")],
    body=schemas.ExecutorConfigInput,
    body_description="The fields to change.",
)
async def patch_executor(request: web.Request) -> web.Response:
    config_id = path_id(request)
    body = await read_json(request, ExecutorConfigInput)
    config = await request.app[SERVICES].executor_configs.patch(config_id, body, request_actor(request))
    return json_response(config.to_output(), model=schemas.ExecutorConfigurationOutput)


@routes.delete("/v1/executors/{id}")
@operation(
    "deleteExecutor",
    "Delete an executor configuration",
    TAG_EXECUTORS,
    "Delete a configuration that no active workflow uses.",
    {"204": ok("Deleted.")},
    {
        **BAD_ID_ERROR,
        **NOT_FOUND,
        "409": error("Conflict", [STATE_CHANGED]),
        "422": error(
            "In use", [line(codes.EXECUTOR_CONFIG_NOT_ALLOWED, "an active workflow uses the configuration")]
        ),
    },
    parameters=[param("ExecutorConfigId")],
)
async def delete_executor(request: web.Request) -> web.Response:
    await request.app[SERVICES].executor_configs.delete(path_id(request), request_actor(request))
    return web.Response(status=204)


@routes.post("/v1/executors/{id}/disable")
@_toggle_operation(
    "disable",
    "active",
    "disabled",
    "Take an active configuration out of service; workflows using it can no longer be activated.",
)
async def disable_executor(request: web.Request) -> web.Response:
    config = await request.app[SERVICES].executor_configs.toggle(
        path_id(request), "disable", request_actor(request)
    )
    return json_response(config.to_output(), model=schemas.ExecutorConfigurationOutput)


@routes.post("/v1/executors/{id}/enable")
@_toggle_operation("enable", "disabled", "active", "Put a disabled configuration back in service.")
async def enable_executor(request: web.Request) -> web.Response:
    config = await request.app[SERVICES].executor_configs.toggle(
        path_id(request), "enable", request_actor(request)
    )
    return json_response(config.to_output(), model=schemas.ExecutorConfigurationOutput)


@routes.post("/v1/executors/{id}/test")
@operation(
    "testExecutor",
    "Test an executor configuration",
    TAG_EXECUTORS,
    EXECUTOR_TEST_DESCRIPTION,
    {"200": ok("The test ran (whatever its outcome).", schemas.ExecutorTestOutput)},
    {**BAD_ID_ERROR, **NOT_FOUND},
    parameters=[param("ExecutorConfigId")],
)
async def test_executor(request: web.Request) -> web.Response:
    return json_response(
        await request.app[SERVICES].executor_configs.test(path_id(request)), model=schemas.ExecutorTestOutput
    )


@routes.post("/v1/executors/{id}/breaker/reset")
@operation(
    "resetExecutorBreaker",
    "Reset an executor configuration's circuit breaker",
    TAG_EXECUTORS,
    "Force the configuration's circuit breaker closed, whatever its state: calls reach the provider "
    "again at once, and the failure counts start afresh. The breaker is reset in the store and in the "
    "running executor actor, if any. Audited (`EXECUTOR_BREAKER_RESET`).",
    {"200": ok("The configuration, with its breaker now closed.", schemas.ExecutorConfigurationOutput)},
    {**BAD_ID_ERROR, **NOT_FOUND},
    parameters=[param("ExecutorConfigId")],
)
async def reset_executor_breaker(request: web.Request) -> web.Response:
    configs = request.app[SERVICES].executor_configs
    config, breaker = await configs.reset_breaker(path_id(request), request_actor(request))
    body = {**config.to_output(), "breaker": breaker}
    return json_response(body, model=schemas.ExecutorConfigurationOutput)
