"""Provider configurations: instances of a catalog provider (its ``config`` validated against the
provider's JSON Schema), created ``active``, taken out of service with ``disabled``.

Secrets are the ``config`` values at the positions the provider's schema marks ``writeOnly``; they are
sealed before anything reaches the store and every sealed value reads ``********`` on the way out.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from flowker.codes import (
    PROVIDER_CONFIG_DESCRIPTION_TOO_LONG,
    PROVIDER_CONFIG_NAME_REQUIRED,
    PROVIDER_CONFIG_NAME_TOO_LONG,
    PROVIDER_CONFIG_REQUIRED,
    PROVIDER_ID_REQUIRED,
)
from flowker.errors import BadRequest
from flowker.secretbox import SecretBox, is_sealed

MAX_NAME = 100
MAX_DESCRIPTION = 500
MASK = "********"


# The OpenAPI document shows this docstring.
class ProviderConfigStatus(StrEnum):
    """Created `active`; `disabled` takes it out of service."""

    ACTIVE = "active"
    DISABLED = "disabled"


class ProviderConfigInput(BaseModel):
    """The body of create (all of it) and PATCH (any subset of ``name, description, config, metadata``)."""

    model_config = ConfigDict(extra="ignore")

    name: str | None = None
    description: str | None = None
    providerId: str | None = None
    config: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None

    def __repr__(self) -> str:  # config holds clear secrets
        return f"ProviderConfigInput(name={self.name!r}, providerId={self.providerId!r})"

    __str__ = __repr__


class ProviderConfig(BaseModel):
    """A stored provider configuration; ``config`` holds sealed secrets."""

    id: str
    name: str
    description: str | None = None
    providerId: str
    config: dict[str, Any]
    status: ProviderConfigStatus = ProviderConfigStatus.ACTIVE
    metadata: dict[str, Any] | None = None
    createdAt: str
    updatedAt: str
    revision: int = Field(default=0, exclude=True)

    def to_output(self) -> dict[str, Any]:
        """The API's ``ProviderConfigurationOutput``, every secret masked."""
        out = self.model_dump(mode="json", exclude_none=True)
        out["config"] = mask_config(self.config)
        return out

    def __repr__(self) -> str:
        return f"ProviderConfig(id={self.id!r}, name={self.name!r}, providerId={self.providerId!r})"

    __str__ = __repr__


def check_fields(body: ProviderConfigInput) -> dict[str, Any]:
    """Check name, description, providerId and the presence of config; return them trimmed.

    Raises :class:`BadRequest` with the field's own code (FLK-0295..0299).
    """
    name = (body.name or "").strip()
    if not name:
        raise BadRequest("name is required", code=PROVIDER_CONFIG_NAME_REQUIRED)
    if len(name) > MAX_NAME:
        raise BadRequest(f"name is longer than {MAX_NAME} characters", code=PROVIDER_CONFIG_NAME_TOO_LONG)
    if body.description is not None and len(body.description) > MAX_DESCRIPTION:
        raise BadRequest(
            f"description is longer than {MAX_DESCRIPTION} characters",
            code=PROVIDER_CONFIG_DESCRIPTION_TOO_LONG,
        )
    provider_id = (body.providerId or "").strip()
    if not provider_id:
        raise BadRequest("providerId is required", code=PROVIDER_ID_REQUIRED)
    if not body.config:
        raise BadRequest("config is required and must not be empty", code=PROVIDER_CONFIG_REQUIRED)
    return {
        "name": name,
        "description": body.description,
        "providerId": provider_id,
        "config": body.config,
        "metadata": body.metadata,
    }


# --- secrets --------------------------------------------------------------------------------------


def _map_secrets(
    value: Any, schema: Mapping[str, Any], change: Callable[[str, str], str], path: str = "$"
) -> Any:
    """A copy of ``value`` with ``change(path, string)`` applied at each ``writeOnly`` string."""
    if schema.get("writeOnly") and isinstance(value, str):
        return change(path, value)
    if isinstance(value, dict):
        properties = schema.get("properties") or {}
        extra = schema.get("additionalProperties")
        return {
            key: _map_secrets(
                item,
                properties.get(key) or (extra if isinstance(extra, dict) else {}),
                change,
                f"{path}.{key}",
            )
            for key, item in value.items()
        }
    return value


def secret_paths(config: Mapping[str, Any], schema: Mapping[str, Any]) -> dict[str, str]:
    """Path -> value of every secret of a clear or sealed ``config``."""
    found: dict[str, str] = {}

    def keep(path: str, value: str) -> str:
        found[path] = value
        return value

    _map_secrets(dict(config), schema, keep)
    return found


class MaskWithoutSecret(ValueError):
    """A ``********`` sent where no secret is stored to keep (the message names the path)."""


def seal_config(
    config: Mapping[str, Any],
    schema: Mapping[str, Any],
    box: SecretBox,
    previous: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """``config`` with each secret sealed; a ``********`` keeps the ``previous`` sealed value at its path."""
    kept = secret_paths(previous, schema) if previous is not None else {}

    def seal(path: str, value: str) -> str:
        if value == MASK:
            if path not in kept:
                raise MaskWithoutSecret(f"{path}: `{MASK}` but no stored secret to keep; send the value")
            return kept[path]
        return box.seal(value)

    sealed: dict[str, Any] = _map_secrets(dict(config), schema, seal)
    return sealed


def open_config(config: Mapping[str, Any], box: SecretBox) -> dict[str, Any]:
    """``config`` with every sealed value opened (``ValueError`` when one cannot be)."""
    return _map_sealed(config, box.open)


def mask_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """``config`` with every sealed value read as ``********``."""
    return _map_sealed(config, lambda _value: MASK)


def has_secrets(config: Mapping[str, Any]) -> bool:
    return bool(_sealed_values(config))


def keeps_masks(config: Mapping[str, Any], schema: Mapping[str, Any]) -> bool:
    """Whether a clear ``config`` keeps some stored secret by sending its mask."""
    return any(value == MASK for value in secret_paths(config, schema).values())


def _sealed_values(value: Any) -> list[str]:
    if is_sealed(value):
        return [value]
    if isinstance(value, dict):
        return [s for item in value.values() for s in _sealed_values(item)]
    if isinstance(value, list):
        return [s for item in value for s in _sealed_values(item)]
    return []


def _map_sealed(value: Any, change: Callable[[str], str]) -> Any:
    if is_sealed(value):
        return change(value)
    if isinstance(value, dict):
        return {key: _map_sealed(item, change) for key, item in value.items()}
    if isinstance(value, list):
        return [_map_sealed(item, change) for item in value]
    return value


def config_value(config: Mapping[str, Any], dotted: str) -> Any:
    """The value at ``a.b`` of ``config``, or ``None``."""
    value: Any = config
    for part in dotted.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value
