"""Reading the static catalog and checking inputs against its schemas (``/v1/catalog``)."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from flowker.catalog import registry
from flowker.catalog.model import CatalogExecutor, Provider, Template, Trigger
from flowker.catalog.validation import first_problem
from flowker.codes import (
    CATALOG_EXECUTOR_NOT_FOUND,
    CATALOG_PROVIDER_NOT_FOUND,
    CATALOG_TRIGGER_NOT_FOUND,
    INVALID_EXECUTOR_INPUT,
    INVALID_TEMPLATE_PARAMS,
    TEMPLATE_NOT_FOUND,
)
from flowker.errors import BadRequest, NotFound

#: The active provider configurations of a provider, as ``(id, name)`` pairs (template detail).
ActiveConfigs = Callable[[str], Awaitable[list[tuple[str, str]]]]


def _schema_text(schema: Mapping[str, Any]) -> str:
    return json.dumps(schema, separators=(",", ":"))


def executor_summary(executor: CatalogExecutor) -> dict[str, Any]:
    return {
        "id": executor.id,
        "name": executor.name,
        "category": executor.category,
        "version": executor.version,
        "providerId": executor.provider_id,
    }


def trigger_summary(trigger: Trigger) -> dict[str, Any]:
    return {"id": trigger.id, "name": trigger.name, "version": trigger.version}


def provider_summary(provider: Provider) -> dict[str, Any]:
    return {
        "id": provider.id,
        "name": provider.name,
        "description": provider.description,
        "version": provider.version,
    }


def template_summary(template: Template) -> dict[str, Any]:
    return {
        "id": template.id,
        "name": template.name,
        "description": template.description,
        "version": template.version,
        "category": template.category,
    }


class Catalog:
    """The catalog's entries as the API renders them; ``active_configs`` enriches template detail."""

    def __init__(self, active_configs: ActiveConfigs | None = None) -> None:
        self._active_configs = active_configs

    @staticmethod
    def executor(executor_id: str) -> CatalogExecutor:
        found = registry.EXECUTORS.get(executor_id)
        if found is None:
            raise NotFound(
                f"executor {executor_id!r} not found in the catalog", code=CATALOG_EXECUTOR_NOT_FOUND
            )
        return found

    @staticmethod
    def trigger(trigger_id: str) -> Trigger:
        found = registry.TRIGGERS.get(trigger_id)
        if found is None:
            raise NotFound(f"trigger {trigger_id!r} not found in the catalog", code=CATALOG_TRIGGER_NOT_FOUND)
        return found

    @staticmethod
    def provider(provider_id: str) -> Provider:
        found = registry.PROVIDERS.get(provider_id)
        if found is None:
            raise NotFound(
                f"provider {provider_id!r} not found in the catalog", code=CATALOG_PROVIDER_NOT_FOUND
            )
        return found

    @staticmethod
    def template(template_id: str) -> Template:
        found = registry.TEMPLATES.get(template_id)
        if found is None:
            raise NotFound(f"template {template_id!r} not found in the catalog", code=TEMPLATE_NOT_FOUND)
        return found

    def executors(self) -> list[dict[str, Any]]:
        return [executor_summary(e) for e in registry.EXECUTORS.values()]

    def executor_detail(self, executor_id: str) -> dict[str, Any]:
        executor = self.executor(executor_id)
        return {**executor_summary(executor), "schema": _schema_text(executor.schema)}

    def validate_executor(self, executor_id: str, config: Any) -> None:
        """400 FLK-0201 naming the first violation of the executor's schema."""
        executor = self.executor(executor_id)
        if problem := first_problem(executor.schema, config):
            raise BadRequest(
                f"invalid config for executor {executor_id!r}: {problem}", code=INVALID_EXECUTOR_INPUT
            )

    def triggers(self) -> list[dict[str, Any]]:
        return [trigger_summary(t) for t in registry.TRIGGERS.values()]

    def trigger_detail(self, trigger_id: str) -> dict[str, Any]:
        trigger = self.trigger(trigger_id)
        return {**trigger_summary(trigger), "schema": _schema_text(trigger.schema)}

    def providers(self) -> list[dict[str, Any]]:
        return [provider_summary(p) for p in registry.PROVIDERS.values()]

    def provider_detail(self, provider_id: str) -> dict[str, Any]:
        provider = self.provider(provider_id)
        return {**provider_summary(provider), "configSchema": _schema_text(provider.config_schema)}

    def provider_executors(self, provider_id: str) -> list[dict[str, Any]]:
        self.provider(provider_id)
        return [executor_summary(e) for e in registry.provider_executors(provider_id)]

    def templates(self) -> list[dict[str, Any]]:
        return [template_summary(t) for t in registry.TEMPLATES.values()]

    async def template_detail(self, template_id: str) -> dict[str, Any]:
        """The template with, on each parameter naming a provider configuration, ``oneOf`` of the
        provider's currently active configurations."""
        template = self.template(template_id)
        schema = json.loads(json.dumps(template.param_schema))
        if self._active_configs is not None:
            for param, provider_id in template.provider_params.items():
                configs = await self._active_configs(provider_id)
                schema["properties"][param]["oneOf"] = [
                    {"const": config_id, "title": name} for config_id, name in configs
                ]
        return {**template_summary(template), "paramSchema": _schema_text(schema)}

    def validate_template(self, template_id: str, params: Any) -> None:
        """400 FLK-0242 naming the first violation of the template's paramSchema."""
        template = self.template(template_id)
        if problem := first_problem(template.param_schema, params):
            raise BadRequest(
                f"invalid params for template {template_id!r}: {problem}", code=INVALID_TEMPLATE_PARAMS
            )
