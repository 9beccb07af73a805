"""The audit log exported and verified offline against a checkpoint the auditor kept, with the real
audit actor (in Ray); then the newest events are deleted from the SQLite file, and the verify endpoint
and the offline tool both report the truncation — the offline tool even once the stored checkpoints
that show it are deleted too, thanks to the auditor's own copy."""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path
from typing import Any

import pytest
import ray

from flowker import cli
from flowker.actors import factory
from flowker.actors.runtime import RayRuntime
from flowker.settings import Settings
from tests.e2e.test_audit import run_workflow
from tests.e2e.test_audit_checkpoints import providers, receiver, settings  # noqa: F401 (fixtures)
from tests.helpers.audit import all_events
from tests.helpers.client import ApiClient
from tests.helpers.stub_provider import StubProvider


async def checkpoint_now(runtime: RayRuntime) -> None:
    audit = ray.get_actor(runtime.config.name("audit"), factory.NAMESPACE)
    await audit.checkpoint.remote()


async def export(api: ApiClient, path: Path) -> Path:
    reply = await api.get("/v1/audit/export")
    assert reply.status == 200, reply.text
    assert reply.headers["Content-Type"].startswith("application/x-ndjson")
    path.write_bytes(reply.text.encode())  # noqa: ASYNC240 (a test's small file)
    return path


def offline(capsys: pytest.CaptureFixture[str], *args: Any) -> tuple[int, str]:
    status = cli.main(["audit", "verify", *map(str, args)])
    return status, capsys.readouterr().out


def sql(config: Settings, statement: str, *params: Any) -> int:
    with contextlib.closing(sqlite3.connect(config.data_dir / "flowker.db")) as conn:
        changed = conn.execute(statement, params).rowcount
        conn.commit()
    return changed


async def test_export_verify_offline_then_a_truncated_log_is_reported_everywhere(
    api: ApiClient,
    providers: StubProvider,  # noqa: F811
    runtime: RayRuntime,
    settings: Settings,  # noqa: F811
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    await run_workflow(api, providers, "first")
    await checkpoint_now(runtime)
    key = tmp_path / "public-key"
    key.write_text((await api.get("/v1/audit/public-key")).body["verifierKey"])
    # The auditor keeps the newest checkpoint now ...
    kept = (await api.get("/v1/audit/checkpoints", params={"limit": "1"})).body["items"][0]
    saved = tmp_path / "kept.note"
    saved.write_text(kept["note"])
    # ... and the log grows on.
    await run_workflow(api, providers, "second")
    await checkpoint_now(runtime)
    events = await all_events(api)
    newest = (await api.get("/v1/audit/checkpoints", params={"limit": "1"})).body["items"][0]
    assert kept["treeSize"] < newest["treeSize"] <= len(events)

    file = await export(api, tmp_path / "export.ndjson")
    status, out = offline(capsys, file, "--checkpoint", saved, "--public-key", key)
    assert status == 0, out
    assert "result: VALID" in out and f"verified (sequence, link, hash): {len(events)}" in out
    check = (await api.get(f"/v1/audit-events/{events[-1]['eventId']}/verify")).body
    assert check["isValid"] is True and check["checkpointsChecked"] >= 2

    # Someone with write access deletes the newest events, below the newest checkpoint's size.
    keep = newest["treeSize"] - 2
    assert keep > kept["treeSize"]
    assert sql(settings, "DELETE FROM audit_events WHERE sequence > ?", keep) == len(events) - keep
    last = events[keep - 1]
    check = (await api.get(f"/v1/audit-events/{last['eventId']}/verify")).body
    assert (check["isValid"], check["reason"], check["firstInvalidSequence"]) == (
        False,
        "truncated",
        keep + 1,
    )
    assert check["checked"] == keep
    early = (await api.get(f"/v1/audit-events/{events[2]['eventId']}/verify")).body
    assert (early["reason"], early["firstInvalidSequence"]) == ("truncated", keep + 1)
    file = await export(api, tmp_path / "truncated.ndjson")
    status, out = offline(capsys, file, "--public-key", key)
    assert status == 1 and f"result: INVALID: truncated at sequence {keep + 1}" in out, out

    # Deleting the stored checkpoints that show it too hides it from the service, not from the auditor's
    # copy of a checkpoint beyond what is left.
    sql(settings, "DELETE FROM audit_checkpoints WHERE tree_size > ?", keep)
    assert (await api.get(f"/v1/audit-events/{last['eventId']}/verify")).body["isValid"] is True
    sql(settings, "DELETE FROM audit_events WHERE sequence > ?", kept["treeSize"] - 1)
    sql(settings, "DELETE FROM audit_checkpoints WHERE tree_size > ?", kept["treeSize"] - 1)
    file = await export(api, tmp_path / "rewritten.ndjson")
    status, out = offline(capsys, file, "--public-key", key)
    assert status == 0, out  # the file alone cannot tell
    status, out = offline(capsys, file, "--checkpoint", saved, "--public-key", key)
    assert status == 1 and f"truncated at sequence {kept['treeSize']}" in out and "saved checkpoint" in out, (
        out
    )
