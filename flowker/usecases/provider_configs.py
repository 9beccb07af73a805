"""Provider configuration management: create, read, list, patch, delete, enable, disable and test.

Follows executor configurations: ``config`` is checked against the provider's schema (422 FLK-0293,
naming the path and rule, never a value), its secrets are sealed before anything reaches the store and
never leave except masked, each change is committed with its audit event, and a PATCH that moves a URL
the credentials go to onto another origin must send the secrets again (FLK-0289).
"""

from __future__ import annotations

import uuid
from typing import Any

from flowker.catalog import registry
from flowker.catalog.call_target import authentication
from flowker.catalog.model import Provider
from flowker.catalog.validation import first_problem
from flowker.clock import Clock, iso, utc_now
from flowker.codes import (
    CREDENTIALS_BOUND_TO_ORIGIN,
    DESTINATION_REFUSED,
    INVALID_PROVIDER_CONFIG,
    NO_BASE_URL,
    PROVIDER_CONFIG_NOT_ALLOWED,
    PROVIDER_CONFIG_NOT_FOUND,
    PROVIDER_NOT_IN_CATALOG,
    UNREADABLE_SECRET,
)
from flowker.domain.audit import SYSTEM, Actor, AuditAction, AuditEvent, ResourceType
from flowker.domain.authentication import check_authentication, check_static_headers
from flowker.domain.executor_config import origin
from flowker.domain.metadata import check_metadata
from flowker.domain.outbound import OutboundPolicy
from flowker.domain.provider_config import (
    MaskWithoutSecret,
    ProviderConfig,
    ProviderConfigInput,
    ProviderConfigStatus,
    check_fields,
    config_value,
    has_secrets,
    keeps_masks,
    mask_config,
    seal_config,
)
from flowker.domain.urls import http_url
from flowker.errors import BadRequest, NotFound, Unprocessable
from flowker.secretbox import SecretBox
from flowker.store.ports import Page, ProviderConfigQuery, Store
from flowker.usecases.executor_notices import notify_changed, release
from flowker.usecases.outbox import publish
from flowker.usecases.ports import Runtime

#: action -> (status it needs, status it gives, event type, audit action)
TOGGLES = {
    "disable": (
        ProviderConfigStatus.ACTIVE,
        ProviderConfigStatus.DISABLED,
        "PROVIDER_CONFIG_DISABLED",
        AuditAction.DISABLE,
    ),
    "enable": (
        ProviderConfigStatus.DISABLED,
        ProviderConfigStatus.ACTIVE,
        "PROVIDER_CONFIG_ENABLED",
        AuditAction.ENABLE,
    ),
}
#: The fields a PATCH may change (``providerId`` is fixed at creation).
PATCHABLE = ("name", "description", "config", "metadata")


