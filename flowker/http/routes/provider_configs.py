"""``/v1/provider-configurations``: instances of catalog providers, every secret masked on the way out."""

from __future__ import annotations

import dataclasses
from typing import Any

from aiohttp import web

from flowker import codes
from flowker.domain import provider_config as pc
from flowker.domain.provider_config import ProviderConfigInput, ProviderConfigStatus
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
    TAG_PROVIDER_CONFIGS,
    TOO_DEEP,
    TOO_LARGE,
    WRONG_TYPE,
    error,
    id_parameter,
    line,
    ok,
    operation,
    param,
    query,
    status_parameter,
)
from flowker.store.ports import ProviderConfigQuery
from flowker.usecases.pagination import parse_list_query, render_page

routes = web.RouteTableDef()
PARAMETERS = {
    "ProviderConfigId": id_parameter("provider configuration"),
    "ProviderConfigStatusFilter": status_parameter([s.value for s in ProviderConfigStatus]),
    "ProviderIdFilter": query(
        "providerId", {"type": "string"}, "Only configurations of this catalog provider."
    ),
}
_ID = [param("ProviderConfigId")]
NOT_FOUND = {
    "404": error(
        "No such provider configuration",
        [line(codes.PROVIDER_CONFIG_NOT_FOUND, "provider configuration not found")],
    )
}
STATE_CHANGED = line(codes.STATE_CHANGED, "the configuration changed concurrently; read it again and retry")
FIELD_CODES = (
    BAD_BODY,
    WRONG_TYPE,
    TOO_DEEP,
    line(codes.PROVIDER_CONFIG_NAME_REQUIRED, "name is required"),
    line(codes.PROVIDER_CONFIG_NAME_TOO_LONG, f"name is longer than {pc.MAX_NAME} characters"),
    line(codes.PROVIDER_ID_REQUIRED, "providerId is required"),
    line(codes.PROVIDER_CONFIG_REQUIRED, "config is missing or empty"),
    line(
        codes.PROVIDER_CONFIG_DESCRIPTION_TOO_LONG,
        f"description is longer than {pc.MAX_DESCRIPTION} characters",
    ),
    *METADATA_CODES,
)
CONFIG_REFUSED = (
    line(
        codes.INVALID_PROVIDER_CONFIG,
        "config does not match the provider's configSchema (path and rule named)",
    ),
    line(codes.DESTINATION_REFUSED, "the outbound policy refuses one of the config's URLs"),
)
OUTPUT = ok("The provider configuration, secrets masked.", schemas.ProviderConfigurationOutput)
TEST_DESCRIPTION = """\
Check that the provider the configuration points at can be reached and accepts its credentials, as the
original does. The base URL is the first of `base_url`, `onboarding_base_url`, `transaction_base_url`
that is set. Three `GET` requests on it, 10 s each, through the outbound policy (SSRF guard):

1. `connectivity`, without credentials: passes on any answer below 500.
2. `authentication`, with the configuration's static credentials (its `headers`, its API key as its
   provider sends it, bearer or basic credentials): skipped when there are none; fails on 401, 403 or
   5xx, passes otherwise.
3. `end_to_end`, with the same credentials: passes on 2xx only.

A failed stage skips the stages after it. Each stage answers its status and timing only (`statusCode`,
`responseTimeMs`), never the provider's answer. The test changes nothing, not even the status.
"""


def _toggle_operation(action: str, source: str, target: str) -> Any:
    return operation(
        f"{action}ProviderConfiguration",
        f"{action.capitalize()} a provider configuration",
        TAG_PROVIDER_CONFIGS,
        f"Move a {source} configuration to `{target}` (audited, unlike the original).",
        {"200": ok(f"The configuration, now {target}.", schemas.ProviderConfigurationOutput)},
        {
            **BAD_ID_ERROR,
            **NOT_FOUND,
            "409": error("Conflict", [STATE_CHANGED]),
            "422": error(
                "Not allowed in its status",
                [line(codes.PROVIDER_CONFIG_NOT_ALLOWED, f"the configuration is not {source}")],
            ),
        },
        parameters=_ID,
    )


def _services(request: web.Request) -> Any:
    return request.app[SERVICES].provider_configs


@routes.post("/v1/provider-configurations")
@operation(
    "createProviderConfiguration",
    "Create a provider configuration",
    TAG_PROVIDER_CONFIGS,
    "Save a new configuration of a catalog provider, `active` at once. `config` is checked against the "
    "provider's schema; its secrets are encrypted before they are stored.",
    {"201": ok("Created.", schemas.ProviderConfigurationCreateOutput)},
    {
        "400": error("Invalid request", FIELD_CODES),
        "404": error(
            "Unknown provider", [line(codes.PROVIDER_NOT_IN_CATALOG, "providerId names no catalog provider")]
        ),
        "409": error(
            "Conflict",
            [line(codes.PROVIDER_CONFIG_NAME_TAKEN, "a provider configuration with this name exists")],
        ),
        "422": error("Invalid config", CONFIG_REFUSED),
        **TOO_LARGE,
    },
    body=schemas.ProviderConfigurationCreateInput,
    body_description="The configuration.",
)
async def create_provider_config(request: web.Request) -> web.Response:
    body = await read_json(request, ProviderConfigInput)
    config = await _services(request).create(body, request_actor(request))
    out = {"id": config.id, "name": config.name, "status": config.status.value, "createdAt": config.createdAt}
    return json_response(out, status=201, model=schemas.ProviderConfigurationCreateOutput)


