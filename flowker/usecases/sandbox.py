"""Creating the sandbox's configurations at start, idempotently by name (``flowker serve --sandbox``):
the executor configurations ``sandbox-kyc`` and ``sandbox-aml`` and the provider configurations
``sandbox-tracer`` and ``sandbox-midaz``.

A configuration whose name is taken is left as it is, whoever made it and however it was edited since:
a second start creates nothing, and a user's changes stand. One exception keeps the sandbox usable when
the service moves to another port: a configuration that is still the sandbox's own (every field as the
sandbox makes it but the base URL, which is the same sandbox path on a loopback origin; secrets are not
compared) is moved to this start's origin, credentials included (they are bound to their origin).
Creation and moves go through the use case, so they are validated, sealed and audited like any other.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

from flowker.catalog import registry
from flowker.codes import EXECUTOR_CONFIG_NAME_TAKEN, PROVIDER_CONFIG_NAME_TAKEN
from flowker.domain.authentication import check_authentication, mask_authentication
from flowker.domain.executor_config import ExecutorConfig, ExecutorConfigInput, ExecutorStatus, normalize
from flowker.domain.provider_config import (
    MASK,
    ProviderConfig,
    ProviderConfigInput,
    ProviderConfigStatus,
    config_value,
    mask_config,
    secret_paths,
)
from flowker.domain.sandbox_configs import sandbox_executor_configs, sandbox_provider_configs
from flowker.errors import Conflict
from flowker.store.ports import ListQuery, ProviderConfigQuery
from flowker.usecases.executor_configs import ExecutorConfigs
from flowker.usecases.provider_configs import ProviderConfigs

#: Configurations read per page while looking one up by name.
_PAGE = 100
_LOOPBACK_HOSTS = ("127.0.0.1", "::1", "localhost")
#: The fields besides the base URL and authentication that must be as the sandbox makes them.
_COMPARED = ("description", "endpoints", "metadata", "circuitBreaker")

State = Literal["created", "kept", "moved"]


@dataclass(frozen=True)
class SandboxConfig:
    """One configuration the sandbox wants: its id, what this start did with it, and its base URL now
    (another than this start's for a kept one that a previous start on another port created and someone
    changed since). ``moved_from``: the base URL a moved one had."""

    name: str
    id: str
    state: State
    base_url: str
    moved_from: str | None = None


async def ensure_sandbox_configs(configs: ExecutorConfigs, base_url: str) -> list[SandboxConfig]:
    """Create each of :func:`sandbox_executor_configs` whose name is free; report every one."""
    result = []
    for body in sandbox_executor_configs(base_url):
        try:
            made = await configs.create(ExecutorConfigInput.model_validate(body))
            result.append(SandboxConfig(made.name, made.id, "created", made.baseUrl))
            continue
        except Conflict as exc:
            if exc.code != EXECUTOR_CONFIG_NAME_TAKEN:
                raise
        found = await _by_name(configs, body["name"])
        if found is None:  # deleted again since; the next start creates it
            continue
        if _left_behind(found, body):
            patch = ExecutorConfigInput.model_validate(
                {"baseUrl": body["baseUrl"], "authentication": body["authentication"]}
            )
            moved = await configs.patch(found.id, patch)
            result.append(SandboxConfig(moved.name, moved.id, "moved", moved.baseUrl, found.baseUrl))
        else:
            result.append(SandboxConfig(found.name, found.id, "kept", found.baseUrl))
    return result


async def ensure_sandbox_provider_configs(configs: ProviderConfigs, base_url: str) -> list[SandboxConfig]:
    """Create each of :func:`sandbox_provider_configs` whose name is free, by the same rules as
    :func:`ensure_sandbox_configs` (a still untouched one follows the sandbox to another origin); report
    every one, its base URL being the first of its provider's ``base_url_keys``."""
    result = []
    for body in sandbox_provider_configs(base_url):
        try:
            made = await configs.create(ProviderConfigInput.model_validate(body))
            result.append(
                SandboxConfig(made.name, made.id, "created", _base_url(made.providerId, made.config))
            )
            continue
        except Conflict as exc:
            if exc.code != PROVIDER_CONFIG_NAME_TAKEN:
                raise
        found = await _provider_config_by_name(configs, body["name"])
        if found is None:  # deleted again since; the next start creates it
            continue
        was = _base_url(found.providerId, found.config)
        if _provider_config_left_behind(found, body):
            moved = await configs.patch(
                found.id, ProviderConfigInput.model_validate({"config": body["config"]})
            )
            result.append(
                SandboxConfig(moved.name, moved.id, "moved", _base_url(moved.providerId, moved.config), was)
            )
        else:
            result.append(SandboxConfig(found.name, found.id, "kept", was))
    return result


