"""``GET /v1/audit-events/{id}/verify`` and ``GET /v1/audit/export`` over the in-process runtime and
the real embedded store: the answer's reasons after SQL tampering, the export's lines, a read-scope key,
and the export verified offline with the served key."""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest

from flowker import cli, codes
from flowker.domain.audit import seal
from flowker.settings import Settings
from tests.conftest import API_KEY
from tests.helpers.client import ApiClient
from tests.http.test_audit_proofs import activity
from tests.http.test_openapi import check

READ_KEY = "read-only-key-for-the-export-0123"
EXPORT = "/v1/audit/export"
VERIFY = "/v1/audit-events/{id}/verify"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        port=0,
        api_keys=(API_KEY, "read:" + READ_KEY),
        retry_backoff_seconds=0.01,
        audit_checkpoint_events=4,
    )


@pytest.fixture
async def reader(server: str) -> AsyncIterator[ApiClient]:
    async with aiohttp.ClientSession(server, headers={"X-API-Key": READ_KEY}) as session:
        yield ApiClient(session)


def sql(settings: Settings, statement: str, *params: Any) -> int:
    with contextlib.closing(sqlite3.connect(settings.data_dir / "flowker.db")) as conn:
        changed = conn.execute(statement, params).rowcount
        conn.commit()
    return changed


async def verify(api: ApiClient, event_id: str) -> dict[str, Any]:
    reply = check(await api.get(f"/v1/audit-events/{event_id}/verify"), "get", VERIFY)
    assert reply.status == 200, reply.text
    return reply.body


async def checkpoints(api: ApiClient) -> list[dict[str, Any]]:
    return (await api.get("/v1/audit/checkpoints", params={"limit": "100"})).body["items"]


async def test_the_export_streams_the_log_and_its_checkpoints_to_a_read_key(
    api: ApiClient, reader: ApiClient, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    events = await activity(api, 12, prefix="export")
    stored = await checkpoints(api)
    assert stored
    reply = await reader.get(EXPORT)
    assert reply.status == 200, reply.text
    assert reply.headers["Content-Type"].startswith("application/x-ndjson")
    lines = [orjson.loads(line) for line in reply.text.splitlines()]
    assert lines[0]["type"] == "header" and lines[0]["format"] == "flowker-audit-export"
    assert lines[0]["treeSize"] == len(events)
    assert [line["event"] for line in lines if line["type"] == "event"] == events
    listed = [line for line in lines if line["type"] == "checkpoint"]
    assert sorted(c["treeSize"] for c in listed) == sorted(c["treeSize"] for c in stored)
    assert lines[-1] == {"type": "end", "events": len(events), "checkpoints": len(listed)}
    key = tmp_path / "key.json"
    key.write_text((await reader.get("/v1/audit/public-key")).text)
    export = tmp_path / "export.ndjson"
    export.write_text(reply.text)
    assert cli.main(["audit", "verify", str(export), "--public-key", str(key)]) == 0
    assert "result: VALID" in capsys.readouterr().out


async def test_the_export_needs_a_key(anon: ApiClient) -> None:
    check((await anon.get(EXPORT)).error(401, codes.UNAUTHORIZED), "get", EXPORT)


async def test_an_intact_log_verifies_against_its_checkpoints(api: ApiClient) -> None:
    events = await activity(api, 12, prefix="intact")
    answer = await verify(api, events[-1]["eventId"])
    assert answer["isValid"] is True and answer["checked"] == len(events)
    assert answer["checkpointsChecked"] == len(
        [c for c in await checkpoints(api) if c["treeSize"] <= len(events)]
    )
    assert answer["checkpointsChecked"] >= 1
    assert "reason" not in answer and "firstInvalidSequence" not in answer


@pytest.mark.parametrize(
    "column", ["event_type", "action", "result", "resource_type", "resource_id", "created_at"]
)
async def test_an_edited_searched_column_is_named(api: ApiClient, settings: Settings, column: str) -> None:
    events = await activity(api, 6, prefix="column")
    value = (
        "2020-01-01T00:00:00.000000Z" if column == "created_at" else "00000000-0000-0000-0000-000000000009"
    )
    assert sql(settings, f"UPDATE audit_events SET {column} = ? WHERE sequence = 3", value) == 1
    answer = await verify(api, events[-1]["eventId"])
    assert (answer["reason"], answer["firstInvalidSequence"], answer["checked"]) == ("column_mismatch", 3, 2)
    assert answer["firstInvalidId"] == events[2]["eventId"]


async def test_deleting_the_newest_events_is_reported_as_truncation(
    api: ApiClient, settings: Settings
) -> None:
    events = await activity(api, 12, prefix="truncate")
    newest = max(c["treeSize"] for c in await checkpoints(api))
    keep = newest - 2
    sql(settings, "DELETE FROM audit_events WHERE sequence > ?", keep)
    for event in (events[keep - 1], events[0]):
        answer = await verify(api, event["eventId"])
        assert (answer["isValid"], answer["reason"], answer["firstInvalidSequence"]) == (
            False,
            "truncated",
            keep + 1,
        )
        assert "firstInvalidId" not in answer


async def test_a_rechained_log_fails_its_checkpoints(api: ApiClient, settings: Settings) -> None:
    events = await activity(api, 12, prefix="rechain")
    first = min(c["treeSize"] for c in await checkpoints(api))
    previous = events[0]["previousHash"]
    with contextlib.closing(sqlite3.connect(settings.data_dir / "flowker.db")) as conn:
        for event in events:
            body = {k: v for k, v in event.items() if k not in ("hash", "previousHash")}
            if event["sequence"] == 1:
                body["metadata"] = {**body["metadata"], "workflow.name": "rewritten"}
            record = seal(body, previous)
            previous = record["hash"]
            conn.execute(
                "UPDATE audit_events SET doc = ? WHERE sequence = ?",
                (orjson.dumps(record), event["sequence"]),
            )
        conn.commit()
    answer = await verify(api, events[-1]["eventId"])
    assert (answer["reason"], answer["firstInvalidSequence"], answer["checkpointsChecked"]) == (
        "checkpoint_mismatch",
        first,
        0,
    )
