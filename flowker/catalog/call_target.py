"""A provider configuration as the executor machinery calls it: the executor configuration it stands for.

An executor node in catalog form (``executorId`` + ``providerConfigId``) is called through the executor
actor of its provider configuration — one per configuration, with its token cache and breaker, exactly as
for an executor configuration. That actor reads :func:`call_target` of the configuration: one endpoint per
catalog executor of its provider, named by the executor's id, built from the executor's
:class:`~flowker.catalog.model.RequestSpec`:

* ``path-template`` (Midaz): the URL under the configuration's ``base_url_key``, placeholders that name a
  configuration value filled now (``{org}`` from ``organization_id``), the others (``{accountId}``) at call
  time from the node's data, then the body; a body only for the spec's ``body_methods``.
* ``generic`` (tracer, http; reference 4.3): the configuration's ``base_url``, joined at call time with the
  node's ``data.path`` (else the executor's own path); the node's ``data.method``, else the executor's.

The URL is whole in each endpoint's ``path`` (``baseUrl`` is empty): Midaz's executors live under two base
URLs. Its authentication is the one the provider's ``auth`` description names, the secrets copied still
sealed (the executor actor opens them as it opens an executor configuration's).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from flowker.catalog import registry
from flowker.catalog.credentials import auth_spec, auth_type
from flowker.domain.executor_config import ExecutorConfig, ExecutorStatus
from flowker.domain.provider_config import ProviderConfig, ProviderConfigStatus, config_value

#: Seconds a catalog executor's call may take when the configuration sets no ``timeout_seconds``.
DEFAULT_TIMEOUT_SECONDS = 30
_AUTH_FIELDS = ("key", "token", "username", "password", "issuer_url", "client_id", "client_secret", "scopes")


def call_target(provider_config: ProviderConfig) -> ExecutorConfig:
    """The executor configuration ``provider_config`` is called through (secrets still sealed)."""
    config = provider_config.config
    timeout = config.get("timeout_seconds") or DEFAULT_TIMEOUT_SECONDS
    endpoints: list[dict[str, Any]] = []
    for executor in registry.provider_executors(provider_config.providerId):
        spec = executor.request
        base = str(config_value(config, spec.base_url_key) or "").rstrip("/")
        endpoint: dict[str, Any] = {"name": executor.id, "method": spec.method, "timeout": timeout}
        if spec.builder == "generic":
            endpoint.update(builder="generic", path=base, defaultPath=spec.path)
        else:
            endpoint.update(path=base + _static(spec.path, spec.path_params, config))
        endpoint["bodyMethods"] = list(spec.body_methods)
        endpoints.append(endpoint)
    active = provider_config.status == ProviderConfigStatus.ACTIVE
    return ExecutorConfig(
        id=provider_config.id,
        name=provider_config.name,
        baseUrl="",
        endpoints=endpoints,
        authentication=authentication(provider_config.providerId, config),
        status=ExecutorStatus.ACTIVE if active else ExecutorStatus.DISABLED,
        metadata={"providerId": provider_config.providerId},
        createdAt=provider_config.createdAt,
        updatedAt=provider_config.updatedAt,
        revision=provider_config.revision,
        staticHeaders=dict(config.get("headers") or {}) or None,
    )


def authentication(provider_id: str, config: Mapping[str, Any]) -> dict[str, Any]:
    """The ``authentication`` block (executor-configuration form) a provider configuration's calls use.

    ``auth_type`` decides from the values present, and reads none of the secrets: a sealed value is a
    non-empty string as a clear one is.
    """
    spec = auth_spec(provider_id)
    kind = auth_type(provider_id, config)
    if kind == "none":
        return {"type": "none", "config": {}}
    fields: dict[str, Any] = {}
    for name in _AUTH_FIELDS:
        if name in spec:
            value = config_value(config, spec[name])
            if value not in (None, ""):
                fields[name] = value
    if kind == "api_key":
        named = config_value(config, spec["header_name"]) if "header_name" in spec else None
        fields["header_name"] = str(named or spec.get("header") or "X-API-Key")
    return {"type": kind, "config": fields}


def _static(path: str, params: Mapping[str, str], config: Mapping[str, Any]) -> str:
    """``path`` with the placeholders whose value the configuration holds filled (the others kept)."""
    for placeholder, key in params.items():
        value = config_value(config, key)
        if isinstance(value, str | int) and not isinstance(value, bool):
            path = path.replace("{" + placeholder + "}", quote(str(value), safe=""))
    return path