def _base_url(provider_id: str, config: dict[str, Any]) -> str:
    keys = registry.PROVIDERS[provider_id].base_url_keys if provider_id in registry.PROVIDERS else ()
    return next((str(u) for k in keys if isinstance(u := config_value(config, k), str)), "")


def _provider_config_left_behind(found: ProviderConfig, wanted: dict[str, Any]) -> bool:
    """Whether ``found`` is the sandbox's own ``wanted`` as a start on another loopback origin made it:
    active, of the same provider, description and metadata as the sandbox makes them, every ``config``
    value the same but its URLs (each the same sandbox path on a loopback origin) and secrets (masked)."""
    provider = registry.PROVIDERS.get(found.providerId)
    if provider is None or found.status != ProviderConfigStatus.ACTIVE:
        return False
    if found.providerId != wanted["providerId"] or found.description != wanted.get("description"):
        return False
    if found.metadata != wanted.get("metadata"):
        return False
    clear = copy.deepcopy(wanted["config"])
    for path in secret_paths(clear, provider.config_schema):
        _put(clear, path.removeprefix("$."), MASK)
    moved = False
    for key in provider.credential_url_keys:
        old, new = config_value(found.config, key), config_value(clear, key)
        if old == new:
            continue
        if not (isinstance(old, str) and isinstance(new, str) and _same_sandbox_path(old, new)):
            return False
        _put(clear, key, old)
        moved = True
    return moved and mask_config(found.config) == clear


def _same_sandbox_path(old_url: str, new_url: str) -> bool:
    old, new = urlsplit(old_url), urlsplit(new_url)
    return old.path == new.path and (old.hostname or "") in (*_LOOPBACK_HOSTS, new.hostname)


def _put(config: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, last = dotted.split(".")
    for part in parents:
        config = config[part]
    config[last] = value


async def _provider_config_by_name(configs: ProviderConfigs, name: str) -> ProviderConfig | None:
    query = ProviderConfigQuery(limit=_PAGE, sort_by="name", sort_order="ASC")
    while True:
        page = await configs.list(query)
        for config in page.items:
            if config.name == name:
                return config
        if not page.has_more or not page.items:
            return None
        last = page.items[-1]
        query = ProviderConfigQuery(limit=_PAGE, sort_by="name", sort_order="ASC", after=(last.name, last.id))


def _left_behind(found: ExecutorConfig, wanted: dict[str, Any]) -> bool:
    """Whether ``found`` is the sandbox's own ``wanted`` as a start on another loopback origin made it."""
    if found.baseUrl == wanted["baseUrl"] or found.status != ExecutorStatus.ACTIVE:
        return False
    old, new = urlsplit(found.baseUrl), urlsplit(wanted["baseUrl"])
    if old.path != new.path or (old.hostname or "") not in (*_LOOPBACK_HOSTS, new.hostname):
        return False
    fields = normalize(ExecutorConfigInput.model_validate(wanted))
    auth = check_authentication(wanted["authentication"]["type"], wanted["authentication"]["config"])
    same = all(getattr(found, name) == fields[name] for name in _COMPARED)
    return same and mask_authentication(found.authentication) == mask_authentication(auth)


async def _by_name(configs: ExecutorConfigs, name: str) -> ExecutorConfig | None:
    query = ListQuery(limit=_PAGE, sort_by="createdAt", sort_order="ASC")
    while True:
        page = await configs.list(query)
        for config in page.items:
            if config.name == name:
                return config
        if not page.has_more or not page.items:
            return None
        last = page.items[-1]
        query = ListQuery(limit=_PAGE, sort_by="createdAt", sort_order="ASC", after=(last.createdAt, last.id))
