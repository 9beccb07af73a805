"""``/v1/provider-configurations`` over real HTTP: create, read, list, patch, delete, enable/disable,
the connectivity test against a stub provider on 127.0.0.1, secrets encrypted at rest and masked in every
response and audit record, 4xx (never 500) for schema and field errors."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from flowker import codes
from flowker.settings import Settings
from flowker.store.embedded import EmbeddedStore
from tests.helpers.audit import all_events
from tests.helpers.client import ApiClient
from tests.helpers.oidc_provider import OidcProvider
from tests.helpers.stub_provider import StubProvider
from tests.store.builders import db_rows

MASK = "********"
TRACER_KEY = "tracer-api-key-5566778899"
MIDAZ_SECRET = "midaz-client-secret-11223344"
BASE = "/v1/provider-configurations"


def tracer(
    name: str = "tracer-prod", base_url: str = "https://tracer.example.com", **fields: Any
) -> dict[str, Any]:
    return {
        "name": name,
        "providerId": "tracer",
        "config": {"base_url": base_url, "api_key": TRACER_KEY},
        **fields,
    }


def midaz(name: str = "midaz-prod", **config: Any) -> dict[str, Any]:
    return {
        "name": name,
        "providerId": "midaz",
        "config": {
            "onboarding_base_url": "https://onboarding.midaz.example.com",
            "transaction_base_url": "https://transaction.midaz.example.com",
            "organization_id": str(uuid.uuid4()),
            "ledger_id": str(uuid.uuid4()),
            "auth": {
                "issuer_url": "https://idp.example.com",
                "client_id": "flowker",
                "client_secret": MIDAZ_SECRET,
            },
            **config,
        },
    }


async def create(api: ApiClient, body: dict[str, Any]) -> dict[str, Any]:
    created = await api.post(BASE, body)
    assert created.status == 201, created.text
    return created.body  # type: ignore[no-any-return]


async def test_create_answers_the_original_shape_and_get_masks_the_secrets(api: ApiClient) -> None:
    created = await create(api, tracer(description="the production Tracer", metadata={"team": "risk"}))
    assert set(created) == {"id", "name", "status", "createdAt"}
    assert (created["name"], created["status"]) == ("tracer-prod", "active")
    shown = await api.get(f"{BASE}/{created['id']}")
    assert shown.status == 200
    assert shown.body["config"] == {"base_url": "https://tracer.example.com", "api_key": MASK}
    assert (shown.body["providerId"], shown.body["description"], shown.body["metadata"]) == (
        "tracer",
        "the production Tracer",
        {"team": "risk"},
    )
    listed = await api.get(BASE)
    assert [item["config"]["api_key"] for item in listed.body["items"]] == [MASK]
    assert TRACER_KEY not in shown.text + listed.text


async def test_secrets_are_encrypted_at_rest_and_absent_from_the_audit_trail(
    api: ApiClient, store: EmbeddedStore, settings: Settings
) -> None:
    created = await create(api, midaz())
    await api.patch(f"{BASE}/{created['id']}", {"description": "patched"})
    await api.post(f"{BASE}/{created['id']}/disable")
    await api.post(f"{BASE}/{created['id']}/enable")
    await api.delete(f"{BASE}/{created['id']}")
    raw = db_rows(settings.data_dir, "SELECT doc FROM audit_events") + db_rows(
        settings.data_dir, "SELECT doc FROM audit_outbox"
    )
    assert all(MIDAZ_SECRET.encode() not in bytes(row[0]) for row in raw)
    events = [e for e in await all_events(api) if e["resourceType"] == "provider_config"]
    assert [(e["eventType"], e["action"]) for e in events] == [
        ("PROVIDER_CONFIG_CREATED", "CREATE"),
        ("PROVIDER_CONFIG_UPDATED", "UPDATE"),
        ("PROVIDER_CONFIG_DISABLED", "DISABLE"),
        ("PROVIDER_CONFIG_ENABLED", "ENABLE"),
        ("PROVIDER_CONFIG_DELETED", "DELETE"),
    ]
    assert MIDAZ_SECRET not in json.dumps(events)


async def test_the_stored_secret_is_sealed(api: ApiClient, settings: Settings) -> None:
    await create(api, tracer())
    (doc,) = db_rows(settings.data_dir, "SELECT doc FROM provider_configs")[0]
    stored = json.loads(doc)
    assert stored["config"]["api_key"].startswith("enc:v1:")
    assert TRACER_KEY.encode() not in bytes(doc)


async def test_schema_and_field_errors_are_4xx_with_their_codes(api: ApiClient) -> None:
    bad_uri = tracer(base_url="not a url")
    refused = (await api.post(BASE, bad_uri)).error(422, codes.INVALID_PROVIDER_CONFIG)
    assert "$.base_url: must be a valid uri" in refused.body["message"]
    missing = {
        "name": "t",
        "providerId": "tracer",
        "config": {"base_url": "https://t.example.com", "api_key": 123456789},
    }
    typed = (await api.post(BASE, missing)).error(422, codes.INVALID_PROVIDER_CONFIG)
    assert "123456789" not in typed.text and "$.api_key: must be of type string" in typed.body["message"]
    (await api.post(BASE, midaz(organization_id="org-1"))).error(422, codes.INVALID_PROVIDER_CONFIG)
    (await api.post(BASE, {**tracer(), "providerId": "s3"})).error(404, codes.PROVIDER_NOT_IN_CATALOG)
    (await api.post(BASE, {**tracer(), "name": "  "})).error(400, codes.PROVIDER_CONFIG_NAME_REQUIRED)
    (await api.post(BASE, {**tracer(), "name": "n" * 101})).error(400, codes.PROVIDER_CONFIG_NAME_TOO_LONG)
    (await api.post(BASE, {**tracer(), "providerId": ""})).error(400, codes.PROVIDER_ID_REQUIRED)
    (await api.post(BASE, {**tracer(), "config": {}})).error(400, codes.PROVIDER_CONFIG_REQUIRED)
    (await api.post(BASE, {**tracer(), "description": "d" * 501})).error(
        400, codes.PROVIDER_CONFIG_DESCRIPTION_TOO_LONG
    )
    (await api.post(BASE, {**tracer(), "config": "x"})).error(400, codes.WRONG_FIELD_TYPE)
    await create(api, tracer())
    (await api.post(BASE, tracer())).error(409, codes.PROVIDER_CONFIG_NAME_TAKEN)
    (await api.get(f"{BASE}/{uuid.uuid4()}")).error(404, codes.PROVIDER_CONFIG_NOT_FOUND)
    (await api.get(f"{BASE}/not-a-uuid")).error(400, codes.INVALID_UUID)


async def test_list_filters_by_status_and_provider_with_cursor_pages(api: ApiClient) -> None:
    ids = [(await create(api, tracer(f"tracer-{i}")))["id"] for i in range(3)]
    await create(api, midaz())
    await api.post(f"{BASE}/{ids[1]}/disable")
    only_tracer = await api.get(BASE, params={"providerId": "tracer", "sortBy": "name", "sortOrder": "ASC"})
    assert [i["name"] for i in only_tracer.body["items"]] == ["tracer-0", "tracer-1", "tracer-2"]
    active = await api.get(
        BASE, params={"providerId": "tracer", "status": "active", "sortBy": "name", "sortOrder": "ASC"}
    )
    assert [i["name"] for i in active.body["items"]] == ["tracer-0", "tracer-2"]
    first = await api.get(BASE, params={"limit": "2", "sortBy": "name", "sortOrder": "ASC"})
    assert first.body["hasMore"] is True and len(first.body["items"]) == 2
    second = await api.get(
        BASE, params={"limit": "2", "sortBy": "name", "sortOrder": "ASC", "cursor": first.body["nextCursor"]}
    )
    assert [i["name"] for i in first.body["items"] + second.body["items"]] == [
        "midaz-prod",
        "tracer-0",
        "tracer-1",
        "tracer-2",
    ]
    assert second.body == {**second.body, "hasMore": False, "nextCursor": ""}
    (await api.get(BASE, params={"status": "tested"})).error(400, codes.UNKNOWN_STATUS_OR_SORT)
    (await api.get(BASE, params={"limit": "0"})).error(400, codes.INVALID_LIMIT)


async def test_patch_keeps_masked_secrets_and_rechecks_the_config(api: ApiClient, settings: Settings) -> None:
    created = await create(api, tracer())
    path = f"{BASE}/{created['id']}"
    shown = (await api.get(path)).body
    renamed = await api.patch(path, {"name": "tracer-renamed", "config": shown["config"]})
    assert renamed.status == 200, renamed.text
    assert renamed.body["name"] == "tracer-renamed" and renamed.body["config"]["api_key"] == MASK
    (doc,) = db_rows(settings.data_dir, "SELECT doc FROM provider_configs")[0]
    assert json.loads(doc)["config"]["api_key"].startswith("enc:v1:")
    (await api.patch(path, {"config": {"base_url": "https://tracer.example.com"}})).error(
        422, codes.INVALID_PROVIDER_CONFIG
    )
    # providerId cannot change: it is ignored.
    kept = await api.patch(path, {"providerId": "midaz", "description": "d"})
    assert kept.body["providerId"] == "tracer"
    (await api.patch(path, {"name": ""})).error(400, codes.PROVIDER_CONFIG_NAME_REQUIRED)
    await create(api, tracer("other"))
    (await api.patch(path, {"name": "other"})).error(409, codes.PROVIDER_CONFIG_NAME_TAKEN)
    (await api.patch(f"{BASE}/{uuid.uuid4()}", {"name": "x"})).error(404, codes.PROVIDER_CONFIG_NOT_FOUND)


async def test_a_base_url_moving_origin_needs_its_secrets_again(api: ApiClient) -> None:
    created = await create(api, tracer())
    path = f"{BASE}/{created['id']}"
    moved = {"base_url": "https://attacker.example.net", "api_key": MASK}
    (await api.patch(path, {"config": moved})).error(422, codes.CREDENTIALS_BOUND_TO_ORIGIN)
    same_origin = await api.patch(
        path, {"config": {"base_url": "https://tracer.example.com/v2", "api_key": MASK}}
    )
    assert same_origin.status == 200, same_origin.text
    again = await api.patch(
        path, {"config": {"base_url": "https://tracer.example.net", "api_key": "new-key-123"}}
    )
    assert again.status == 200, again.text
    # A mask where nothing is stored is refused, not stored as the secret.
    (
        await api.post(
            BASE, {**tracer("masked"), "config": {"base_url": "https://t.example.com", "api_key": MASK}}
        )
    ).error(422, codes.INVALID_PROVIDER_CONFIG)


async def test_enable_disable_and_delete(api: ApiClient) -> None:
    created = await create(api, tracer())
    path = f"{BASE}/{created['id']}"
    (await api.post(f"{path}/enable")).error(422, codes.PROVIDER_CONFIG_NOT_ALLOWED)
    disabled = await api.post(f"{path}/disable")
    assert (disabled.status, disabled.body["status"]) == (200, "disabled")
    (await api.post(f"{path}/disable")).error(422, codes.PROVIDER_CONFIG_NOT_ALLOWED)
    enabled = await api.post(f"{path}/enable")
    assert enabled.body["status"] == "active"
    deleted = await api.delete(path)
    assert (deleted.status, deleted.text) == (204, "")
    (await api.delete(path)).error(404, codes.PROVIDER_CONFIG_NOT_FOUND)


@pytest.fixture
async def stub() -> AsyncIterator[StubProvider]:
    async with StubProvider() as provider:
        yield provider


async def test_connectivity_test_runs_three_stages_with_the_api_key(
    api: ApiClient, stub: StubProvider
) -> None:
    def root(_payload: Any, request: Any) -> tuple[int, Any]:
        return (
            (200, {"ok": True}) if request.headers.get("X-API-Key") == TRACER_KEY else (401, {"error": "key"})
        )

    stub.route("GET", "/tracer", root)
    created = await create(api, tracer(base_url=stub.url + "/tracer"))
    result = await api.post(f"{BASE}/{created['id']}/test")
    assert result.status == 200, result.text
    body = result.body
    assert (body["providerConfigId"], body["providerId"], body["overallStatus"]) == (
        created["id"],
        "tracer",
        "passed",
    )
    assert body["summary"] == "All tests passed - provider configuration connectivity verified"
    assert [(s["name"], s["status"]) for s in body["stages"]] == [
        ("connectivity", "passed"),  # 401 without the key is still an answer
        ("authentication", "passed"),
        ("end_to_end", "passed"),
    ]
    assert body["stages"][0]["details"]["statusCode"] == 401
    assert body["stages"][1]["details"]["hasApiKey"] is True
    calls = stub.calls("/tracer")
    assert [c.headers.get("X-API-Key") for c in calls] == [None, TRACER_KEY, TRACER_KEY]
    assert TRACER_KEY not in result.text
    shown = await api.get(f"{BASE}/{created['id']}")
    assert shown.body["status"] == "active"  # the test changes nothing


async def test_connectivity_test_failures_skip_the_stages_after(api: ApiClient, stub: StubProvider) -> None:
    stub.route("GET", "/down", (503, {"detail": "internal stack trace"}))
    stub.route("GET", "/refuses", (403, {"error": "forbidden"}))
    down = await create(api, tracer("down", base_url=stub.url + "/down"))
    refuses = await create(api, tracer("refuses", base_url=stub.url + "/refuses"))
    failed = (await api.post(f"{BASE}/{down['id']}/test")).body
    assert failed["overallStatus"] == "failed"
    assert [(s["name"], s["status"]) for s in failed["stages"]] == [
        ("connectivity", "failed"),
        ("authentication", "skipped"),
        ("end_to_end", "skipped"),
    ]
    assert failed["stages"][1]["message"] == "Skipped due to connectivity failure"
    assert "stack trace" not in json.dumps(failed)
    partial = (await api.post(f"{BASE}/{refuses['id']}/test")).body
    assert partial["overallStatus"] == "partial"
    assert [s["status"] for s in partial["stages"]] == ["passed", "failed", "skipped"]


async def test_connectivity_test_of_an_unreachable_provider_is_a_result(
    api: ApiClient, stub: StubProvider
) -> None:
    created = await create(api, tracer(base_url="http://127.0.0.1:9/none"))
    result = await api.post(f"{BASE}/{created['id']}/test")
    assert result.status == 200
    assert result.body["stages"][0]["status"] == "failed"
    assert result.body["stages"][0]["message"].startswith("no answer: ")
    (await api.post(f"{BASE}/{uuid.uuid4()}/test")).error(404, codes.PROVIDER_CONFIG_NOT_FOUND)


async def test_a_midaz_configuration_obtains_a_token_and_sends_it_end_to_end(
    api: ApiClient, stub: StubProvider
) -> None:
    async with OidcProvider() as issuer:
        issuer.add_client("flowker", MIDAZ_SECRET)
        stub.route("GET", "/onboarding", issuer.protected((200, {"status": "up"})))
        urls = {
            "onboarding_base_url": stub.url + "/onboarding",
            "transaction_base_url": stub.url + "/transaction",
        }
        body = midaz(
            **urls, auth={"issuer_url": issuer.url, "client_id": "flowker", "client_secret": MIDAZ_SECRET}
        )
        created = await create(api, body)
        result = (await api.post(f"{BASE}/{created['id']}/test")).body
        assert [(s["name"], s["status"]) for s in result["stages"]] == [
            ("connectivity", "passed"),  # unauthenticated: 401 is an answer below 500
            ("authentication", "passed"),
            ("end_to_end", "passed"),
        ], result
        assert result["stages"][1]["message"] == "token obtained (client_credentials grant, HTTP 200)"
        assert result["stages"][1]["details"]["url"] == issuer.token_endpoint
        assert issuer.issued() == 1
        token = issuer.tokens_issued()[-1]
        assert stub.calls("/onboarding")[-1].headers["Authorization"] == f"Bearer {token}"
        assert token not in str(result) and MIDAZ_SECRET not in str(result)
        # A refused secret fails the stage with the issuer's answer, and nothing is sent end to end.
        issuer.add_client("flowker", "another-secret-5566")
        calls = len(stub.calls("/onboarding"))
        refused = (await api.post(f"{BASE}/{created['id']}/test")).body
        assert [(s["name"], s["status"]) for s in refused["stages"]] == [
            ("connectivity", "passed"),
            ("authentication", "failed"),
            ("end_to_end", "skipped"),
        ], refused
        assert refused["stages"][1]["details"]["statusCode"] == 401
        assert len(stub.calls("/onboarding")) == calls + 1  # the connectivity stage only
