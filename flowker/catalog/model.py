"""The catalog's static entries as plain dataclasses: providers, their executors, triggers, templates.

Each executor also says, as data, how its provider request is built (:class:`RequestSpec`), so that the
executor machinery can run it without provider-specific code.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

Schema = Mapping[str, Any]

#: Every schema of the catalog is a JSON Schema of this draft, validated with format assertion.
DRAFT = "https://json-schema.org/draft/2020-12/schema"


@dataclass(frozen=True)
class RequestSpec:
    """How an executor's request is built from its provider configuration and the node.

    ``builder`` is ``"path-template"`` (a provider-specific builder such as Midaz's: ``method`` to
    ``path`` under the configuration's ``base_url_key``, ``{name}`` placeholders looked up in the
    provider configuration, then the node's data, then the (mapped) request body; a body only for
    ``body_methods``) or ``"generic"`` (reference 4.3: URL = ``base_url`` joined with the node's
    ``data.path``, else ``data.endpointName``; method the node's ``data.method``, else ``method``).
    ``path_params`` maps a placeholder to the key it is looked up under (``{org}`` ->
    ``organization_id``); a placeholder not listed is looked up under its own name.
    """

    builder: str
    method: str
    path: str = ""
    base_url_key: str = "base_url"
    path_params: Mapping[str, str] = field(default_factory=dict)
    body_methods: tuple[str, ...] = ("POST", "PUT", "PATCH")
    #: The provider configuration's authentication: ``{"type": ..., <auth field>: <config key path>}``;
    #: a ``type`` of ``$key`` is read from the configuration's ``key``; ``header`` is a literal header name.
    auth: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class CatalogExecutor:
    id: str
    name: str
    category: str
    version: str
    provider_id: str
    schema: Schema
    request: RequestSpec


@dataclass(frozen=True)
class Provider:
    id: str
    name: str
    description: str
    version: str
    config_schema: Schema
    #: The configuration keys holding a base URL, in the order the connectivity test looks them up.
    base_url_keys: tuple[str, ...]
    #: The configuration keys holding a URL its credentials are sent to (origin-bound, FLK-0289).
    credential_url_keys: tuple[str, ...]


@dataclass(frozen=True)
class Trigger:
    id: str
    name: str
    version: str
    schema: Schema


@dataclass(frozen=True)
class Template:
    id: str
    name: str
    description: str
    version: str
    category: str
    param_schema: Schema
    #: Parameters that name a provider configuration -> the provider it must be a configuration of.
    provider_params: Mapping[str, str]
