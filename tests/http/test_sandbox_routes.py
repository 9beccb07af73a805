"""``/sandbox/…`` over real HTTP on 127.0.0.1, in the front door over the in-process runtime: present only
in sandbox mode, public (no Flowker key) but checking the sandbox's own credential, and good enough for
the README's workflow to complete against the configurations the sandbox creates."""

from __future__ import annotations

import base64
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from flowker.domain.sandbox_answers import SANDBOX_API_KEY
from flowker.domain.sandbox_configs import sandbox_executor_configs, sandbox_provider_configs
from flowker.errors import ConfigError
from flowker.http.app import create_app
from flowker.http.keys import Services
from flowker.http.routes.sandbox import PREFIX, ROOTS, ROUTES
from flowker.settings import Settings
from flowker.usecases.sandbox import ensure_sandbox_configs, ensure_sandbox_provider_configs
from tests.conftest import API_KEY
from tests.helpers.client import ApiClient
from tests.helpers.fixtures import compliance_workflow

SANDBOX_HEADERS = {"X-API-Key": SANDBOX_API_KEY}
LEDGER = "/v1/organizations/org-1/ledgers/ledger-1"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path / "data", port=0, api_keys=(API_KEY,), retry_backoff_seconds=0.01, sandbox=True
    )


@pytest.fixture
async def provider(server: str) -> AsyncIterator[ApiClient]:
    """A client that calls the sandbox as Flowker does: with the sandbox's key, not Flowker's."""
    async with aiohttp.ClientSession(server, headers=SANDBOX_HEADERS) as session:
        yield ApiClient(session)


async def test_sandbox_routes_are_absent_unless_sandbox_mode_is_on(
    tmp_path: Path, services: Services
) -> None:
    off = Settings(data_dir=tmp_path / "off", api_keys=(API_KEY,))
    runner = web.AppRunner(create_app(off, services, off.api_keys))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        url = f"http://127.0.0.1:{runner.addresses[0][1]}"
        async with aiohttp.ClientSession(url, headers=SANDBOX_HEADERS) as session:
            client = ApiClient(session)
            for method, path, _ in ROUTES:
                path = path.format(org="o", ledger="l", accountId="a")
                reply = await client.call(
                    method, PREFIX + path, {"document": "1"} if method == "POST" else None
                )
                assert reply.status == 404, (method, path, reply.text)
            assert (await client.get("/sandbox/oidc/.well-known/openid-configuration")).status == 404
    finally:
        await runner.cleanup()


def test_sandbox_mode_is_refused_in_production(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"sandbox .* refused in production"):
        Settings(
            data_dir=tmp_path,
            environment="production",
            trusted_proxies=(),
            tls_cert=tmp_path / "c",
            tls_key=tmp_path / "k",
            sandbox=True,
        )
    with pytest.raises(ConfigError, match="refused in production"):
        Settings.from_env(
            {"FLOWKER_ENV": "production", "FLOWKER_SANDBOX": "1", "FLOWKER_TRUSTED_PROXIES": "10.0.0.1"}
        )
    assert Settings.from_env({"FLOWKER_SANDBOX": "1"}).sandbox is True
    assert Settings.from_env({}).sandbox is False
    with pytest.raises(ConfigError, match="FLOWKER_SANDBOX"):
        Settings.from_env({"FLOWKER_SANDBOX": "perhaps"})


async def test_no_flowker_key_needed_but_the_sandbox_credential_is(
    anon: ApiClient, provider: ApiClient
) -> None:
    missing = await anon.post("/sandbox/kyc/validate", {"document": "1"})
    assert missing.status == 401 and missing.body["code"] == "SANDBOX_UNAUTHORIZED"
    flowker_key = await anon.post("/sandbox/kyc/validate", {"document": "1"}, headers={"X-API-Key": API_KEY})
    assert flowker_key.status == 401
    bearer = await anon.post(
        "/sandbox/kyc/validate", {"document": "1"}, headers={"Authorization": f"Bearer {SANDBOX_API_KEY}"}
    )
    assert bearer.status == 200
    answer = await provider.post("/sandbox/kyc/validate", {"document": "123"})
    assert (answer.status, answer.body) == (
        200,
        {"customerId": "CUST-001", "riskScore": 25, "status": "approved"},
    )
    # Flowker's own API still wants Flowker's key, whatever the sandbox accepts.
    assert (await provider.get("/v1/executors")).status == 401


