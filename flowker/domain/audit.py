"""The audit trail: events and their hash chain — pure functions, no I/O.

Each event carries a gapless ``sequence`` and ``hash = SHA-256(previousHash ‖ "|" ‖ canonical JSON)``,
where the canonical JSON covers every field but the two hashes — the sequence number, the timestamp and
every field the trail is searched by included. The first event chains from the string ``GENESIS``.

How the JSON is made canonical is recorded in each event, so that it can change later:

* ``"hashScheme": "sha256-jcs"`` (every event chained now): SHA-256 over the RFC 8785 (JCS) bytes
  (:mod:`flowker.domain.canonical_json`);
* no ``hashScheme`` field (events chained before it existed): SHA-256 over orjson's output with keys
  sorted and no spaces — the same as RFC 8785 for the strings and integers audit events hold, but
  defined by that library; such events stay verifiable as they are.

An event naming a scheme this version does not know cannot be verified (its hash never matches).
Verification itself, streaming and against signed checkpoints, is :mod:`flowker.domain.audit_verify`.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import orjson

from flowker.domain.canonical_json import canonical, canonical_parsed, representable

GENESIS = "GENESIS"
#: The field naming an event's hash scheme, and the scheme of every event chained now.
HASH_SCHEME_FIELD = "hashScheme"
JCS_SCHEME = "sha256-jcs"


class AuditAction(StrEnum):
    CREATE = "CREATE"
    UPDATE = "UPDATE"
    DELETE = "DELETE"
    ACTIVATE = "ACTIVATE"
    DEACTIVATE = "DEACTIVATE"
    DRAFT = "DRAFT"
    ENABLE = "ENABLE"
    DISABLE = "DISABLE"
    EXECUTE = "EXECUTE"
    CANCEL = "CANCEL"
    AUTHENTICATE = "AUTHENTICATE"
    RESET = "RESET"


class AuditResult(StrEnum):
    SUCCESS = "SUCCESS"
    FAILED = "FAILED"


class ResourceType(StrEnum):
    WORKFLOW = "workflow"
    EXECUTION = "execution"
    EXECUTOR_CONFIG = "executor_config"
    API_KEY = "api_key"
    PROVIDER_CONFIG = "provider_config"


EVENT_TYPES = (
    "WORKFLOW_CREATED",
    "WORKFLOW_UPDATED",
    "WORKFLOW_ACTIVATED",
    "WORKFLOW_DEACTIVATED",
    "WORKFLOW_DRAFTED",
    "WORKFLOW_DELETED",
    "EXECUTION_STARTED",
    "EXECUTION_COMPLETED",
    "EXECUTION_FAILED",
    "EXECUTION_CANCELLED",
    "EXECUTION_CANCEL_REQUESTED",
    "EXECUTION_RESUMED",
    "PROVIDER_CALL_STARTED",
    "PROVIDER_CALL_COMPLETED",
    "PROVIDER_CALL_FAILED",
    "EXECUTOR_CONFIG_CREATED",
    "EXECUTOR_CONFIG_UPDATED",
    "EXECUTOR_CONFIG_DELETED",
    "EXECUTOR_CONFIG_ENABLED",
    "EXECUTOR_CONFIG_DISABLED",
    "AUTHENTICATION_FAILED",
    "EXECUTOR_BREAKER_RESET",
    "PROVIDER_CONFIG_CREATED",
    "PROVIDER_CONFIG_UPDATED",
    "PROVIDER_CONFIG_DELETED",
    "PROVIDER_CONFIG_ENABLED",
    "PROVIDER_CONFIG_DISABLED",
)


@dataclass(frozen=True)
class Actor:
    """Who caused an event: an API key (by its id, never the key) or the system, and from where."""

    type: str = "system"
    id: str = "flowker"
    ip: str = "0.0.0.0"

    def to_dict(self) -> dict[str, str]:
        return {"type": self.type, "id": self.id, "ipAddress": self.ip}

    @classmethod
    def from_dict(cls, data: dict[str, str]) -> Actor:
        return cls(type=data["type"], id=data["id"], ip=data["ipAddress"])


SYSTEM = Actor()


@dataclass(frozen=True)
class AuditEvent:
    """An event before it is chained: what happened, to what, by whom."""

    event_type: str
    action: AuditAction
    resource_type: ResourceType
    resource_id: str
    actor: Actor = SYSTEM
    result: AuditResult = AuditResult.SUCCESS
    metadata: dict[str, Any] = field(default_factory=dict)
    event_id: str = field(default_factory=lambda: str(uuid.uuid4()))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form, kept in the store's outbox until the event is in the chain."""
        return {
            "eventId": self.event_id,
            "eventType": self.event_type,
            "action": self.action.value,
            "result": self.result.value,
            "resourceType": self.resource_type.value,
            "resourceId": self.resource_id,
            "actor": self.actor.to_dict(),
            "metadata": self.metadata,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AuditEvent:
        """The event that :meth:`to_dict` produced ``data`` from."""
        return cls(
            event_id=data["eventId"],
            event_type=data["eventType"],
            action=AuditAction(data["action"]),
            result=AuditResult(data["result"]),
            resource_type=ResourceType(data["resourceType"]),
            resource_id=data["resourceId"],
            actor=Actor.from_dict(data["actor"]),
            metadata=data["metadata"],
        )

    def body(self, timestamp: str, sequence: int) -> dict[str, Any]:
        """The API fields of the event once chained, hashes aside."""
        fields = self.to_dict()
        return {
            "eventId": fields.pop("eventId"),
            "sequence": sequence,
            **fields,
            "timestamp": timestamp,
            HASH_SCHEME_FIELD: JCS_SCHEME,
        }


class UnknownHashScheme(ValueError):
    """An event whose ``hashScheme`` this version cannot compute."""


def canonical_body(body: dict[str, Any], *, parsed: bool = False) -> bytes:
    """The bytes an event's hash covers, by the scheme it names (see the module notes). ``parsed``: the
    body is what ``orjson.loads`` gave (:func:`~flowker.domain.canonical_json.canonical_parsed`)."""
    scheme = body.get(HASH_SCHEME_FIELD)
    if scheme == JCS_SCHEME:
        return canonical_parsed(body) if parsed else canonical(body)
    if HASH_SCHEME_FIELD not in body:
        return orjson.dumps(body, option=orjson.OPT_SORT_KEYS)
    raise UnknownHashScheme(f"unknown hash scheme {str(scheme)[:40]!r}")


def chain_hash(previous_hash: str | None, body: dict[str, Any]) -> str:
    """SHA-256 of the previous hash (or ``GENESIS``) and the event's canonical JSON, as lower hex.

    ValueError when ``body`` names an unknown scheme or has no canonical form (an integer beyond 2⁵³,
    a lone surrogate).
    """
    return hashlib.sha256((previous_hash or GENESIS).encode() + b"|" + canonical_body(body)).hexdigest()


def seal(body: dict[str, Any], previous_hash: str | None) -> dict[str, Any]:
    """The stored record: the body plus ``previousHash`` and ``hash``.

    A body with a value RFC 8785 cannot write (an integer beyond 2⁵³, a float NaN, a lone surrogate:
    say in metadata quoted from a provider) is stored with that value made writable
    (:func:`~flowker.domain.canonical_json.representable`) rather than refused, which would leave the
    event in the outbox for ever.
    """
    try:
        digest = chain_hash(previous_hash, body)
    except ValueError:
        body = representable(body)
        digest = chain_hash(previous_hash, body)
    return {**body, "previousHash": previous_hash, "hash": digest}
