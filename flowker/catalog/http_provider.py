"""Provider ``http``: any HTTP API, called with the generic request builder (reference 4.3, 4.4).

Registered here (the original has it in code but does not register it), with an ``auth_type`` whose
credentials are actually sent and whose OIDC issuer is ``issuer_url`` (the original's mapping of
``token_url`` cannot work, reference 8.4 item 7).
"""

from __future__ import annotations

from typing import Any

from flowker.catalog.model import DRAFT, CatalogExecutor, Provider, RequestSpec

_SECRET = {"type": "string", "minLength": 1, "writeOnly": True}

CONFIG_SCHEMA: dict[str, Any] = {
    "$schema": DRAFT,
    "title": "HTTP provider configuration",
    "type": "object",
    "properties": {
        "base_url": {"type": "string", "format": "uri", "minLength": 1},
        "headers": {
            "type": "object",
            "description": "Sent on every call; values are encrypted at rest and never shown.",
            "additionalProperties": {"type": "string", "writeOnly": True},
        },
        "timeout_seconds": {"type": "integer", "minimum": 1, "maximum": 300},
        "auth_type": {"enum": ["none", "api_key", "bearer", "basic", "oidc_client_credentials"]},
        "api_key": _SECRET,
        "api_key_header": {"type": "string", "minLength": 1},
        "bearer_token": _SECRET,
        "username": {"type": "string", "minLength": 1},
        "password": _SECRET,
        "issuer_url": {"type": "string", "format": "uri"},
        "client_id": {"type": "string", "minLength": 1},
        "client_secret": _SECRET,
        "scopes": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["base_url"],
    "additionalProperties": False,
    "allOf": [
        {
            "if": {"properties": {"auth_type": {"const": "api_key"}}, "required": ["auth_type"]},
            "then": {"required": ["api_key"]},
        },
        {
            "if": {"properties": {"auth_type": {"const": "bearer"}}, "required": ["auth_type"]},
            "then": {"required": ["bearer_token"]},
        },
        {
            "if": {"properties": {"auth_type": {"const": "basic"}}, "required": ["auth_type"]},
            "then": {"required": ["username", "password"]},
        },
        {
            "if": {
                "properties": {"auth_type": {"const": "oidc_client_credentials"}},
                "required": ["auth_type"],
            },
            "then": {"required": ["issuer_url", "client_id", "client_secret"]},
        },
    ],
}

PROVIDER = Provider(
    id="http",
    name="HTTP",
    description="Any HTTP API: base URL, headers and authentication of your choice.",
    version="v1",
    config_schema=CONFIG_SCHEMA,
    base_url_keys=("base_url",),
    credential_url_keys=("base_url", "issuer_url"),
)

REQUEST_SCHEMA: dict[str, Any] = {
    "$schema": DRAFT,
    "title": "HTTP request",
    "description": "Any JSON object: the (mapped) request body.",
    "type": "object",
}

EXECUTORS = (
    CatalogExecutor(
        id="http",
        name="HTTP Request",
        category="generic",
        version="v1",
        provider_id="http",
        schema=REQUEST_SCHEMA,
        request=RequestSpec(
            builder="generic",
            method="POST",
            auth={
                "type": "$auth_type",
                "key": "api_key",
                "header_name": "api_key_header",
                "token": "bearer_token",
                "username": "username",
                "password": "password",
                "issuer_url": "issuer_url",
                "client_id": "client_id",
                "client_secret": "client_secret",
                "scopes": "scopes",
            },
        ),
    ),
)
