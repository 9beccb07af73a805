"""Creating the sandbox's configurations at start, idempotently by name (``flowker serve --sandbox``).

A configuration whose name is taken is left as it is, whoever made it and however it was edited since:
a second start creates nothing, and a user's changes stand. One exception keeps the sandbox usable when
the service moves to another port: a configuration that is still the sandbox's own (every field as the
sandbox makes it but the base URL, which is the same sandbox path on a loopback origin; secrets are not
compared) is moved to this start's origin, credentials included (they are bound to their origin).
Creation and moves go through the use case, so they are validated, sealed and audited like any other.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

from flowker.codes import EXECUTOR_CONFIG_NAME_TAKEN
from flowker.domain.authentication import check_authentication, mask_authentication
from flowker.domain.executor_config import ExecutorConfig, ExecutorConfigInput, ExecutorStatus, normalize
from flowker.domain.sandbox_configs import sandbox_executor_configs
from flowker.errors import Conflict
from flowker.store.ports import ListQuery
from flowker.usecases.executor_configs import ExecutorConfigs

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