async def test_every_simulated_operation_answers_at_its_path(provider: ApiClient) -> None:
    aml = await provider.post("/sandbox/aml/check", {"customerId": "CUST-001", "transactionAmount": 10})
    assert aml.status == 200 and aml.body["amlStatus"] == "cleared"
    validation = {
        "requestId": str(uuid.uuid4()),
        "transactionType": "PIX",
        "amount": "20000.00",
        "currency": "BRL",
        "transactionTimestamp": "2026-01-02T03:04:05Z",
        "account": {"accountId": "acc-1", "type": "checking", "status": "active"},
    }
    made = await provider.post("/sandbox/tracer/v1/validations", validation)
    assert made.status == 201 and made.body["decision"] == "REVIEW"
    listed = await provider.get("/sandbox/tracer/v1/validations", params={"decision": "REVIEW"})
    assert listed.status == 200 and made.body in listed.body["items"]
    transaction = {
        "send": {
            "asset": "BRL",
            "value": "1000.00",
            "source": {"from": [{"accountAlias": "@payer"}]},
            "distribute": {"to": [{"accountAlias": "@payee"}]},
        }
    }
    tx = await provider.post(f"/sandbox/midaz/transaction{LEDGER}/transactions/json", transaction)
    assert tx.status == 201 and tx.body["ledgerId"] == "ledger-1" and tx.body["status"]["code"] == "APPROVED"
    account = await provider.post(
        f"/sandbox/midaz/onboarding{LEDGER}/accounts", {"assetCode": "BRL", "type": "deposit"}
    )
    assert account.status == 201
    account_id = account.body["id"]
    got = await provider.get(f"/sandbox/midaz/onboarding{LEDGER}/accounts/{account_id}")
    assert got.status == 200 and got.body["id"] == account_id
    balances = await provider.get(f"/sandbox/midaz/transaction{LEDGER}/accounts/{account_id}/balances")
    assert balances.status == 200 and balances.body["items"][0]["accountId"] == account_id
    for root in ("kyc", "aml", "tracer", "midaz/onboarding", "midaz/transaction"):
        assert (await provider.get(f"/sandbox/{root}")).status == 200, root


async def test_failure_modes_over_http(provider: ApiClient) -> None:
    body = {"document": "1", "sandbox": {"fail": "500", "times": 1}}
    headers = {"Idempotency-Key": f"{uuid.uuid4()}:kyc"}
    first = await provider.post("/sandbox/kyc/validate", body, headers=headers)
    second = await provider.post("/sandbox/kyc/validate", body, headers=headers)
    assert (first.status, second.status) == (500, 200)
    limited = await provider.post("/sandbox/kyc/validate", {"document": "1", "sandbox": {"fail": "429"}})
    assert limited.status == 429 and limited.headers["Retry-After"] == "1"
    delayed = await provider.get("/sandbox/tracer/v1/validations", params={"sandboxDelayMs": "20"})
    assert delayed.status == 200
    bad = await provider.post("/sandbox/kyc/validate", {"document": "1", "sandbox": {"fail": "teapot"}})
    assert bad.status == 400 and bad.body["code"] == "SANDBOX_BAD_MODE"


async def test_malformed_json_is_a_400(provider: ApiClient) -> None:
    reply = await provider.call(
        "POST", "/sandbox/kyc/validate", data=b"{nope", headers={"Content-Type": "application/json"}
    )
    assert reply.status == 400 and reply.body["code"] == "SANDBOX_BAD_JSON"


