"""Audit logs built in memory as the audit writer builds them (sealed events, signed checkpoints), for
verification tests: pure, no store, no service."""

from __future__ import annotations

import copy
import uuid
from typing import Any

import orjson

from flowker.domain.audit import AuditAction, AuditEvent, ResourceType, chain_hash, seal
from flowker.domain.checkpoint import Checkpoint, sign_checkpoint
from flowker.domain.signed_note import SignerKey, generate_key
from tests.helpers.merkle_reference import naive_root

ORIGIN = "flowker.test/audit"
KEY = generate_key(ORIGIN)
TIMESTAMP = "2026-12-01T12:00:00.000000Z"
SEARCHED = ("sequence", "eventId", "eventType", "action", "result", "resourceType", "resourceId", "timestamp")


def event(number: int, metadata: dict[str, Any] | None = None) -> AuditEvent:
    return AuditEvent(
        event_type="WORKFLOW_CREATED",
        action=AuditAction.CREATE,
        resource_type=ResourceType.WORKFLOW,
        resource_id=str(uuid.UUID(int=number)),
        metadata=metadata if metadata is not None else {"workflow.name": f"flow {number}", "n": number},
        event_id=str(uuid.UUID(int=10**6 + number)),
    )


def legacy_seal(body: dict[str, Any], previous: str | None) -> dict[str, Any]:
    """A record as the writer sealed it before hash schemes were recorded: no ``hashScheme`` field,
    orjson's sorted keys hashed."""
    body = {k: v for k, v in body.items() if k != "hashScheme"}
    return {**body, "previousHash": previous, "hash": chain_hash(previous, body)}


def build_log(count: int, *, legacy: int = 0, start: int = 1) -> list[dict[str, Any]]:
    """``count`` sealed records, the first ``legacy`` of them in the legacy scheme."""
    return extend([], count, legacy=legacy, start=start)


def extend(
    records: list[dict[str, Any]], count: int, *, legacy: int = 0, start: int = 1
) -> list[dict[str, Any]]:
    out = list(records)
    previous = out[-1]["hash"] if out else None
    for offset in range(count):
        sequence = len(out) + 1
        body = event(start + offset).body(TIMESTAMP, sequence)
        record = legacy_seal(body, previous) if offset < legacy else seal(body, previous)
        out.append(record)
        previous = record["hash"]
    return out


def reseal(records: list[dict[str, Any]], start: int) -> list[dict[str, Any]]:
    """The log with records from index ``start`` on re-chained (a forger with write access and no key)."""
    out = [copy.deepcopy(r) for r in records]
    for index in range(start, len(out)):
        previous = out[index - 1]["hash"] if index else None
        body = {k: v for k, v in out[index].items() if k not in ("hash", "previousHash")}
        out[index] = seal(body, previous)
    return out


def checkpoint_note(
    records: list[dict[str, Any]], size: int, key: SignerKey = KEY, origin: str = ORIGIN
) -> str:
    root = naive_root([r["hash"] for r in records[:size]])
    return sign_checkpoint(Checkpoint(origin, size, root), key)


def searched(record: dict[str, Any]) -> dict[str, Any]:
    """What the embedded store's columns hold for ``record``."""
    names = (
        "sequence",
        "eventId",
        "eventType",
        "action",
        "result",
        "resourceType",
        "resourceId",
        "timestamp",
    )
    return {name: record[name] for name in names}


def line_bytes(record: dict[str, Any]) -> bytes:
    return orjson.dumps(record)