@routes.get("/v1/provider-configurations")
@operation(
    "listProviderConfigurations",
    "List provider configurations",
    TAG_PROVIDER_CONFIGS,
    "One page of provider configurations, secrets masked.",
    {"200": ok("A page of configurations.", schemas.ProviderConfigurationListOutput)},
    {"400": error("Invalid query", LIST_CODES)},
    parameters=[param("ProviderConfigStatusFilter"), param("ProviderIdFilter"), *LIST_PARAMETERS],
)
async def list_provider_configs(request: web.Request) -> web.Response:
    listed = parse_list_query(request.query, [s.value for s in ProviderConfigStatus])
    query_ = ProviderConfigQuery(
        **dataclasses.asdict(listed), provider_id=request.query.get("providerId") or None
    )
    page = await _services(request).list(query_)
    return json_response(
        render_page(page, query_, lambda config: config.to_output()),
        model=schemas.ProviderConfigurationListOutput,
    )


@routes.get("/v1/provider-configurations/{id}")
@operation(
    "getProviderConfiguration",
    "Get a provider configuration",
    TAG_PROVIDER_CONFIGS,
    "The configuration, secrets masked.",
    {"200": OUTPUT},
    {**BAD_ID_ERROR, **NOT_FOUND},
    parameters=_ID,
)
async def get_provider_config(request: web.Request) -> web.Response:
    config = await _services(request).get(path_id(request))
    return json_response(config.to_output(), model=schemas.ProviderConfigurationOutput)


@routes.patch("/v1/provider-configurations/{id}")
@operation(
    "patchProviderConfiguration",
    "Update a provider configuration",
    TAG_PROVIDER_CONFIGS,
    "Change the fields sent. `config` replaces the whole map and is checked again; a secret sent as "
    f"`{pc.MASK}` keeps the stored one, unless a URL the credentials go to moves to another origin "
    f"(422 {codes.CREDENTIALS_BOUND_TO_ORIGIN}: send the secrets again with that change).",
    {"200": OUTPUT},
    {
        "400": error("Invalid request", [BAD_ID, *FIELD_CODES]),
        **NOT_FOUND,
        "409": error(
            "Conflict",
            [
                line(codes.PROVIDER_CONFIG_NAME_TAKEN, "another provider configuration has this name"),
                STATE_CHANGED,
            ],
        ),
        "422": error(
            "Invalid config",
            [
                *CONFIG_REFUSED,
                line(
                    codes.CREDENTIALS_BOUND_TO_ORIGIN,
                    "a URL moves to another origin while stored secrets are kept",
                ),
            ],
        ),
        **TOO_LARGE,
    },
    parameters=_ID,
    body=schemas.ProviderConfigurationPatchInput,
    body_description="The fields to change.",
)
async def patch_provider_config(request: web.Request) -> web.Response:
    config_id = path_id(request)
    body = await read_json(request, ProviderConfigInput)
    config = await _services(request).patch(config_id, body, request_actor(request))
    return json_response(config.to_output(), model=schemas.ProviderConfigurationOutput)


@routes.delete("/v1/provider-configurations/{id}")
@operation(
    "deleteProviderConfiguration",
    "Delete a provider configuration",
    TAG_PROVIDER_CONFIGS,
    "Delete the configuration (audited).",
    {"204": ok("Deleted.")},
    {**BAD_ID_ERROR, **NOT_FOUND, "409": error("Conflict", [STATE_CHANGED])},
    parameters=_ID,
)
async def delete_provider_config(request: web.Request) -> web.Response:
    await _services(request).delete(path_id(request), request_actor(request))
    return web.Response(status=204)


@routes.post("/v1/provider-configurations/{id}/disable")
@_toggle_operation("disable", "active", "disabled")
async def disable_provider_config(request: web.Request) -> web.Response:
    config = await _services(request).toggle(path_id(request), "disable", request_actor(request))
    return json_response(config.to_output(), model=schemas.ProviderConfigurationOutput)


@routes.post("/v1/provider-configurations/{id}/enable")
@_toggle_operation("enable", "disabled", "active")
async def enable_provider_config(request: web.Request) -> web.Response:
    config = await _services(request).toggle(path_id(request), "enable", request_actor(request))
    return json_response(config.to_output(), model=schemas.ProviderConfigurationOutput)


@routes.post("/v1/provider-configurations/{id}/test")
@operation(
    "testProviderConfiguration",
    "Test a provider configuration",
    TAG_PROVIDER_CONFIGS,
    TEST_DESCRIPTION,
    {"200": ok("The test ran (whatever its outcome).", schemas.ProviderConfigTestOutput)},
    {
        **BAD_ID_ERROR,
        **NOT_FOUND,
        "422": error(
            "Cannot be tested",
            [
                line(codes.NO_BASE_URL, "the configuration has no http(s) base URL"),
                line(codes.DESTINATION_REFUSED, "the outbound policy refuses the base URL"),
                line(
                    codes.UNREADABLE_SECRET, "a stored secret cannot be opened (another FLOWKER_SECRET_KEY)"
                ),
            ],
        ),
    },
    parameters=_ID,
)
async def test_provider_config(request: web.Request) -> web.Response:
    result = await _services(request).test(path_id(request))
    return json_response(result, model=schemas.ProviderConfigTestOutput)