async def test_the_oidc_issuer_gives_a_token_the_providers_accept(server: str, anon: ApiClient) -> None:
    discovered = await anon.get("/sandbox/oidc/.well-known/openid-configuration")
    assert discovered.status == 200
    assert discovered.body["issuer"] == f"{server}/sandbox/oidc"
    assert discovered.body["token_endpoint"] == f"{server}/sandbox/oidc/token"
    basic = base64.b64encode(b"sandbox:" + SANDBOX_API_KEY.encode()).decode()
    async with aiohttp.ClientSession() as session:
        async with session.post(
            discovered.body["token_endpoint"],
            data={"grant_type": "client_credentials"},
            headers={"Authorization": f"Basic {basic}"},
        ) as response:
            assert response.status == 200
            token = await response.json()
        async with session.post(
            discovered.body["token_endpoint"],
            data={"grant_type": "client_credentials", "client_id": "sandbox", "client_secret": "wrong"},
        ) as response:
            assert response.status == 401 and (await response.json()) == {"error": "invalid_client"}
        async with session.post(
            discovered.body["token_endpoint"], data={"grant_type": "password"}
        ) as response:
            assert response.status == 400
    assert token["token_type"] == "Bearer" and token["expires_in"] > 0
    used = await anon.get(
        f"/sandbox/midaz/onboarding{LEDGER}/accounts/acc-1",
        headers={"Authorization": f"Bearer {token['access_token']}"},
    )
    assert used.status == 200


async def test_the_created_configurations_run_the_readme_workflow(
    server: str, services: Services, api: ApiClient
) -> None:
    base_url = f"{server}/sandbox"
    made = await ensure_sandbox_configs(services.executor_configs, base_url)
    assert [(c.name, c.state, c.base_url) for c in made] == [
        ("sandbox-kyc", "created", f"{base_url}/kyc"),
        ("sandbox-aml", "created", f"{base_url}/aml"),
    ]
    ids = {c.name: c.id for c in made}
    shown = await api.get(f"/v1/executors/{ids['sandbox-kyc']}")
    assert shown.body["authentication"]["config"]["key"] == "********"

    created = await api.post("/v1/workflows", compliance_workflow(ids["sandbox-kyc"], ids["sandbox-aml"]))
    assert created.status == 201, created.text
    workflow = created.body["workflowId"]
    assert (await api.post(f"/v1/workflows/{workflow}/activate")).status == 200
    for cpf, final in (
        ("123.456.789-00", {"decision": "approved"}),
        ("999.999.999-99", {"decision": "rejected", "reason": "high risk score"}),
    ):
        ran = await api.post(
            f"/v1/workflows/{workflow}/executions",
            {"inputData": {"customer": {"cpf": cpf, "name": "Ana"}, "transaction": {"amount": 1500.5}}},
            headers={"Idempotency-Key": str(uuid.uuid4()), "Prefer": "wait=20"},
        )
        assert ran.status == 200, ran.text
        assert ran.body["status"] == "completed", ran.body
        assert ran.body["finalOutput"] == final


