"""The provider-configuration port, against every adapter (``any_store``): unique names, check-and-set,
filters by status and provider with keyset pagination, and the audit event committed with the change."""

from __future__ import annotations

import inspect
import uuid

import pytest

from flowker import codes
from flowker.domain.audit import AuditAction, AuditEvent, ResourceType
from flowker.domain.provider_config import ProviderConfig, ProviderConfigStatus
from flowker.errors import Conflict, StateChanged
from flowker.store import ports
from flowker.store.embedded.store import EmbeddedProviderConfigs
from flowker.store.mongo.provider_configs import MongoProviderConfigs
from flowker.store.ports import Page, ProviderConfigQuery, Store
from tests.fakes.memory_store import MemoryProviderConfigs


@pytest.fixture
def store(any_store: Store) -> Store:
    return any_store


def make(
    name: str, provider: str = "tracer", created: str = "2026-05-01T00:00:00.000000Z", **fields: object
) -> ProviderConfig:
    return ProviderConfig.model_validate(
        {
            "id": str(uuid.uuid4()),
            "name": name,
            "providerId": provider,
            "config": {"base_url": "https://tracer.example.com", "api_key": "enc:v1:AAAA"},
            "createdAt": created,
            "updatedAt": created,
            **fields,
        }
    )


def event(config: ProviderConfig) -> AuditEvent:
    return AuditEvent(
        event_type="PROVIDER_CONFIG_CREATED",
        action=AuditAction.CREATE,
        resource_type=ResourceType.PROVIDER_CONFIG,
        resource_id=config.id,
    )


@pytest.mark.parametrize("adapter", [EmbeddedProviderConfigs, MongoProviderConfigs, MemoryProviderConfigs])
def test_every_adapter_matches_the_port(adapter: type) -> None:
    for name in [n for n in vars(ports.ProviderConfigRepository) if not n.startswith("_")]:
        wanted = [
            (p.name, p.kind, p.default)
            for p in inspect.signature(getattr(ports.ProviderConfigRepository, name)).parameters.values()
        ]
        method = getattr(adapter, name)
        assert [(p.name, p.kind, p.default) for p in inspect.signature(method).parameters.values()] == wanted
        assert inspect.iscoroutinefunction(method), name


async def test_create_get_replace_delete_with_check_and_set(store: Store) -> None:
    repo = store.provider_configs
    created = await repo.create(make("tracer-prod"))
    assert created.revision == 1
    found = await repo.get(created.id)
    assert found is not None and found.config == created.config and found.providerId == "tracer"
    disabled = await repo.replace(found.model_copy(update={"status": ProviderConfigStatus.DISABLED}))
    assert disabled.revision == 2
    with pytest.raises(StateChanged):
        await repo.replace(found.model_copy(update={"name": "stale"}))  # revision 1 is gone
    with pytest.raises(StateChanged):
        await repo.delete(found)
    await repo.delete(disabled)
    assert await repo.get(created.id) is None


async def test_names_are_unique(store: Store) -> None:
    repo = store.provider_configs
    await repo.create(make("taken"))
    with pytest.raises(Conflict) as raised:
        await repo.create(make("taken", provider="midaz"))
    assert raised.value.code == codes.PROVIDER_CONFIG_NAME_TAKEN
    other = await repo.create(make("other"))
    with pytest.raises(Conflict) as renamed:
        await repo.replace(other.model_copy(update={"name": "taken"}))
    assert renamed.value.code == codes.PROVIDER_CONFIG_NAME_TAKEN


async def test_lists_filter_by_status_and_provider_and_page_by_keyset(store: Store) -> None:
    repo = store.provider_configs
    made = []
    for index in range(7):
        provider = "tracer" if index % 2 == 0 else "midaz"
        config = await repo.create(
            make(f"config {index}", provider, created=f"2026-05-01T00:00:0{index}.000000Z")
        )
        made.append(config)
    await repo.replace(made[2].model_copy(update={"status": ProviderConfigStatus.DISABLED}))

    async def every(query: ProviderConfigQuery) -> list[str]:
        names: list[str] = []
        after = None
        while True:
            page: Page[ProviderConfig] = await repo.list(
                ProviderConfigQuery(
                    limit=2,
                    sort_by="createdAt",
                    sort_order="ASC",
                    status=query.status,
                    provider_id=query.provider_id,
                    after=after,
                )
            )
            names += [c.name for c in page.items]
            if not page.has_more:
                return names
            after = (page.items[-1].createdAt, page.items[-1].id)

    assert await every(ProviderConfigQuery()) == [f"config {i}" for i in range(7)]
    assert await every(ProviderConfigQuery(provider_id="tracer")) == [
        "config 0",
        "config 2",
        "config 4",
        "config 6",
    ]
    assert await every(ProviderConfigQuery(provider_id="tracer", status="active")) == [
        "config 0",
        "config 4",
        "config 6",
    ]
    assert await every(ProviderConfigQuery(status="disabled")) == ["config 2"]
    assert await every(ProviderConfigQuery(provider_id="http")) == []


async def test_the_audit_event_is_committed_with_the_change_or_not_at_all(store: Store) -> None:
    repo = store.provider_configs
    config = make("audited")
    created = event(config)
    await repo.create(config, [created])
    assert [e.event_id for e in await store.audit.staged(10)] == [created.event_id]
    duplicate = make("audited")
    with pytest.raises(Conflict):
        await repo.create(duplicate, [event(duplicate)])
    assert [e.event_id for e in await store.audit.staged(10)] == [created.event_id]
