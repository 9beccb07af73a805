"""Provider ``tracer`` (Lerian's compliance rules and limits) and its two executors (reference 4.2)."""

from __future__ import annotations

from typing import Any

from flowker.catalog.model import DRAFT, CatalogExecutor, Provider, RequestSpec

CONFIG_SCHEMA: dict[str, Any] = {
    "$schema": DRAFT,
    "title": "Tracer provider configuration",
    "type": "object",
    "properties": {
        "base_url": {"type": "string", "format": "uri", "minLength": 1, "description": "Tracer's API."},
        "api_key": {
            "type": "string",
            "minLength": 1,
            "writeOnly": True,
            "description": "Sent as `X-API-Key` on every call (encrypted at rest, never shown).",
        },
    },
    "required": ["base_url", "api_key"],
    "additionalProperties": False,
}

PROVIDER = Provider(
    id="tracer",
    name="Tracer",
    description="Lerian Tracer: transaction validation against compliance rules and limits.",
    version="v1",
    config_schema=CONFIG_SCHEMA,
    base_url_keys=("base_url",),
    credential_url_keys=("base_url",),
)

_METADATA = {"type": "object", "maxProperties": 50, "propertyNames": {"maxLength": 64}}
_NAMED = {
    "type": "object",
    "properties": {"name": {"type": "string"}, "metadata": _METADATA},
}

VALIDATE_TRANSACTION: dict[str, Any] = {
    "$schema": DRAFT,
    "title": "Tracer validate transaction",
    "type": "object",
    "properties": {
        "requestId": {"type": "string", "format": "uuid"},
        "transactionType": {"enum": ["CARD", "WIRE", "PIX", "CRYPTO"]},
        "subType": {"type": "string"},
        "amount": {"type": "string", "pattern": r"^-?[0-9]+(\.[0-9]+)?$"},
        "currency": {"type": "string", "pattern": "^[A-Z]{3}$"},
        "transactionTimestamp": {"type": "string", "format": "date-time"},
        "account": {
            "type": "object",
            "properties": {
                "accountId": {"type": "string", "minLength": 1},
                "type": {"enum": ["checking", "savings", "credit"]},
                "status": {"enum": ["active", "suspended", "closed"]},
                "metadata": _METADATA,
            },
            "required": ["accountId", "type", "status"],
        },
        "segment": {
            "type": "object",
            "properties": {**_NAMED["properties"], "segmentId": {"type": "string"}},
        },
        "portfolio": {
            "type": "object",
            "properties": {**_NAMED["properties"], "portfolioId": {"type": "string"}},
        },
        "merchant": {
            "type": "object",
            "properties": {
                "merchantId": {"type": "string"},
                "name": {"type": "string"},
                "category": {"type": "string", "minLength": 4, "maxLength": 4},
                "country": {"type": "string", "minLength": 2, "maxLength": 2},
                "metadata": _METADATA,
            },
        },
        "metadata": _METADATA,
    },
    "required": ["requestId", "transactionType", "amount", "currency", "transactionTimestamp", "account"],
    "additionalProperties": False,
}

LIST_VALIDATIONS: dict[str, Any] = {
    "$schema": DRAFT,
    "title": "Tracer list validations",
    "type": "object",
    "properties": {
        "decision": {"enum": ["ALLOW", "DENY", "REVIEW"]},
        "transactionType": {"enum": ["CARD", "WIRE", "PIX", "CRYPTO"]},
        "accountId": {"type": "string"},
        "limit": {"type": "integer", "minimum": 1, "maximum": 100},
        "cursor": {"type": "string"},
        "sortBy": {"enum": ["createdAt"]},
        "sortOrder": {"enum": ["ASC", "DESC", "asc", "desc"]},
    },
    "additionalProperties": False,
}

_AUTH = {"type": "api_key", "key": "api_key", "header": "X-API-Key"}

EXECUTORS = (
    CatalogExecutor(
        id="tracer.validate-transaction",
        name="Tracer Validate Transaction",
        category="compliance",
        version="v1",
        provider_id="tracer",
        schema=VALIDATE_TRANSACTION,
        request=RequestSpec(builder="generic", method="POST", path="/v1/validations", auth=_AUTH),
    ),
    CatalogExecutor(
        id="tracer.list-validations",
        name="Tracer List Validations",
        category="compliance",
        version="v1",
        provider_id="tracer",
        schema=LIST_VALIDATIONS,
        request=RequestSpec(builder="generic", method="GET", path="/v1/validations", auth=_AUTH),
    ),
)