async def test_a_second_start_creates_nothing_and_keeps_the_users_edits(
    server: str, services: Services, api: ApiClient
) -> None:
    base_url = f"{server}/sandbox"
    first = await ensure_sandbox_configs(services.executor_configs, base_url)
    again = await ensure_sandbox_configs(services.executor_configs, base_url)
    assert [(c.name, c.id, c.state) for c in again] == [(c.name, c.id, "kept") for c in first]
    kyc, aml = first
    edited = await api.call("PATCH", f"/v1/executors/{kyc.id}", {"description": "mine now"})
    assert edited.status == 200, edited.text

    # A start on another port: the edited one is kept as it is, the untouched one follows the sandbox.
    elsewhere = "http://127.0.0.1:1/sandbox"
    moved = await ensure_sandbox_configs(services.executor_configs, elsewhere)
    assert [(c.name, c.id, c.state, c.base_url, c.moved_from) for c in moved] == [
        ("sandbox-kyc", kyc.id, "kept", f"{base_url}/kyc", None),
        ("sandbox-aml", aml.id, "moved", f"{elsewhere}/aml", f"{base_url}/aml"),
    ]
    listed = await api.get("/v1/executors", params={"limit": "100"})
    assert sorted((i["name"], i["baseUrl"]) for i in listed.body["items"]) == [
        ("sandbox-aml", f"{elsewhere}/aml"),
        ("sandbox-kyc", f"{base_url}/kyc"),
    ]
    assert (await api.get(f"/v1/executors/{kyc.id}")).body["description"] == "mine now"
    # Moved, it is still the sandbox's own: it follows the next move too (--port 0 at every start).
    later = await ensure_sandbox_configs(services.executor_configs, base_url)
    assert [(c.state, c.base_url) for c in later] == [
        ("kept", f"{base_url}/kyc"),
        ("moved", f"{base_url}/aml"),
    ]
    # Disabled, or with an endpoint changed, it is the user's: kept where it is.
    assert (await api.post(f"/v1/executors/{aml.id}/disable")).status == 200
    assert [c.state for c in await ensure_sandbox_configs(services.executor_configs, elsewhere)] == [
        "kept"
    ] * 2
    assert (await api.post(f"/v1/executors/{aml.id}/enable")).status == 200
    endpoints = [{"name": "check", "path": "/check", "method": "POST", "timeout": 9}]
    assert (await api.call("PATCH", f"/v1/executors/{aml.id}", {"endpoints": endpoints})).status == 200
    assert [c.state for c in await ensure_sandbox_configs(services.executor_configs, elsewhere)] == [
        "kept"
    ] * 2


async def test_a_configuration_of_that_name_elsewhere_is_never_moved(
    server: str, services: Services, api: ApiClient
) -> None:
    mine = sandbox_executor_configs("http://kyc.internal.example/sandbox")[0]
    created = await api.post("/v1/executors", mine)
    assert created.status == 201, created.text
    made = await ensure_sandbox_configs(services.executor_configs, f"{server}/sandbox")
    assert [(c.name, c.state) for c in made] == [("sandbox-kyc", "kept"), ("sandbox-aml", "created")]
    shown = await api.get(f"/v1/executors/{created.body['id']}")
    assert shown.body["baseUrl"] == "http://kyc.internal.example/sandbox/kyc"


async def test_the_provider_configurations_are_created_sealed_audited_and_pass_their_test(
    server: str, services: Services, api: ApiClient
) -> None:
    base_url = f"{server}/sandbox"
    made = await ensure_sandbox_provider_configs(services.provider_configs, base_url)
    assert [(c.name, c.state, c.base_url) for c in made] == [
        ("sandbox-tracer", "created", f"{base_url}/tracer"),
        ("sandbox-midaz", "created", f"{base_url}/midaz/onboarding"),
        ("sandbox-http", "created", f"{base_url}/kyc"),
    ]
    ids = {c.name: c.id for c in made}
    tracer = (await api.get(f"/v1/provider-configurations/{ids['sandbox-tracer']}")).body
    assert (tracer["providerId"], tracer["status"]) == ("tracer", "active")
    assert tracer["config"] == {"base_url": f"{base_url}/tracer", "api_key": "********"}
    midaz = (await api.get(f"/v1/provider-configurations/{ids['sandbox-midaz']}")).body
    assert midaz["config"]["auth"]["client_secret"] == "********"
    assert midaz["config"]["transaction_base_url"] == f"{base_url}/midaz/transaction"
    # Sealed at rest like any other: the clear secret is nowhere in the stored record.
    stored = await services.provider_configs.get(ids["sandbox-tracer"])
    assert SANDBOX_API_KEY not in str(stored.config)
    audit = await api.get("/v1/audit-events", params={"eventType": "PROVIDER_CONFIG_CREATED", "limit": "10"})
    assert audit.status == 200, audit.text
    assert {e["resourceId"] for e in audit.body["items"]} >= set(ids.values())
    # The connectivity test of each passes against the sandbox.
    for name, auth in (
        ("sandbox-tracer", "passed"),
        ("sandbox-midaz", "passed"),
        ("sandbox-http", "passed"),
    ):
        tested = await api.post(f"/v1/provider-configurations/{ids[name]}/test")
        assert tested.status == 200, tested.text
        assert [(s["name"], s["status"]) for s in tested.body["stages"]] == [
            ("connectivity", "passed"),
            ("authentication", auth),
            ("end_to_end", "passed"),
        ], (name, tested.body)
        assert tested.body["overallStatus"] == "passed", tested.body
        assert SANDBOX_API_KEY not in tested.text


