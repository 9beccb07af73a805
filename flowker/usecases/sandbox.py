"""Creating the sandbox's configurations at start, idempotently by name (``flowker serve --sandbox``).

A configuration whose name is taken is left as it is, whoever made it and however it was edited since:
a second start creates nothing, and a user's changes stand. Creation goes through the use case, so it is
validated, sealed and audited like any other.
"""

from __future__ import annotations

from dataclasses import dataclass

from flowker.codes import EXECUTOR_CONFIG_NAME_TAKEN
from flowker.domain.executor_config import ExecutorConfig, ExecutorConfigInput
from flowker.domain.sandbox_configs import sandbox_executor_configs
from flowker.errors import Conflict
from flowker.store.ports import ListQuery
from flowker.usecases.executor_configs import ExecutorConfigs

#: Configurations read per page while looking one up by name.
_PAGE = 100


@dataclass(frozen=True)
class SandboxConfig:
    """One configuration the sandbox wants: its id, whether this start created it, and its base URL
    (another than this start's when a previous start on another port created it)."""

    name: str
    id: str
    created: bool
    base_url: str


async def ensure_sandbox_configs(configs: ExecutorConfigs, base_url: str) -> list[SandboxConfig]:
    """Create each of :func:`sandbox_executor_configs` whose name is free; report every one."""
    result = []
    for body in sandbox_executor_configs(base_url):
        try:
            made = await configs.create(ExecutorConfigInput.model_validate(body))
            result.append(SandboxConfig(made.name, made.id, True, made.baseUrl))
        except Conflict as exc:
            if exc.code != EXECUTOR_CONFIG_NAME_TAKEN:
                raise
            found = await _by_name(configs, body["name"])
            if found is not None:  # None: deleted again since; the next start creates it
                result.append(SandboxConfig(found.name, found.id, False, found.baseUrl))
    return result


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
