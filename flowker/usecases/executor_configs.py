"""Executor configuration management: create, read, patch, delete, enable and disable.

Secrets are sealed here, before anything reaches the store, and never leave except masked.
"""

from __future__ import annotations

import uuid
from typing import Any

from flowker.clock import Clock, iso, utc_now
from flowker.domain.authentication import check_authentication, seal_authentication
from flowker.domain.executor_config import (
    ExecutorConfig,
    ExecutorConfigInput,
    ExecutorStatus,
    merge_patch,
    normalize,
)
from flowker.domain.metadata import check_metadata
from flowker.errors import BadRequest, NotFound, Unprocessable
from flowker.secretbox import SecretBox
from flowker.store.ports import ListQuery, Page, Store

#: status -> (action, next status)
TOGGLES = {
    "disable": (ExecutorStatus.ACTIVE, ExecutorStatus.DISABLED),
    "enable": (ExecutorStatus.DISABLED, ExecutorStatus.ACTIVE),
}


class ExecutorConfigs:
    """The executor configuration use cases over a store and a secret box."""

    def __init__(self, store: Store, box: SecretBox, clock: Clock = utc_now) -> None:
        self._store = store
        self._box = box
        self._clock = clock

    async def create(self, body: ExecutorConfigInput) -> ExecutorConfig:
        """Validate and save a new, active configuration. 409 FLK-0251 when the name is taken."""
        fields = normalize(body)
        check_metadata(fields["metadata"])
        fields["authentication"] = seal_authentication(_checked_authentication(body), self._box)
        now = iso(self._clock())
        config = ExecutorConfig(
            **fields, id=str(uuid.uuid4()), status=ExecutorStatus.ACTIVE, createdAt=now, updatedAt=now
        )
        return await self._store.executor_configs.create(config)

    async def get(self, config_id: str) -> ExecutorConfig:
        """The configuration, or 404 FLK-0250."""
        config = await self._store.executor_configs.get(config_id)
        if config is None:
            raise NotFound(f"executor configuration {config_id} not found", code="FLK-0250")
        return config

    async def list(self, query: ListQuery) -> Page[ExecutorConfig]:
        """One page of configurations."""
        return await self._store.executor_configs.list(query)

    async def patch(self, config_id: str, patch: ExecutorConfigInput) -> ExecutorConfig:
        """Change the fields ``patch`` sets. A masked secret sent back keeps the stored one.

        Removing an endpoint that an active workflow calls is refused (422 FLK-0252).
        """
        current = await self.get(config_id)
        fields = normalize(merge_patch(current, patch))
        check_metadata(fields["metadata"])
        if "authentication" in patch.model_fields_set:
            fields["authentication"] = seal_authentication(
                _checked_authentication(patch), self._box, previous=current.authentication
            )
        updated = current.model_copy(update={**fields, "updatedAt": iso(self._clock())})
        return await self._store.executor_configs.replace(updated)

    async def delete(self, config_id: str) -> None:
        """Delete, unless an active workflow uses it (422 FLK-0252)."""
        await self._store.executor_configs.delete(await self.get(config_id))

    async def toggle(self, config_id: str, action: str) -> ExecutorConfig:
        """``disable`` an active configuration or ``enable`` a disabled one (else 422 FLK-0252)."""
        current = await self.get(config_id)
        expected, target = TOGGLES[action]
        if current.status != expected:
            raise Unprocessable(
                f"cannot {action} an executor configuration that is {current.status.value}", code="FLK-0252"
            )
        updated = current.model_copy(update={"status": target, "updatedAt": iso(self._clock())})
        return await self._store.executor_configs.replace(updated)


def _checked_authentication(body: ExecutorConfigInput) -> dict[str, Any]:
    if body.authentication is None:
        raise BadRequest("authentication is required", code="FLK-0266")
    return check_authentication(body.authentication.type, body.authentication.config)
