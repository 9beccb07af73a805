"""Checkpoints issued by the real audit actor (in Ray) while executions ran, with the key the front
door published: each note verifies with the served verifier key and commits to the root of the log the
API lists, the sink file holds the same notes, and the key is in no actor argument."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import ray

from flowker.actors import actor_secrets, factory
from flowker.actors.runtime import RayRuntime
from flowker.domain.checkpoint import open_checkpoint
from flowker.domain.signed_note import VerifierKey
from flowker.settings import DEFAULT_AUDIT_LOG_ORIGIN, Settings
from flowker.signing_key import SIGNING_KEY_FILE, load_signing_key
from tests.conftest import API_KEY
from tests.e2e.test_audit import AML, KYC, kyc_answer, run_workflow
from tests.helpers.audit import all_events
from tests.helpers.checkpoint_receiver import Receiver
from tests.helpers.client import ApiClient
from tests.helpers.merkle_reference import naive_root
from tests.helpers.stub_provider import StubProvider


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    async with Receiver() as started:
        yield started


@pytest.fixture
def settings(tmp_path: Path, receiver: Receiver) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        port=0,
        api_keys=(API_KEY,),
        retry_backoff_seconds=0.01,
        breaker_open_seconds=1.0,
        audit_checkpoint_events=3,
        audit_checkpoint_file=str(tmp_path / "checkpoints.txt"),
        audit_checkpoint_url=receiver.url,
    )


def read_files(settings: Settings) -> tuple[str, str]:
    """The sink file's text and the signing key's."""
    sink = Path(settings.audit_checkpoint_file or "").read_text()
    return sink, (settings.data_dir / SIGNING_KEY_FILE).read_text().strip()


@pytest.fixture
async def providers() -> AsyncIterator[StubProvider]:
    async with StubProvider() as stub:
        stub.route("POST", KYC, kyc_answer)
        stub.route("POST", AML, (200, {"amlStatus": "cleared", "referenceId": "AML-REF-9876"}))
        yield stub


async def test_the_audit_actor_issues_signed_checkpoints_of_the_log(
    api: ApiClient, providers: StubProvider, runtime: RayRuntime, settings: Settings, receiver: Receiver
) -> None:
    _, done = await run_workflow(api, providers, "checkpointed")
    assert done["status"] == "completed"
    events = await all_events(api)
    audit = ray.get_actor(runtime.config.name("audit"), factory.NAMESPACE)
    await audit.checkpoint.remote()  # the one due now, if the background check has not issued it yet
    verifier = VerifierKey.parse((await api.get("/v1/audit/public-key")).body["verifierKey"])
    items = (await api.get("/v1/audit/checkpoints", params={"limit": "100"})).body["items"]
    assert items and items[0]["treeSize"] >= len(events) - 2
    hashes = [e["hash"] for e in (await all_events(api))]
    for item in items:
        opened = open_checkpoint(item["note"], [verifier], DEFAULT_AUDIT_LOG_ORIGIN)
        assert opened.tree_size == item["treeSize"]
        assert opened.root_hash == naive_root(hashes[: item["treeSize"]])
        assert base64.b64encode(opened.root_hash).decode() == item["rootHash"]
    # The sink holds the same notes, oldest first (and any issued since the list was read).
    sink, signer = read_files(settings)
    assert sink.startswith("".join(item["note"] + "\n" for item in reversed(items)))
    # And the URL received them, as signed, in the same order.
    posted = [note for _, note in receiver.received]
    assert posted[: len(items)] == [item["note"] for item in reversed(items)]
    # The key reached the actor through the internal store: it is in no actor's arguments.
    assert signer.split("+", 4)[4] not in repr(runtime.config)


async def test_without_a_published_key_the_chain_goes_on_and_checkpoints_wait(
    api: ApiClient, providers: StubProvider, runtime: RayRuntime
) -> None:
    runtime.start_pool()
    actor_secrets.withdraw(runtime.config, actor_secrets.SIGNING_KEY)
    _, done = await run_workflow(api, providers, "unsigned")
    assert done["status"] == "completed"
    events = await all_events(api)
    assert [e["sequence"] for e in events] == list(range(1, len(events) + 1))
    audit = ray.get_actor(runtime.config.name("audit"), factory.NAMESPACE)
    with pytest.raises(ray.exceptions.RayTaskError, match="not published"):
        await audit.checkpoint.remote()
    assert (await api.get("/v1/audit/checkpoints")).body["items"] == []
    signer = load_signing_key(Path(runtime.config.data_dir), None, DEFAULT_AUDIT_LOG_ORIGIN)
    actor_secrets.publish(runtime.config, actor_secrets.SIGNING_KEY, signer.to_text())
    await audit.checkpoint.remote()
    items = (await api.get("/v1/audit/checkpoints")).body["items"]
    assert items and items[0]["treeSize"] == len(await all_events(api))
