"""The audit trail: events, their hash chain, and its verification — pure functions, no I/O.

Each event carries a gapless ``sequence`` and ``hash = SHA-256(previousHash ‖ "|" ‖ canonical JSON)``,
where the canonical JSON covers every field but the two hashes (keys sorted, no spaces). The first
event chains from the string ``GENESIS``. Unlike the original, verification recomputes every hash,
so an edited event is caught even when the links still match.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import orjson

GENESIS = "GENESIS"


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
        return {"eventId": fields.pop("eventId"), "sequence": sequence, **fields, "timestamp": timestamp}


def chain_hash(previous_hash: str | None, body: dict[str, Any]) -> str:
    """SHA-256 of the previous hash (or ``GENESIS``) and the event's canonical JSON, as lower hex."""
    canonical = orjson.dumps(body, option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256((previous_hash or GENESIS).encode() + b"|" + canonical).hexdigest()


def seal(body: dict[str, Any], previous_hash: str | None) -> dict[str, Any]:
    """The stored record: the body plus ``previousHash`` and ``hash``."""
    return {**body, "previousHash": previous_hash, "hash": chain_hash(previous_hash, body)}


@dataclass(frozen=True)
class Verification:
    """The answer of ``GET /v1/audit-events/{id}/verify``."""

    is_valid: bool
    total_checked: int
    message: str
    first_invalid_id: str | None = None
    first_invalid_sequence: int | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "isValid": self.is_valid,
            "totalChecked": self.total_checked,
            "message": self.message,
        }
        if self.first_invalid_id is not None:
            out["firstInvalidId"] = self.first_invalid_id
            out["firstInvalidSequence"] = self.first_invalid_sequence
        return out


def verify(records: Iterable[dict[str, Any]]) -> Verification:
    """Recompute the chain over ``records`` (in sequence order from 1) and name the first bad one.

    A record is bad when its sequence skips or repeats a number, when its ``previousHash`` is not
    the hash of the record before it, or when its ``hash`` is not the hash of its own content.
    """
    previous: str | None = None
    checked = 0
    for expected, record in enumerate(records, 1):
        checked = expected
        problem = _problem(record, expected, previous)
        if problem:
            return Verification(False, checked, problem, record.get("eventId"), record.get("sequence"))
        previous = record["hash"]
    return Verification(True, checked, "hash chain is valid")


def _problem(record: dict[str, Any], expected: int, previous: str | None) -> str | None:
    sequence = record.get("sequence")
    if sequence != expected:
        return f"sequence gap: expected {expected}, found {sequence}"
    if record.get("previousHash") != previous:
        return f"chain break at sequence {expected}: previousHash is not the hash of event {expected - 1}"
    body = {k: v for k, v in record.items() if k not in ("hash", "previousHash")}
    if record.get("hash") != chain_hash(previous, body):
        return f"hash mismatch at sequence {expected}: the event's content was altered"
    return None
