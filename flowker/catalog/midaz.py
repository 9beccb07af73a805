"""Provider ``midaz`` (Lerian's ledger) and its four executors (reference 4.2)."""

from __future__ import annotations

from typing import Any

from flowker.catalog.model import DRAFT, CatalogExecutor, Provider, RequestSpec

_URI = {"type": "string", "format": "uri", "minLength": 1}
_UUID = {"type": "string", "format": "uuid"}
_METADATA: dict[str, Any] = {"type": "object"}

CONFIG_SCHEMA: dict[str, Any] = {
    "$schema": DRAFT,
    "title": "Midaz provider configuration",
    "type": "object",
    "properties": {
        "onboarding_base_url": {**_URI, "description": "Base URL of Midaz's onboarding API."},
        "transaction_base_url": {**_URI, "description": "Base URL of Midaz's transaction API."},
        "organization_id": {**_UUID, "description": "The Midaz organization."},
        "ledger_id": {**_UUID, "description": "The Midaz ledger."},
        "auth": {
            "type": "object",
            "description": "OIDC client credentials for Midaz (optional).",
            "properties": {
                "issuer_url": _URI,
                "client_id": {"type": "string", "minLength": 1},
                "client_secret": {"type": "string", "minLength": 1, "writeOnly": True},
                "scopes": {"type": "array", "items": {"type": "string"}},
            },
            "required": ["issuer_url", "client_id", "client_secret"],
            "additionalProperties": False,
        },
    },
    "required": ["onboarding_base_url", "transaction_base_url", "organization_id", "ledger_id"],
    "additionalProperties": False,
}

PROVIDER = Provider(
    id="midaz",
    name="Midaz",
    description="Lerian Midaz ledger: accounts, balances and transactions.",
    version="v1",
    config_schema=CONFIG_SCHEMA,
    base_url_keys=("onboarding_base_url", "transaction_base_url"),
    credential_url_keys=("onboarding_base_url", "transaction_base_url", "auth.issuer_url"),
)

_DECIMAL = {"type": "string", "pattern": r"^-?[0-9]+(\.[0-9]+)?$"}
_OPERATION = {
    "type": "object",
    "properties": {
        "accountAlias": {"type": "string", "minLength": 1},
        "amount": {
            "type": "object",
            "properties": {"asset": {"type": "string"}, "value": _DECIMAL},
            "required": ["asset", "value"],
        },
        "share": {
            "type": "object",
            "properties": {"percentage": {"type": "integer"}, "percentageOfPercentage": {"type": "integer"}},
        },
        "description": {"type": "string"},
        "chartOfAccounts": {"type": "string"},
        "metadata": _METADATA,
    },
    "required": ["accountAlias"],
}
CREATE_TRANSACTION: dict[str, Any] = {
    "$schema": DRAFT,
    "title": "Midaz create transaction",
    "type": "object",
    "properties": {
        "description": {"type": "string", "maxLength": 256},
        "code": {"type": "string", "maxLength": 100},
        "pending": {"type": "boolean"},
        "chartOfAccountsGroupName": {"type": "string"},
        "metadata": _METADATA,
        "send": {
            "type": "object",
            "properties": {
                "asset": {"type": "string", "minLength": 1},
                "value": _DECIMAL,
                "source": {
                    "type": "object",
                    "properties": {"from": {"type": "array", "minItems": 1, "items": _OPERATION}},
                    "required": ["from"],
                },
                "distribute": {
                    "type": "object",
                    "properties": {"to": {"type": "array", "minItems": 1, "items": _OPERATION}},
                    "required": ["to"],
                },
            },
            "required": ["asset", "value", "source", "distribute"],
        },
    },
    "required": ["send"],
    "additionalProperties": False,
}
CREATE_ACCOUNT: dict[str, Any] = {
    "$schema": DRAFT,
    "title": "Midaz create account",
    "type": "object",
    "properties": {
        "assetCode": {"type": "string", "minLength": 1},
        "type": {"type": "string", "minLength": 1},
        "name": {"type": "string"},
        "alias": {"type": "string"},
        "parentAccountId": _UUID,
        "portfolioId": _UUID,
        "segmentId": _UUID,
        "entityId": {"type": "string"},
        "status": {
            "type": "object",
            "properties": {"code": {"type": "string"}, "description": {"type": "string"}},
        },
        "metadata": _METADATA,
    },
    "required": ["assetCode", "type"],
    "additionalProperties": False,
}

GET_ACCOUNT: dict[str, Any] = {
    "$schema": DRAFT,
    "title": "Midaz get account",
    "type": "object",
    "properties": {"accountId": _UUID},
    "required": ["accountId"],
    "additionalProperties": False,
}

GET_ACCOUNT_BALANCE: dict[str, Any] = {
    "$schema": DRAFT,
    "title": "Midaz get account balance",
    "type": "object",
    "properties": {
        "accountId": _UUID,
        "limit": {"type": "integer", "minimum": 1, "maximum": 100},
        "cursor": {"type": "string"},
    },
    "required": ["accountId"],
    "additionalProperties": False,
}

_LEDGER = "/v1/organizations/{org}/ledgers/{ledger}"
_PARAMS = {"org": "organization_id", "ledger": "ledger_id", "accountId": "accountId"}
_AUTH = {
    "type": "oidc_client_credentials",
    "issuer_url": "auth.issuer_url",
    "client_id": "auth.client_id",
    "client_secret": "auth.client_secret",
    "scopes": "auth.scopes",
}


def _request(method: str, base: str, path: str) -> RequestSpec:
    return RequestSpec(
        builder="path-template",
        method=method,
        path=_LEDGER + path,
        base_url_key=base,
        path_params=_PARAMS,
        body_methods=("POST",),
        auth=_AUTH,
    )


EXECUTORS = (
    CatalogExecutor(
        id="midaz.create-transaction",
        name="Midaz Create Transaction",
        category="ledger",
        version="v1",
        provider_id="midaz",
        schema=CREATE_TRANSACTION,
        request=_request("POST", "transaction_base_url", "/transactions/json"),
    ),
    CatalogExecutor(
        id="midaz.create-account",
        name="Midaz Create Account",
        category="ledger",
        version="v1",
        provider_id="midaz",
        schema=CREATE_ACCOUNT,
        request=_request("POST", "onboarding_base_url", "/accounts"),
    ),
    CatalogExecutor(
        id="midaz.get-account",
        name="Midaz Get Account",
        category="ledger",
        version="v1",
        provider_id="midaz",
        schema=GET_ACCOUNT,
        request=_request("GET", "onboarding_base_url", "/accounts/{accountId}"),
    ),
    CatalogExecutor(
        id="midaz.get-account-balance",
        name="Midaz Get Account Balance",
        category="ledger",
        version="v1",
        provider_id="midaz",
        schema=GET_ACCOUNT_BALANCE,
        request=_request("GET", "transaction_base_url", "/accounts/{accountId}/balances"),
    ),
)