async def test_provider_configurations_a_second_start_keeps_edits_and_moves_untouched_ones(
    server: str, services: Services, api: ApiClient
) -> None:
    base_url = f"{server}/sandbox"
    first = await ensure_sandbox_provider_configs(services.provider_configs, base_url)
    again = await ensure_sandbox_provider_configs(services.provider_configs, base_url)
    assert [(c.name, c.id, c.state) for c in again] == [(c.name, c.id, "kept") for c in first]
    tracer, midaz, http = first
    edited = await api.call(
        "PATCH", f"/v1/provider-configurations/{tracer.id}", {"description": "my tracer now"}
    )
    assert edited.status == 200, edited.text

    elsewhere = "http://127.0.0.1:1/sandbox"
    moved = await ensure_sandbox_provider_configs(services.provider_configs, elsewhere)
    assert [(c.name, c.id, c.state, c.base_url, c.moved_from) for c in moved] == [
        ("sandbox-tracer", tracer.id, "kept", f"{base_url}/tracer", None),
        ("sandbox-midaz", midaz.id, "moved", f"{elsewhere}/midaz/onboarding", f"{base_url}/midaz/onboarding"),
        ("sandbox-http", http.id, "moved", f"{elsewhere}/kyc", f"{base_url}/kyc"),
    ]
    shown = (await api.get(f"/v1/provider-configurations/{midaz.id}")).body["config"]
    assert (shown["transaction_base_url"], shown["auth"]["issuer_url"]) == (
        f"{elsewhere}/midaz/transaction",
        f"{elsewhere}/oidc",
    )
    # Its secret went with it (sent again, sealed again), not left behind.
    opened = await services.provider_configs.get(midaz.id)
    assert SANDBOX_API_KEY not in str(opened.config)
    tracer_now = (await api.get(f"/v1/provider-configurations/{tracer.id}")).body
    assert (tracer_now["description"], tracer_now["config"]["base_url"]) == (
        "my tracer now",
        f"{base_url}/tracer",
    )
    # Disabled, it is the user's: kept where it is.
    assert (await api.post(f"/v1/provider-configurations/{midaz.id}/disable")).status == 200
    assert [c.state for c in await ensure_sandbox_provider_configs(services.provider_configs, base_url)] == [
        "kept",
        "kept",
        "moved",
    ]
    # Deleted, the next start creates it again.
    assert (await api.call("DELETE", f"/v1/provider-configurations/{tracer.id}")).status == 204
    remade = await ensure_sandbox_provider_configs(services.provider_configs, base_url)
    assert [(c.name, c.state) for c in remade] == [
        ("sandbox-tracer", "created"),
        ("sandbox-midaz", "kept"),
        ("sandbox-http", "kept"),
    ]


