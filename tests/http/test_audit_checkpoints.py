"""``GET /v1/audit/checkpoints`` and ``GET /v1/audit/public-key`` over the in-process runtime: activity
makes checkpoints; each note verifies with the served verifier key and commits to the root the
consistency endpoint and an independent computation give; the signing key appears in no response, log
line or audit event."""

from __future__ import annotations

import base64
import logging
import stat
from pathlib import Path

import pytest

from flowker import codes
from flowker.domain.checkpoint import open_checkpoint
from flowker.domain.merkle import ConsistencyProof
from flowker.domain.signed_note import VerifierKey
from flowker.settings import DEFAULT_AUDIT_LOG_ORIGIN, Settings
from flowker.signing_key import SIGNING_KEY_FILE
from tests.conftest import API_KEY
from tests.helpers.audit import all_events
from tests.helpers.client import ApiClient
from tests.helpers.merkle_reference import naive_root
from tests.http.test_audit_proofs import activity
from tests.http.test_openapi import check

CHECKPOINTS = "/v1/audit/checkpoints"
PUBLIC_KEY = "/v1/audit/public-key"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        port=0,
        api_keys=(API_KEY,),
        retry_backoff_seconds=0.01,
        audit_checkpoint_events=4,
    )


async def test_checkpoints_verify_with_the_served_key_and_commit_to_the_log(api: ApiClient) -> None:
    await activity(api, 8, prefix="checkpoint")
    events = await all_events(api)
    hashes = [e["hash"] for e in events]
    key_reply = check(await api.get(PUBLIC_KEY), "get", PUBLIC_KEY)
    verifier = VerifierKey.parse(key_reply.body["verifierKey"])
    assert verifier.name == DEFAULT_AUDIT_LOG_ORIGIN
    listed = check(await api.get(CHECKPOINTS), "get", CHECKPOINTS)
    items = listed.body["items"]
    assert len(items) >= 2
    sizes = [item["treeSize"] for item in items]
    assert sizes == sorted(sizes, reverse=True) and len(set(sizes)) == len(sizes)
    assert sizes[-1] >= 4  # the first is issued once the log has 4 events
    for item in items:
        opened = open_checkpoint(item["note"], [verifier], DEFAULT_AUDIT_LOG_ORIGIN)
        assert opened.tree_size == item["treeSize"]
        assert base64.b64encode(opened.root_hash).decode() == item["rootHash"]
        assert opened.root_hash == naive_root(hashes[: item["treeSize"]])
        proof = await api.get("/v1/audit/consistency", params={"from": "1", "to": str(item["treeSize"])})
        assert proof.status == 200, proof.text
        assert proof.body["rootHash"] == item["rootHash"]
        assert item["createdAt"].endswith("Z")
    # A newer checkpoint's tree extends an older one's: the consistency proof between them verifies.
    newer, older = items[0], items[-1]
    reply = await api.get(
        "/v1/audit/consistency", params={"from": str(older["treeSize"]), "to": str(newer["treeSize"])}
    )
    assert ConsistencyProof.from_json(reply.body).verify(
        base64.b64decode(older["rootHash"]), base64.b64decode(newer["rootHash"])
    )


async def test_the_list_is_bounded_by_limit(api: ApiClient) -> None:
    await activity(api, 8, prefix="limit")
    everything = (await api.get(CHECKPOINTS)).body["items"]
    one = check(await api.get(CHECKPOINTS, params={"limit": "1"}), "get", CHECKPOINTS)
    assert one.body["items"] == everything[:1]
    for bad in ("0", "x", "-1", "1.5"):
        reply = await api.get(CHECKPOINTS, params={"limit": bad})
        check(reply.error(400, codes.INVALID_LIMIT), "get", CHECKPOINTS)
    clamped = check(await api.get(CHECKPOINTS, params={"limit": "101"}), "get", CHECKPOINTS)
    assert clamped.body["items"] == (await api.get(CHECKPOINTS, params={"limit": "100"})).body["items"]


async def test_the_list_pages_with_a_cursor_as_audit_events_do(api: ApiClient) -> None:
    await activity(api, 12, prefix="pages")
    everything = (await api.get(CHECKPOINTS, params={"limit": "100"})).body
    assert len(everything["items"]) >= 2 and everything["hasMore"] is False
    assert everything["nextCursor"] == ""
    paged: list[dict[str, object]] = []
    cursor = ""
    while True:
        params = {"limit": "1", **({"cursor": cursor} if cursor else {})}
        page = check(await api.get(CHECKPOINTS, params=params), "get", CHECKPOINTS).body
        paged += page["items"]
        if not page["hasMore"]:
            assert page["nextCursor"] == ""
            break
        cursor = page["nextCursor"]
        assert cursor == str(page["items"][-1]["treeSize"])
    assert paged == everything["items"]
    for bad in ("x", "-1", "1.5", "1" * 19, " 4"):
        reply = await api.get(CHECKPOINTS, params={"cursor": bad})
        check(reply.error(400, codes.INVALID_AUDIT_CURSOR), "get", CHECKPOINTS)


async def test_a_quiet_log_lists_no_checkpoint(api: ApiClient) -> None:
    assert (await api.get(CHECKPOINTS)).body == {"items": [], "nextCursor": "", "hasMore": False}


async def test_both_need_an_api_key(anon: ApiClient) -> None:
    for path in (CHECKPOINTS, PUBLIC_KEY):
        reply = await anon.get(path)
        check(reply.error(401, codes.UNAUTHORIZED), "get", path)


async def test_the_signing_key_is_in_no_response_log_or_audit_event(
    api: ApiClient, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    path = settings.data_dir / SIGNING_KEY_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    signer = path.read_text().strip()
    secret = signer.split("+", 4)[4]  # the base64 seed (which may itself hold a "+")
    with caplog.at_level(logging.DEBUG):
        await activity(api, 8, prefix="secret")
        replies = [
            await api.get(CHECKPOINTS, params={"limit": "100"}),
            await api.get(PUBLIC_KEY),
            await api.get("/v1/audit-events", params={"limit": "100"}),
            await api.get("/openapi.json"),
            await api.get("/health"),
        ]
    events = await all_events(api)
    assert (await api.get(CHECKPOINTS)).body["items"]
    for reply in replies:
        assert secret not in reply.text and "PRIVATE+KEY" not in reply.text
    assert secret not in str(events)
    assert secret not in caplog.text and "PRIVATE+KEY" not in caplog.text
