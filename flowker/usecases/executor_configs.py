"""Executor configuration management: create, read, patch, delete, enable and disable.

Secrets are sealed here, before anything reaches the store, and never leave except masked.
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from typing import Any

from flowker.clock import Clock, iso, utc_now
from flowker.codes import (
    CREDENTIALS_BOUND_TO_ORIGIN,
    DESTINATION_REFUSED,
    EXECUTOR_CONFIG_NOT_ALLOWED,
    EXECUTOR_CONFIG_NOT_FOUND,
    NO_AUTHENTICATION,
)
from flowker.domain.audit import SYSTEM, Actor, AuditAction, AuditEvent, ResourceType
from flowker.domain.authentication import (
    check_authentication,
    has_secrets,
    keeps_secrets,
    seal_authentication,
)
from flowker.domain.breaker_state import BreakerRecord, breaker_view
from flowker.domain.executor_config import (
    ExecutorConfig,
    ExecutorConfigInput,
    ExecutorStatus,
    merge_patch,
    normalize,
    origin,
)
from flowker.domain.metadata import check_metadata
from flowker.domain.outbound import OutboundPolicy
from flowker.errors import BadRequest, NotFound, StateChanged, Unprocessable
from flowker.secretbox import SecretBox
from flowker.store.ports import ListQuery, Page, Store
from flowker.usecases.executor_notices import notify_changed, release
from flowker.usecases.outbox import publish
from flowker.usecases.ports import Runtime

log = logging.getLogger("flowker.executors")

TOGGLE_EVENTS = {
    "disable": ("EXECUTOR_CONFIG_DISABLED", AuditAction.DISABLE),
    "enable": ("EXECUTOR_CONFIG_ENABLED", AuditAction.ENABLE),
}
#: action -> (status it needs, status it gives)
TOGGLES = {
    "disable": (ExecutorStatus.ACTIVE, ExecutorStatus.DISABLED),
    "enable": (ExecutorStatus.DISABLED, ExecutorStatus.ACTIVE),
}


class ExecutorConfigs:
    """The executor configuration use cases over a store and a secret box."""

    def __init__(
        self,
        store: Store,
        box: SecretBox,
        runtime: Runtime,
        clock: Clock = utc_now,
        outbound: OutboundPolicy | None = None,
    ) -> None:
        self._store = store
        self._box = box
        self._runtime = runtime
        self._clock = clock
        self._outbound = outbound if outbound is not None else OutboundPolicy()

    def _check_destinations(self, base_url: str, authentication: dict[str, Any] | None) -> None:
        """422 FLK-0341 for a URL the outbound policy refuses before any lookup (plain http in production
        mode, an IP literal in a refused range); names resolve only at call time."""
        config = (authentication or {}).get("config") or {}
        urls = [("baseUrl", base_url)] + [
            (f"authentication.config.{name}", config[name]) for name in _ISSUER_FIELDS if config.get(name)
        ]
        for where, url in urls:
            if reason := self._outbound.refusal(url):
                raise Unprocessable(f"{where}: {reason}", code=DESTINATION_REFUSED)

    @staticmethod
    def _event(event_type: str, action: AuditAction, config: ExecutorConfig, actor: Actor) -> AuditEvent:
        return AuditEvent(
            event_type=event_type,
            action=action,
            resource_type=ResourceType.EXECUTOR_CONFIG,
            resource_id=config.id,
            actor=actor,
            metadata={"executorConfig.name": config.name, "executorConfig.status": config.status.value},
        )

    async def create(self, body: ExecutorConfigInput, actor: Actor = SYSTEM) -> ExecutorConfig:
        """Validate and save a new, active configuration. 409 FLK-0251 when the name is taken."""
        fields = normalize(body)
        check_metadata(fields["metadata"])
        clear = _checked_authentication(body)
        self._check_destinations(fields["baseUrl"], clear)
        fields["authentication"] = seal_authentication(clear, self._box)
        now = iso(self._clock())
        config = ExecutorConfig(
            **fields, id=str(uuid.uuid4()), status=ExecutorStatus.ACTIVE, createdAt=now, updatedAt=now
        )
        event = self._event("EXECUTOR_CONFIG_CREATED", AuditAction.CREATE, config, actor)
        created = await self._store.executor_configs.create(config, [event])
        await publish(self._runtime.record, [event])
        return created

    async def get(self, config_id: str) -> ExecutorConfig:
        """The configuration, or 404 FLK-0250."""
        config = await self._store.executor_configs.get(config_id)
        if config is None:
            raise NotFound(f"executor configuration {config_id} not found", code=EXECUTOR_CONFIG_NOT_FOUND)
        return config

    async def list(self, query: ListQuery) -> Page[ExecutorConfig]:
        """One page of configurations."""
        return await self._store.executor_configs.list(query)

    async def patch(
        self, config_id: str, patch: ExecutorConfigInput, actor: Actor = SYSTEM
    ) -> ExecutorConfig:
        """Change the fields ``patch`` sets. A masked secret sent back keeps the stored one.

        Removing an endpoint that an active workflow calls is refused (422 FLK-0252).
        """
        current = await self.get(config_id)
        fields = normalize(merge_patch(current, patch))
        check_metadata(fields["metadata"])
        clear = _checked_authentication(patch) if "authentication" in patch.model_fields_set else None
        self._check_destinations(fields["baseUrl"], clear if clear is not None else current.authentication)
        moves = _moves(current, fields["baseUrl"], clear)
        if moves and has_secrets(current.authentication) and (clear is None or keeps_secrets(clear)):
            raise Unprocessable(
                f"{' and '.join(moves)} moves to another origin: the stored credentials stay with the origin "
                "they were entered for; send them again (every secret in authentication.config) with this "
                "change",
                code=CREDENTIALS_BOUND_TO_ORIGIN,
            )
        if clear is not None:
            fields["authentication"] = seal_authentication(clear, self._box, previous=current.authentication)
        updated = current.model_copy(update={**fields, "updatedAt": iso(self._clock())})
        event = self._event("EXECUTOR_CONFIG_UPDATED", AuditAction.UPDATE, updated, actor)
        if "baseUrl" in moves:
            # Where the credentials now go is worth an auditor's eye: origins only, never a secret.
            event.metadata["executorConfig.previousOrigin"] = _shown_origin(current.baseUrl)
            event.metadata["executorConfig.origin"] = _shown_origin(updated.baseUrl)
        stored = await self._store.executor_configs.replace(updated, [event])
        await publish(self._runtime.record, [event])
        await self._notify(config_id)
        return stored

    async def _notify(self, config_id: str) -> None:
        await notify_changed(self._runtime, config_id)

    async def delete(self, config_id: str, actor: Actor = SYSTEM) -> None:
        """Delete, unless an active workflow uses it (422 FLK-0252)."""
        current = await self.get(config_id)
        event = self._event("EXECUTOR_CONFIG_DELETED", AuditAction.DELETE, current, actor)
        await self._store.executor_configs.delete(current, [event])
        await publish(self._runtime.record, [event])
        await self._release(config_id)

    async def toggle(self, config_id: str, action: str, actor: Actor = SYSTEM) -> ExecutorConfig:
        """``disable`` an active configuration or ``enable`` a disabled one (else 422 FLK-0252)."""
        current = await self.get(config_id)
        expected, target = TOGGLES[action]
        if current.status != expected:
            raise Unprocessable(
                f"cannot {action} an executor configuration that is {current.status.value}",
                code=EXECUTOR_CONFIG_NOT_ALLOWED,
            )
        updated = current.model_copy(update={"status": target, "updatedAt": iso(self._clock())})
        event = self._event(*TOGGLE_EVENTS[action], updated, actor)
        stored = await self._store.executor_configs.replace(updated, [event])
        await publish(self._runtime.record, [event])
        if target == ExecutorStatus.DISABLED:
            await self._release(config_id)
        return stored

    async def _release(self, config_id: str) -> None:
        await release(self._runtime, config_id)

    async def breaker(self, config: ExecutorConfig) -> dict[str, Any]:
        """The ``breaker`` block: the live executor actor's state if one runs, else the stored one."""
        record: BreakerRecord | None = None
        try:
            record = await self._runtime.executor_breaker(config.id)
        except Exception as exc:
            log.warning(
                "breaker of %s: no live answer (%s); the stored state is shown", config.id, type(exc).__name__
            )
        if record is None:
            record = await self._store.breakers.get(config.id)
        return breaker_view(record, self._clock().timestamp())

    async def reset_breaker(
        self, config_id: str, actor: Actor = SYSTEM
    ) -> tuple[ExecutorConfig, dict[str, Any]]:
        """Force the configuration's breaker closed, in the store and in its live executor actor (audited).

        Returns the configuration and its ``breaker`` block afterwards; 404 FLK-0250 for an unknown id.
        """
        current = await self.get(config_id)
        before = await self.breaker(current)
        event = self._event("EXECUTOR_BREAKER_RESET", AuditAction.RESET, current, actor)
        event.metadata["breaker.previousState"] = before["state"]
        closed = BreakerRecord(state="closed", updated_at=self._clock().timestamp())
        await self._store.breakers.put(config_id, closed, [event])
        await publish(self._runtime.record, [event])
        live: BreakerRecord | None = None
        try:
            live = await self._runtime.reset_executor_breaker(config_id)
        except Exception as exc:
            log.warning("breaker of %s: live actor not reset now (%s)", config_id, type(exc).__name__)
        return current, breaker_view(live or closed, self._clock().timestamp())

    async def test(self, config_id: str) -> dict[str, Any]:
        """The staged connectivity test; records ``lastTestedAt`` (a lost race for it is harmless)."""
        current = await self.get(config_id)
        started = iso(self._clock())
        result = await self._runtime.test_executor(current)
        if "error" in result:
            error = NotFound if result["code"] == EXECUTOR_CONFIG_NOT_FOUND else Unprocessable
            raise error(result["error"], code=result["code"])
        completed = iso(self._clock())
        with contextlib.suppress(StateChanged):
            await self._store.executor_configs.replace(current.model_copy(update={"lastTestedAt": completed}))
        return {**result, "startedAt": started, "completedAt": completed}


#: The fields of an authentication block whose URL the secrets are sent to (besides baseUrl).
_ISSUER_FIELDS = ("issuer_url", "token_url")


def _moves(current: ExecutorConfig, base_url: str, clear: dict[str, Any] | None) -> list[str]:
    """The URLs of the patch that point at another origin than the stored configuration's."""
    moves = ["baseUrl"] if origin(base_url) != origin(current.baseUrl) else []
    if clear is not None:
        before, after = current.authentication.get("config") or {}, clear.get("config") or {}
        for name in _ISSUER_FIELDS:
            old, new = before.get(name), after.get(name)
            if old and new and origin(old) != origin(new):
                moves.append(f"authentication.config.{name}")
    return moves


def _shown_origin(url: str) -> str:
    scheme, host, port = origin(url)
    return f"{scheme}://{host}:{port}"


def _checked_authentication(body: ExecutorConfigInput) -> dict[str, Any]:
    if body.authentication is None:
        raise BadRequest("authentication is required", code=NO_AUTHENTICATION)
    return check_authentication(body.authentication.type, body.authentication.config)