class ProviderConfigs:
    """The provider configuration use cases over a store and a secret box."""

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

    @staticmethod
    def _event(event_type: str, action: AuditAction, config: ProviderConfig, actor: Actor) -> AuditEvent:
        # Names, ids and status only: never the config, masked or not.
        return AuditEvent(
            event_type=event_type,
            action=action,
            resource_type=ResourceType.PROVIDER_CONFIG,
            resource_id=config.id,
            actor=actor,
            metadata={
                "providerConfig.name": config.name,
                "providerConfig.providerId": config.providerId,
                "providerConfig.status": config.status.value,
            },
        )

    def _checked_config(
        self, provider: Provider, config: dict[str, Any], previous: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """``config`` checked against the provider's schema and the outbound policy, secrets sealed."""
        if problem := first_problem(provider.config_schema, config):
            raise Unprocessable(
                f"config does not match provider {provider.id!r}: {problem}", code=INVALID_PROVIDER_CONFIG
            )
        for key in provider.credential_url_keys:
            url = config_value(config, key)
            if isinstance(url, str) and (reason := self._outbound.refusal(url)):
                raise Unprocessable(f"config.{key}: {reason}", code=DESTINATION_REFUSED)
        # What its calls will send, checked as an executor configuration's is (an api_key header cannot
        # be Host or Content-Length, a header value cannot hold a line break): 422, naming the field.
        try:
            derived = authentication(provider.id, config)
            check_authentication(derived["type"], derived["config"])
            check_static_headers(config.get("headers") or {}, "config.headers")
        except BadRequest as exc:
            raise Unprocessable(f"config: {exc.message}", code=INVALID_PROVIDER_CONFIG) from None
        try:
            return seal_config(config, provider.config_schema, self._box, previous)
        except MaskWithoutSecret as exc:
            raise Unprocessable(f"config {exc}", code=INVALID_PROVIDER_CONFIG) from None

    async def create(self, body: ProviderConfigInput, actor: Actor = SYSTEM) -> ProviderConfig:
        """Validate and save a new, active configuration (404 FLK-0294, 422 FLK-0293, 409 FLK-0291)."""
        fields = check_fields(body)
        check_metadata(fields["metadata"])
        provider = _provider(fields["providerId"])
        fields["config"] = self._checked_config(provider, fields["config"])
        now = iso(self._clock())
        config = ProviderConfig(
            **fields, id=str(uuid.uuid4()), status=ProviderConfigStatus.ACTIVE, createdAt=now, updatedAt=now
        )
        event = self._event("PROVIDER_CONFIG_CREATED", AuditAction.CREATE, config, actor)
        created = await self._store.provider_configs.create(config, [event])
        await publish(self._runtime.record, [event])
        return created

    async def get(self, config_id: str) -> ProviderConfig:
        config = await self._store.provider_configs.get(config_id)
        if config is None:
            raise NotFound(f"provider configuration {config_id} not found", code=PROVIDER_CONFIG_NOT_FOUND)
        return config

    async def list(self, query: ProviderConfigQuery) -> Page[ProviderConfig]:
        return await self._store.provider_configs.list(query)

    async def active(self, provider_id: str) -> list[tuple[str, str]]:
        """``(id, name)`` of every active configuration of ``provider_id``, by name."""
        found: list[tuple[str, str]] = []
        after = None
        while True:
            page = await self._store.provider_configs.list(
                ProviderConfigQuery(
                    limit=100,
                    sort_by="name",
                    sort_order="ASC",
                    status=ProviderConfigStatus.ACTIVE.value,
                    provider_id=provider_id,
                    after=after,
                )
            )
            found += [(c.id, c.name) for c in page.items]
            if not page.has_more or not page.items:
                return found
            after = (page.items[-1].name, page.items[-1].id)

    async def patch(
        self, config_id: str, patch: ProviderConfigInput, actor: Actor = SYSTEM
    ) -> ProviderConfig:
        """Change the fields ``patch`` sets; ``config`` replaces the whole map and is checked again, a
        ``********`` keeping the stored secret at its place."""
        current = await self.get(config_id)
        provider = _provider(current.providerId)
        sent = {k: getattr(patch, k) for k in patch.model_fields_set if k in PATCHABLE}
        merged = ProviderConfigInput.model_validate(
            {
                "name": current.name,
                "description": current.description,
                "providerId": current.providerId,
                "config": mask_config(current.config),
                "metadata": current.metadata,
                **sent,
            }
        )
        fields = check_fields(merged)
        check_metadata(fields["metadata"])
        if "config" in sent:
            clear = fields["config"]
            moves = [
                key
                for key in provider.credential_url_keys
                if _moved(config_value(current.config, key), config_value(clear, key))
            ]
            if moves and has_secrets(current.config) and keeps_masks(clear, provider.config_schema):
                raise Unprocessable(
                    f"{' and '.join('config.' + m for m in moves)} moves to another origin: the stored "
                    "credentials stay with the origin they were entered for; send them again (every "
                    "secret of config) with this change",
                    code=CREDENTIALS_BOUND_TO_ORIGIN,
                )
            fields["config"] = self._checked_config(provider, clear, previous=current.config)
        else:
            fields["config"] = current.config
        updated = current.model_copy(update={**fields, "updatedAt": iso(self._clock())})
        event = self._event("PROVIDER_CONFIG_UPDATED", AuditAction.UPDATE, updated, actor)
        stored = await self._store.provider_configs.replace(updated, [event])
        await publish(self._runtime.record, [event])
        await notify_changed(self._runtime, config_id)  # a new secret or URL takes effect at once
        return stored

    async def delete(self, config_id: str, actor: Actor = SYSTEM) -> None:
        current = await self.get(config_id)
        event = self._event("PROVIDER_CONFIG_DELETED", AuditAction.DELETE, current, actor)
        await self._store.provider_configs.delete(current, [event])
        await publish(self._runtime.record, [event])
        await release(self._runtime, config_id)

    async def toggle(self, config_id: str, action: str, actor: Actor = SYSTEM) -> ProviderConfig:
        """``disable`` an active configuration or ``enable`` a disabled one (else 422 FLK-0292); audited."""
        current = await self.get(config_id)
        expected, target, event_type, audit_action = TOGGLES[action]
        if current.status != expected:
            raise Unprocessable(
                f"cannot {action} a provider configuration that is {current.status.value}",
                code=PROVIDER_CONFIG_NOT_ALLOWED,
            )
        updated = current.model_copy(update={"status": target, "updatedAt": iso(self._clock())})
        event = self._event(event_type, audit_action, updated, actor)
        stored = await self._store.provider_configs.replace(updated, [event])
        await publish(self._runtime.record, [event])
        if action == "disable":
            await release(self._runtime, config_id)
        return stored

    async def test(self, config_id: str) -> dict[str, Any]:
        """The three-stage connectivity test (reference 4.6); changes nothing."""
        current = await self.get(config_id)
        provider = _provider(current.providerId)
        base_url = next(
            (
                u
                for k in provider.base_url_keys
                if isinstance(u := config_value(current.config, k), str) and u
            ),
            None,
        )
        if base_url is None or http_url(base_url) is None:
            raise Unprocessable(
                f"provider configuration {current.name!r} has no http(s) base URL "
                f"({', '.join(provider.base_url_keys)})",
                code=NO_BASE_URL,
            )
        if reason := self._outbound.refusal(base_url):
            raise Unprocessable(f"base URL: {reason}", code=DESTINATION_REFUSED)
        started = iso(self._clock())
        result = await self._runtime.test_provider(current, base_url)
        if "error" in result:
            raise Unprocessable(result["error"], code=UNREADABLE_SECRET)
        return {**result, "startedAt": started, "completedAt": iso(self._clock())}


def _provider(provider_id: str) -> Provider:
    provider = registry.PROVIDERS.get(provider_id)
    if provider is None:
        raise NotFound(f"provider {provider_id!r} is not in the catalog", code=PROVIDER_NOT_IN_CATALOG)
    return provider


def _moved(before: Any, after: Any) -> bool:
    return isinstance(before, str) and isinstance(after, str) and origin(before) != origin(after)