async def test_a_provider_configuration_of_that_name_elsewhere_is_never_moved(
    server: str, services: Services, api: ApiClient
) -> None:
    mine = sandbox_provider_configs("http://tracer.internal.example/sandbox")[0]
    created = await api.post("/v1/provider-configurations", mine)
    assert created.status == 201, created.text
    made = await ensure_sandbox_provider_configs(services.provider_configs, f"{server}/sandbox")
    assert [(c.name, c.state) for c in made] == [
        ("sandbox-tracer", "kept"),
        ("sandbox-midaz", "created"),
        ("sandbox-http", "created"),
    ]
    shown = await api.get(f"/v1/provider-configurations/{created.body['id']}")
    assert shown.body["config"]["base_url"] == "http://tracer.internal.example/sandbox/tracer"


def test_the_configurations_point_at_routes_the_sandbox_serves() -> None:
    served = {(m, PREFIX + p) for m, p, _ in ROUTES}
    base = "http://127.0.0.1:4021/sandbox"
    for config in sandbox_executor_configs(base):
        for endpoint in config["endpoints"]:
            path = config["baseUrl"].removeprefix("http://127.0.0.1:4021") + endpoint["path"]
            assert (endpoint["method"], path) in served, path
        assert config["authentication"]["config"]["key"] == SANDBOX_API_KEY
    roots = {f"{base}/{r}" for r in ROOTS}
    for config in sandbox_provider_configs(base):
        urls = {v for k, v in config["config"].items() if k.endswith("base_url")}
        assert urls and urls <= roots, urls
        assert config["name"] == f"sandbox-{config['providerId']}"


def _kyc_only(kyc_id: str) -> dict[str, object]:
    """KYC alone, with the sandbox mode passed on from the input as docs/sandbox.md says."""
    return {
        "name": f"kyc with modes {uuid.uuid4().hex[:6]}",
        "nodes": [
            {"id": "start", "type": "trigger", "position": {"x": 0, "y": 0}},
            {
                "id": "kyc",
                "type": "executor",
                "position": {"x": 0, "y": 100},
                "data": {
                    "executorConfigId": kyc_id,
                    "endpointName": "validate",
                    "inputMapping": [
                        {"source": "workflow.document", "target": "document", "required": True},
                        {"source": "workflow.sandbox", "target": "sandbox"},
                    ],
                },
            },
        ],
        "edges": [{"id": "e1", "source": "start", "target": "kyc"}],
    }


async def test_failure_modes_from_the_input_show_retries_and_the_breaker_at_work(
    server: str, services: Services, api: ApiClient
) -> None:
    made = await ensure_sandbox_configs(services.executor_configs, f"{server}/sandbox")
    kyc = next(c.id for c in made if c.name == "sandbox-kyc")
    workflow = (await api.post("/v1/workflows", _kyc_only(kyc))).body["workflowId"]
    assert (await api.post(f"/v1/workflows/{workflow}/activate")).status == 200

    async def run(mode: dict[str, object]) -> dict[str, object]:
        reply = await api.post(
            f"/v1/workflows/{workflow}/executions",
            {"inputData": {"document": "1", "sandbox": mode}},
            headers={"Idempotency-Key": str(uuid.uuid4()), "Prefer": "wait=30"},
        )
        assert reply.status == 200, reply.text
        return reply.body

    recovered = await run({"fail": "503", "times": 2})
    assert recovered["status"] == "completed", recovered
    assert recovered["stepResults"][0]["output"]["body"]["customerId"] == "CUST-001"
    gave_up = await run({"fail": "500"})
    assert gave_up["status"] == "failed"
    assert "after 5 attempts" in gave_up["stepResults"][0]["errorMessage"], gave_up
    # Five failed attempts in a row (FLOWKER_BREAKER_FAILURES): the breaker is open, calls fail at once.
    assert (await api.get(f"/v1/executors/{kyc}")).body["breaker"]["state"] == "open"
    refused = await run({})
    assert refused["status"] == "failed" and "circuit open" in refused["errorMessage"], refused
    assert (await api.post(f"/v1/executors/{kyc}/breaker/reset")).status == 200
    assert (await run({}))["status"] == "completed"
