"""Merkle proofs over a log that the real audit actor (in Ray) wrote while executions ran: every
event's inclusion and the consistency between sizes verify against roots computed from the entry
hashes the API lists."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.e2e.test_audit import AML, KYC, kyc_answer, run_workflow
from tests.helpers.audit import all_events
from tests.helpers.audit_proofs import check_consistency, check_inclusion
from tests.helpers.client import ApiClient
from tests.helpers.stub_provider import StubProvider


@pytest.fixture
async def providers() -> AsyncIterator[StubProvider]:
    async with StubProvider() as stub:
        stub.route("POST", KYC, kyc_answer)
        stub.route("POST", AML, (200, {"amlStatus": "cleared", "referenceId": "AML-REF-9876"}))
        yield stub


async def test_proofs_verify_over_the_log_the_audit_actor_wrote(
    api: ApiClient, providers: StubProvider
) -> None:
    _, first = await run_workflow(api, providers, "first")
    after_first = await all_events(api)
    _, second = await run_workflow(api, providers, "second")
    assert (first["status"], second["status"]) == ("completed", "completed")
    events = await all_events(api)
    total = len(events)
    assert [e["sequence"] for e in events] == list(range(1, total + 1))
    assert total > len(after_first) > 4
    for sequence in range(1, total + 1):
        await check_inclusion(api, events, sequence, None)
    for size in (1, len(after_first), total - 1):
        await check_inclusion(api, events, (size + 1) // 2, size)
    await check_consistency(api, events, [(len(after_first), total), (1, total), (total - 3, total)])
