"""The catalog: every provider, executor, trigger and template, looked up by id, listed by id."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from flowker.catalog import http_provider, midaz, templates, tracer, triggers
from flowker.catalog.model import CatalogExecutor, Provider, Template, Trigger

PROVIDERS: Mapping[str, Provider] = {
    p.id: p for p in sorted((http_provider.PROVIDER, midaz.PROVIDER, tracer.PROVIDER), key=lambda p: p.id)
}
EXECUTORS: Mapping[str, CatalogExecutor] = {
    e.id: e
    for e in sorted((*http_provider.EXECUTORS, *midaz.EXECUTORS, *tracer.EXECUTORS), key=lambda e: e.id)
}
TRIGGERS: Mapping[str, Trigger] = {t.id: t for t in sorted(triggers.TRIGGERS, key=lambda t: t.id)}
TEMPLATES: Mapping[str, Template] = {t.id: t for t in (templates.TRACER_MIDAZ,)}
BUILDERS: Mapping[str, Callable[[Mapping[str, Any]], dict[str, Any]]] = templates.BUILDERS


def provider_executors(provider_id: str) -> list[CatalogExecutor]:
    """The executors of a provider, by id."""
    return [e for e in EXECUTORS.values() if e.provider_id == provider_id]
