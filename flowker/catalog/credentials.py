"""The static credentials a provider configuration sends, from its executors' ``auth`` description."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

from flowker.catalog import registry
from flowker.domain.provider_config import config_value


def auth_spec(provider_id: str) -> Mapping[str, str]:
    """The ``auth`` description shared by the provider's executors (empty when it has none)."""
    executors = registry.provider_executors(provider_id)
    return executors[0].request.auth if executors else {}


def auth_type(provider_id: str, config: Mapping[str, Any]) -> str:
    """``none``, ``api_key``, ``bearer``, ``basic`` or ``oidc_client_credentials`` for a clear config."""
    spec = auth_spec(provider_id)
    kind = spec.get("type", "none")
    if kind.startswith("$"):
        kind = str(config_value(config, kind[1:]) or "none")
    if kind == "oidc_client_credentials" and not config_value(config, spec.get("client_secret", "")):
        return "none"  # Midaz's auth block is optional
    return kind


def static_headers(provider_id: str, config: Mapping[str, Any]) -> dict[str, str]:
    """The headers a clear ``config`` sends on every call: its ``headers`` map, then its API key,
    bearer token or basic credentials as its provider's ``auth`` says (OIDC tokens are not static)."""
    spec = auth_spec(provider_id)
    headers = {str(k): str(v) for k, v in (config.get("headers") or {}).items()}
    kind = auth_type(provider_id, config)
    if kind == "api_key" and config_value(config, spec["key"]):
        named = config_value(config, spec["header_name"]) if "header_name" in spec else None
        headers[str(named or spec.get("header") or "X-API-Key")] = str(config_value(config, spec["key"]))
    elif kind == "bearer" and config_value(config, spec.get("token", "")):
        headers["Authorization"] = f"Bearer {config_value(config, spec['token'])}"
    elif kind == "basic":
        pair = f"{config_value(config, spec['username'])}:{config_value(config, spec['password'])}"
        headers["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode()
    return headers
