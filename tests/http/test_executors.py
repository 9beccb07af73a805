"""``/v1/executors`` over real HTTP: create, read, list, patch, delete, enable/disable, secrets and auth."""

from __future__ import annotations

import asyncio
import copy
import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from flowker.settings import Settings
from flowker.store.embedded import EmbeddedStore
from tests.conftest import API_KEY
from tests.helpers.client import ApiClient, Reply
from tests.helpers.fixtures import aml_executor, compliance_workflow, kyc_executor

MASK = "********"
KYC_KEY = "kyc-secret-key-123456"
AML_TOKEN = "aml-bearer-token-abcdef"
BASIC_PASSWORD = "basic-pass-word-778899"
OIDC_SECRET = "oidc-client-secret-991122"
ASSERTION = "eyJhbGciOiJSUzI1NiJ9.client-assertion-554433"
USER_PASSWORD = "oidc-user-password-332211"
SECRETS = (KYC_KEY, AML_TOKEN, BASIC_PASSWORD, OIDC_SECRET, ASSERTION, USER_PASSWORD)

DROP = object()  # in a validation case: remove the field instead of setting it
EMPTY_PAGE = {"items": [], "nextCursor": "", "hasMore": False}
URL_BASE = "https://kyc.example.com/"


# --------------------------------------------------------------------------------------------- helpers


def endpoint(name: str = "validate", **fields: Any) -> dict[str, Any]:
    return {"name": name, "path": f"/{name}", "method": "POST", **fields}


def basic_auth() -> dict[str, Any]:
    return {"type": "basic", "config": {"username": "svc-user", "password": BASIC_PASSWORD}}


def oidc_client_credentials(url_field: str = "issuer_url") -> dict[str, Any]:
    url = (
        "https://idp.example.com/realms/fin" if url_field == "issuer_url" else "https://idp.example.com/token"
    )
    return {
        "type": "oidc_client_credentials",
        "config": {
            url_field: url,
            "client_id": "flowker",
            "client_secret": OIDC_SECRET,
            "scopes": ["kyc.read", "kyc.write"],
            "audience": "kyc-api",
            "token_endpoint_auth_method": "client_secret_post",
            "extra_params": {"client_assertion": ASSERTION, "resource": "https://kyc.example.com"},
            "cache": {"enabled": True, "refresh_before_expiry_seconds": 30, "use_refresh_token": False},
            "refresh_on": [401, 403],
        },
    }


def oidc_user() -> dict[str, Any]:
    return {
        "type": "oidc_user",
        "config": {
            "token_url": "https://idp.example.com/token",
            "client_id": "flowker-ui",
            "username": "analyst",
            "password": USER_PASSWORD,
        },
    }


def with_auth(authentication: dict[str, Any], name: str = "kyc-provider") -> dict[str, Any]:
    return {**kyc_executor(name=name), "authentication": authentication}


def set_path(body: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A deep copy of ``body`` with ``a.0.b`` set to ``value`` (or removed when ``value is DROP``)."""
    result = copy.deepcopy(body)
    *parents, last = path.split(".")
    target: Any = result
    for part in parents:
        target = target[int(part)] if part.isdigit() else target[part]
    key: Any = int(last) if last.isdigit() else last
    if value is DROP:
        del target[key]
    else:
        target[key] = value
    return result


def assert_no_secret(reply: Reply) -> Reply:
    """No known secret in the body or in any header of ``reply``."""
    for secret in SECRETS:
        assert secret not in reply.text, (secret, reply.text)
        for name, value in reply.headers.items():
            assert secret not in value, (secret, name, value)
    return reply


async def create(api: ApiClient, body: dict[str, Any]) -> dict[str, Any]:
    reply = assert_no_secret(await api.post("/v1/executors", body))
    assert reply.status == 201, reply.text
    return reply.body


async def fetch(api: ApiClient, config_id: str) -> dict[str, Any]:
    """The configuration as GET shows it, less its breaker block (tests/http/test_executor_breaker.py)."""
    reply = assert_no_secret(await api.get(f"/v1/executors/{config_id}"))
    assert reply.status == 200, reply.text
    body: dict[str, Any] = reply.body
    assert body.pop("breaker")["state"] in ("closed", "open", "half_open")
    return body


async def list_page(api: ApiClient, **params: str) -> dict[str, Any]:
    reply = assert_no_secret(await api.get("/v1/executors", params=params))
    assert reply.status == 200, reply.text
    assert set(reply.body) == {"items", "nextCursor", "hasMore"}
    return reply.body


async def walk(api: ApiClient, **params: str) -> tuple[list[dict[str, Any]], list[int]]:
    """Every item over every page, and the size of each page."""
    items: list[dict[str, Any]] = []
    sizes: list[int] = []
    cursor = ""
    for _ in range(20):
        page = await list_page(api, **params, **({"cursor": cursor} if cursor else {}))
        items.extend(page["items"])
        sizes.append(len(page["items"]))
        assert page["hasMore"] is bool(page["nextCursor"]), page
        if not page["hasMore"]:
            return items, sizes
        cursor = page["nextCursor"]
    raise AssertionError("pagination did not end")


def read_files(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (the database, its WAL, anything else), by name."""
    return {p.name: p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


async def sealed(store: EmbeddedStore, config_id: str) -> dict[str, Any]:
    """The stored ``authentication.config`` (secrets sealed), straight from the store."""
    config = await store.executor_configs.get(config_id)
    assert config is not None
    return config.authentication["config"]


async def active_compliance_workflow(api: ApiClient, kyc_id: str, aml_id: str) -> str:
    created = await api.post("/v1/workflows", compliance_workflow(kyc_id, aml_id))
    assert created.status == 201, created.text
    workflow_id = created.body["workflowId"]
    activated = await api.post(f"/v1/workflows/{workflow_id}/activate")
    assert (activated.status, activated.body["status"]) == (200, "active"), activated.text
    return workflow_id


# ---------------------------------------------------------------------------------------------- create


async def test_create_returns_active_config_with_normalised_endpoints(api: ApiClient) -> None:
    body = {
        **kyc_executor(base_url="https://kyc.example.com/v1/"),
        "name": "  kyc-provider  ",
        "endpoints": [
            {"name": "validate", "path": "validate", "method": "post", "timeout": 10},
            {"name": "status", "path": "/status/{id}", "method": " get "},
        ],
        "metadata": {"team": "compliance"},
        "status": "disabled",  # not a client's to choose
        "id": "00000000-0000-4000-8000-000000000000",
    }
    created = await create(api, body)

    uuid.UUID(created["id"])
    assert created["id"] != body["id"]
    assert created["name"] == "kyc-provider"
    assert created["status"] == "active"
    assert created["baseUrl"] == "https://kyc.example.com/v1"
    assert created["description"] == "Mock KYC provider"
    assert created["metadata"] == {"team": "compliance"}
    assert created["endpoints"] == [
        {"name": "validate", "path": "/validate", "method": "POST", "timeout": 10},
        {"name": "status", "path": "/status/{id}", "method": "GET", "timeout": 30},
    ]
    assert created["authentication"] == {
        "type": "api_key",
        "config": {"key": MASK, "header_name": "X-API-Key"},
    }
    assert created["createdAt"] == created["updatedAt"]
    assert created["createdAt"].endswith("Z")
    assert "revision" not in created
    assert await fetch(api, created["id"]) == created


@pytest.mark.parametrize(
    ("base_url", "expected"),
    [
        ("https://kyc.example.com/", "https://kyc.example.com"),
        ("https://kyc.example.com/v1///", "https://kyc.example.com/v1"),
        ("  http://10.0.0.5:8080/api  ", "http://10.0.0.5:8080/api"),
    ],
)
async def test_create_trims_base_url(api: ApiClient, base_url: str, expected: str) -> None:
    assert (await create(api, kyc_executor(base_url=base_url)))["baseUrl"] == expected


@pytest.mark.parametrize(
    ("authentication", "shown"),
    [
        pytest.param({"type": "none"}, {"type": "none", "config": {}}, id="none"),
        pytest.param({"type": "none", "config": {}}, {"type": "none", "config": {}}, id="none-empty-config"),
        pytest.param(
            {
                "type": "api_key",
                "config": {"key": KYC_KEY, "location": "query", "query_param_name": "apikey", "prefix": "K "},
            },
            {
                "type": "api_key",
                "config": {"key": MASK, "location": "query", "query_param_name": "apikey", "prefix": "K "},
            },
            id="api_key",
        ),
        pytest.param(
            {"type": "bearer", "config": {"token": AML_TOKEN}},
            {"type": "bearer", "config": {"token": MASK}},
            id="bearer",
        ),
        pytest.param(
            basic_auth(), {"type": "basic", "config": {"username": "svc-user", "password": MASK}}, id="basic"
        ),
        pytest.param(
            oidc_client_credentials("issuer_url"),
            set_path(
                set_path(oidc_client_credentials("issuer_url"), "config.client_secret", MASK),
                "config.extra_params.client_assertion",
                MASK,
            ),
            id="oidc_client_credentials-issuer_url",
        ),
        pytest.param(
            oidc_client_credentials("token_url"),
            set_path(
                set_path(oidc_client_credentials("token_url"), "config.client_secret", MASK),
                "config.extra_params.client_assertion",
                MASK,
            ),
            id="oidc_client_credentials-token_url",
        ),
        pytest.param(oidc_user(), set_path(oidc_user(), "config.password", MASK), id="oidc_user"),
        pytest.param(
            set_path(oidc_user(), "config.client_secret", OIDC_SECRET),
            set_path(set_path(oidc_user(), "config.password", MASK), "config.client_secret", MASK),
            id="oidc_user-with-client_secret",
        ),
    ],
)
async def test_create_accepts_each_authentication_type_and_masks_its_secrets(
    api: ApiClient, store: EmbeddedStore, authentication: dict[str, Any], shown: dict[str, Any]
) -> None:
    created = await create(api, with_auth(authentication))
    assert created["authentication"] == shown
    assert (await fetch(api, created["id"]))["authentication"] == shown
    stored = await sealed(store, created["id"])
    for key, value in shown["config"].items():
        if value == MASK:
            assert stored[key].startswith("enc:v1:"), (key, stored[key])
    if "extra_params" in stored:
        assert stored["extra_params"]["client_assertion"].startswith("enc:v1:")
        assert stored["extra_params"]["resource"] == "https://kyc.example.com"


#: the valid body a validation case starts from
BASES = {
    "kyc": kyc_executor,
    "oidc": lambda: with_auth(oidc_client_credentials()),
    "user": lambda: with_auth(oidc_user()),
}
A = "authentication"
OIDC = "authentication.config"

VALIDATION_CASES = [
    ("kyc", "name", DROP, "FLK-0260"),
    ("kyc", "name", "   ", "FLK-0260"),
    ("kyc", "name", "n" * 101, "FLK-0261"),
    ("kyc", "baseUrl", DROP, "FLK-0262"),
    ("kyc", "baseUrl", "", "FLK-0262"),
    ("kyc", "baseUrl", "ftp://files.example.com/kyc", "FLK-0263"),
    ("kyc", "baseUrl", "https://", "FLK-0263"),
    ("kyc", "baseUrl", "kyc.example.com/v1", "FLK-0263"),
    ("kyc", "baseUrl", "https://svc:hunter2@kyc.example.com/v1", "FLK-0263"),
    ("kyc", "baseUrl", "https://kyc.example.com/v1?token=abc", "FLK-0263"),
    ("kyc", "baseUrl", "https://kyc.example.com/v1#frag", "FLK-0263"),
    ("kyc", "baseUrl", "https://[::1/v1", "FLK-0263"),
    ("kyc", "baseUrl", URL_BASE + "a" * (501 - len(URL_BASE)), "FLK-0264"),
    ("kyc", "endpoints", DROP, "FLK-0265"),
    ("kyc", "endpoints", [], "FLK-0265"),
    ("kyc", A, DROP, "FLK-0266"),
    ("kyc", "description", "d" * 501, "FLK-0267"),
    ("kyc", f"{A}.type", DROP, "FLK-0268"),
    ("kyc", f"{A}.type", "", "FLK-0268"),
    ("kyc", f"{A}.type", "oauth1", "FLK-0269"),
    ("kyc", "endpoints.0.name", DROP, "FLK-0270"),
    ("kyc", "endpoints.0.name", "  ", "FLK-0270"),
    ("kyc", "endpoints.0.path", DROP, "FLK-0271"),
    ("kyc", "endpoints.0.path", "https://evil.example.com/steal", "FLK-0271"),
    ("kyc", "endpoints.0.path", "//evil.example.com/steal", "FLK-0271"),
    ("kyc", "endpoints.0.method", DROP, "FLK-0272"),
    ("kyc", "endpoints.0.method", "FETCH", "FLK-0273"),
    ("kyc", f"{A}.config.key", DROP, "FLK-0274"),
    ("kyc", f"{A}.config.key", "", "FLK-0274"),
    ("kyc", f"{A}.config.key", 123456, "FLK-0274"),
    ("kyc", f"{A}.config.key", MASK, "FLK-0274"),  # a mask with no stored secret behind it
    ("kyc", f"{A}.config.client_secert", "x", "FLK-0274"),
    ("kyc", f"{A}.config.location", "cookie", "FLK-0274"),
    ("kyc", A, {"type": "none", "config": {"token": "x"}}, "FLK-0274"),
    ("kyc", A, {"type": "bearer", "config": {}}, "FLK-0274"),
    ("kyc", A, {"type": "bearer"}, "FLK-0274"),
    ("kyc", A, {"type": "basic", "config": {"username": "svc-user"}}, "FLK-0274"),
    ("kyc", A, {"type": "basic", "config": {"password": BASIC_PASSWORD}}, "FLK-0274"),
    ("oidc", f"{OIDC}.issuer_url", DROP, "FLK-0274"),
    ("oidc", f"{OIDC}.issuer_url", "ftp://idp.example.com", "FLK-0274"),
    ("oidc", f"{OIDC}.issuer_url", "https://[idp", "FLK-0274"),
    ("oidc", f"{OIDC}.client_id", DROP, "FLK-0274"),
    ("oidc", f"{OIDC}.client_secret", DROP, "FLK-0274"),
    ("oidc", f"{OIDC}.scopes", "openid", "FLK-0274"),
    ("oidc", f"{OIDC}.extra_params.max_age", 1, "FLK-0274"),
    ("oidc", f"{OIDC}.cache.enabled", "yes", "FLK-0274"),
    ("oidc", f"{OIDC}.cache.ttl", 5, "FLK-0274"),
    ("oidc", f"{OIDC}.cache.refresh_before_expiry_seconds", -1, "FLK-0274"),
    ("oidc", f"{OIDC}.token_endpoint_auth_method", "private_key_jwt", "FLK-0274"),
    ("oidc", f"{OIDC}.refresh_on", 401, "FLK-0274"),
    ("oidc", f"{OIDC}.refresh_on", ["401"], "FLK-0274"),
    ("oidc", f"{OIDC}.refresh_on", [429], "FLK-0274"),
    ("oidc", f"{OIDC}.refresh_on", [500], "FLK-0274"),
    ("oidc", f"{OIDC}.refresh_on", [True], "FLK-0274"),
    ("oidc", f"{OIDC}.refresh_on", [401, 401], "FLK-0274"),
    ("oidc", f"{OIDC}.refresh_on", list(range(400, 411)), "FLK-0274"),
    ("user", f"{OIDC}.password", DROP, "FLK-0274"),
    ("user", f"{OIDC}.username", DROP, "FLK-0274"),
    ("user", f"{OIDC}.token_url", "not a url", "FLK-0274"),
    ("kyc", "endpoints.0.timeout", 0, "FLK-0275"),
    ("kyc", "endpoints.0.timeout", 301, "FLK-0275"),
    ("kyc", "endpoints.0.timeout", -5, "FLK-0275"),
    ("kyc", "endpoints", [endpoint("validate"), endpoint("validate", method="GET")], "FLK-0276"),
    ("kyc", "endpoints", [endpoint("validate"), endpoint(" validate ")], "FLK-0276"),
    ("kyc", "endpoints.0.name", "e" * 51, "FLK-0277"),
    ("kyc", "endpoints.0.path", "/" + "p" * 200, "FLK-0277"),
    ("kyc", "endpoints", [endpoint(f"e{i}") for i in range(51)], "FLK-0278"),
]


def case_id(base: str, path: str, value: Any, code: str) -> str:
    shown = "DROP" if value is DROP else str(value)
    return f"{code}-{base}-{path}={shown if len(shown) <= 30 else shown[:27] + '...'}"


@pytest.mark.parametrize(
    ("base", "path", "value", "code"), VALIDATION_CASES, ids=[case_id(*c) for c in VALIDATION_CASES]
)
async def test_create_refuses_invalid_config_and_changes_nothing(
    api: ApiClient, base: str, path: str, value: Any, code: str
) -> None:
    reply = assert_no_secret(await api.post("/v1/executors", set_path(BASES[base](), path, value)))
    reply.error(400, code)
    assert reply.body["title"] == "Bad Request"
    assert reply.body["message"]
    assert await list_page(api) == EMPTY_PAGE


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("name", "n" * 100),
        ("description", "d" * 500),
        ("baseUrl", URL_BASE + "a" * (500 - len(URL_BASE))),
        ("endpoints", [endpoint(f"e{i}") for i in range(50)]),
        ("endpoints.0.timeout", 1),
        ("endpoints.0.timeout", 300),
        ("endpoints.0.name", "e" * 50),
        ("endpoints.0.path", "/" + "p" * 199),
        ("endpoints.0.method", "options"),
    ],
)
async def test_create_accepts_values_at_the_limits(api: ApiClient, path: str, value: Any) -> None:
    created = await create(api, set_path(kyc_executor(), path, value))
    head, *rest = path.split(".")
    shown = created[head]
    for part in rest:
        shown = shown[int(part)] if part.isdigit() else shown[part]
    if path == "endpoints":
        assert [e["name"] for e in shown] == [e["name"] for e in value]
    else:
        assert shown == (value.upper() if path.endswith("method") else value)


@pytest.mark.parametrize(
    "raw",
    [b"{", b'{"name": "kyc", "authentication": {"config": {"key": "kyc-secret-key-123456"}', b"", b"   "],
    ids=["truncated", "truncated-with-secret", "empty", "blank"],
)
async def test_create_refuses_malformed_json(api: ApiClient, raw: bytes) -> None:
    reply = await api.post("/v1/executors", data=raw, headers={"Content-Type": "application/json"})
    assert_no_secret(reply).error(400, "FLK-0001")
    assert await list_page(api) == EMPTY_PAGE


@pytest.mark.parametrize(
    "body", [[kyc_executor()], "kyc-provider", 42, None], ids=["list", "str", "int", "null"]
)
async def test_create_refuses_non_object_json(api: ApiClient, body: Any) -> None:
    reply = await api.post(
        "/v1/executors", data=json.dumps(body), headers={"Content-Type": "application/json"}
    )
    assert_no_secret(reply).error(400, "FLK-0001")
    assert await list_page(api) == EMPTY_PAGE


@pytest.mark.parametrize(
    ("path", "value", "field"),
    [
        ("name", 123, "name"),
        ("description", ["x"], "description"),
        ("baseUrl", {"url": "https://x"}, "baseUrl"),
        ("endpoints", "validate", "endpoints"),
        ("endpoints.0", "validate", "endpoints[0]"),
        ("endpoints.0.timeout", "soon", "endpoints[0].timeout"),
        ("endpoints.0.method", 1, "endpoints[0].method"),
        ("authentication", "api_key", "authentication"),
        ("authentication.type", 7, "authentication.type"),
        ("authentication.config", KYC_KEY, "authentication.config"),
        ("metadata", ["team"], "metadata"),
    ],
)
async def test_create_refuses_wrong_json_type_naming_the_field(
    api: ApiClient, path: str, value: Any, field: str
) -> None:
    reply = assert_no_secret(await api.post("/v1/executors", set_path(kyc_executor(), path, value)))
    reply.error(400, "FLK-0302")
    assert reply.body["message"].startswith(f"{field}: "), reply.body["message"]
    assert await list_page(api) == EMPTY_PAGE


async def test_create_with_taken_name_is_conflict_and_changes_nothing(api: ApiClient) -> None:
    first = await create(api, kyc_executor())
    duplicate = {**aml_executor(name="kyc-provider"), "description": "another"}
    reply = assert_no_secret(await api.post("/v1/executors", duplicate))
    reply.error(409, "FLK-0251")
    assert reply.body["title"] == "Conflict"
    assert "kyc-provider" in reply.body["message"]
    # a name that differs only by surrounding blanks is the same name
    assert_no_secret(await api.post("/v1/executors", kyc_executor(name=" kyc-provider "))).error(
        409, "FLK-0251"
    )
    assert (await list_page(api))["items"] == [first]


async def test_concurrent_creates_with_one_name_make_exactly_one(api: ApiClient) -> None:
    replies = await asyncio.gather(*(api.post("/v1/executors", kyc_executor()) for _ in range(20)))
    for reply in replies:
        assert_no_secret(reply)
    created = [r for r in replies if r.status == 201]
    assert len(created) == 1, [(r.status, r.text) for r in replies]
    for reply in replies:
        if reply.status != 201:
            reply.error(409, "FLK-0251")
    page = await list_page(api)
    assert [item["id"] for item in page["items"]] == [created[0].body["id"]]
    assert page["hasMore"] is False


# ------------------------------------------------------------------------------------------------- get


async def test_get_unknown_id_is_not_found(api: ApiClient) -> None:
    missing = str(uuid.uuid4())
    reply = (await api.get(f"/v1/executors/{missing}")).error(404, "FLK-0250")
    assert reply.body["title"] == "Not Found"
    assert missing in reply.body["message"]


@pytest.mark.parametrize("method", ["GET", "PATCH", "DELETE"])
async def test_id_that_is_not_a_uuid_is_bad_request(api: ApiClient, method: str) -> None:
    reply = await api.call(method, "/v1/executors/not-a-uuid", kyc_executor() if method == "PATCH" else None)
    assert_no_secret(reply).error(400, "FLK-0002")
    assert "not-a-uuid" in reply.body["message"]


@pytest.mark.parametrize("action", ["disable", "enable"])
async def test_toggle_bad_or_unknown_id(api: ApiClient, action: str) -> None:
    (await api.post(f"/v1/executors/12345/{action}")).error(400, "FLK-0002")
    (await api.post(f"/v1/executors/{uuid.uuid4()}/{action}")).error(404, "FLK-0250")


# ------------------------------------------------------------------------------------------------ list


async def create_five(api: ApiClient) -> list[dict[str, Any]]:
    names = ["delta", "alpha", "echo", "charlie", "bravo"]
    created = []
    for name in names:
        created.append(await create(api, kyc_executor(name=name)))
        await asyncio.sleep(0.002)
    return created


@pytest.mark.parametrize(
    ("params", "key", "reverse"),
    [
        ({"sortOrder": "ASC"}, "createdAt", False),
        ({"sortOrder": "DESC"}, "createdAt", True),
        ({}, "createdAt", True),  # the default: newest first
        ({"sortBy": "name", "sortOrder": "ASC"}, "name", False),
        ({"sortBy": "name", "sortOrder": "desc"}, "name", True),
        ({"sortBy": "updatedAt", "sortOrder": "ASC"}, "updatedAt", False),
    ],
)
async def test_list_walks_every_page_once_in_order(
    api: ApiClient, params: dict[str, str], key: str, reverse: bool
) -> None:
    created = await create_five(api)
    expected = [c["id"] for c in sorted(created, key=lambda c: (c[key], c["id"]), reverse=reverse)]

    items, sizes = await walk(api, limit="2", **params)

    assert sizes == [2, 2, 1]
    assert [item["id"] for item in items] == expected
    assert items == [next(c for c in created if c["id"] == i) for i in expected]


async def test_list_last_full_page_has_no_more(api: ApiClient) -> None:
    created = await create_five(api)
    items, sizes = await walk(api, limit="5")
    assert sizes == [5]
    assert {i["id"] for i in items} == {c["id"] for c in created}
    first = await list_page(api)
    assert (len(first["items"]), first["nextCursor"], first["hasMore"]) == (5, "", False)


async def test_list_default_limit_is_ten(api: ApiClient) -> None:
    for i in range(11):
        await create(api, kyc_executor(name=f"provider-{i:02d}"))
    page = await list_page(api)
    assert (len(page["items"]), page["hasMore"]) == (10, True)
    assert page["nextCursor"]


async def test_list_filters_by_status(api: ApiClient) -> None:
    created = await create_five(api)
    disabled_ids = {created[1]["id"], created[3]["id"]}
    for config_id in disabled_ids:
        assert (await api.post(f"/v1/executors/{config_id}/disable")).status == 200

    disabled, _ = await walk(api, status="disabled", limit="1")
    active, sizes = await walk(api, status="active", limit="2")

    assert {i["id"] for i in disabled} == disabled_ids
    assert {i["status"] for i in disabled} == {"disabled"}
    assert {i["id"] for i in active} == {c["id"] for c in created} - disabled_ids
    assert {i["status"] for i in active} == {"active"}
    assert sizes == [2, 1]
    (await api.get("/v1/executors", params={"status": "configured"})).error(400, "FLK-0304")


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"limit": "0"}, "FLK-0309"),
        ({"limit": "abc"}, "FLK-0309"),
        ({"limit": "-1"}, "FLK-0309"),
        ({"limit": "2.5"}, "FLK-0309"),
        ({"limit": "\u00b2"}, "FLK-0309"),  # "²": str.isdigit() is true, int() refuses it
        ({"sortBy": "status"}, "FLK-0304"),
        ({"sortOrder": "sideways"}, "FLK-0310"),
        ({"cursor": "not-a-cursor!!"}, "INVALID_CURSOR"),
        ({"cursor": "eyJ4IjoxfQ"}, "INVALID_CURSOR"),  # {"x":1}
        ({"cursor": "WzEsMl0"}, "INVALID_CURSOR"),  # [1,2]
    ],
    ids=lambda v: "&".join(f"{k}={x}" for k, x in v.items()) if isinstance(v, dict) else v,
)
async def test_list_refuses_bad_query(api: ApiClient, params: dict[str, str], code: str) -> None:
    await create(api, kyc_executor())
    (await api.get("/v1/executors", params=params)).error(400, code)


async def test_list_accepts_limit_bounds(api: ApiClient) -> None:
    await create_five(api)
    assert len((await list_page(api, limit="1"))["items"]) == 1
    assert len((await list_page(api, limit="100"))["items"]) == 5
    assert len((await list_page(api, limit="0002"))["items"]) == 2


async def test_a_limit_above_the_maximum_is_read_as_the_maximum(api: ApiClient) -> None:
    for index in range(101):
        body = kyc_executor()
        body["name"] = f"executor {index:03d}"
        await create(api, body)
    for limit in ("101", "1000", "99999999999999999999999999"):
        page = await list_page(api, limit=limit)
        assert len(page["items"]) == 100 and page["hasMore"] is True, limit


@pytest.mark.parametrize(
    "second", [{"sortOrder": "DESC"}, {"sortBy": "name", "sortOrder": "ASC"}], ids=["order", "field"]
)
async def test_list_cursor_reused_with_another_sort_is_refused(
    api: ApiClient, second: dict[str, str]
) -> None:
    await create_five(api)
    page = await list_page(api, limit="2", sortOrder="ASC")
    assert page["hasMore"] is True
    reply = await api.get("/v1/executors", params={"limit": "2", "cursor": page["nextCursor"], **second})
    reply.error(400, "INVALID_CURSOR")
    # the same cursor with the same sort still works
    same = await list_page(api, limit="2", sortOrder="ASC", cursor=page["nextCursor"])
    assert len(same["items"]) == 2


# ----------------------------------------------------------------------------------------------- patch


async def test_patch_description_only_keeps_everything_else(api: ApiClient, store: EmbeddedStore) -> None:
    created = await create(api, kyc_executor())
    before = await sealed(store, created["id"])
    await asyncio.sleep(0.002)

    reply = assert_no_secret(await api.patch(f"/v1/executors/{created['id']}", {"description": "Updated"}))

    assert reply.status == 200, reply.text
    changed = {k for k in reply.body if reply.body[k] != created.get(k)}
    assert changed == {"description", "updatedAt"}
    assert reply.body["description"] == "Updated"
    assert reply.body["updatedAt"] > created["updatedAt"]
    assert await fetch(api, created["id"]) == reply.body
    # the stored credential is the very same sealed value, not re-encrypted
    assert await sealed(store, created["id"]) == before


async def test_patch_description_of_config_with_longest_secret(api: ApiClient, store: EmbeddedStore) -> None:
    body = set_path(kyc_executor(), "authentication.config.key", "k" * 4096)
    created = await create(api, body)
    before = await sealed(store, created["id"])

    reply = await api.patch(f"/v1/executors/{created['id']}", {"description": "Updated"})

    assert reply.status == 200, reply.text
    assert await sealed(store, created["id"]) == before


async def test_patch_with_masked_secrets_sent_back_keeps_stored_secrets(
    api: ApiClient, store: EmbeddedStore
) -> None:
    created = await create(api, with_auth(oidc_client_credentials()))
    before = await sealed(store, created["id"])
    assert before["client_secret"].startswith("enc:v1:")

    read_back = await fetch(api, created["id"])  # as a client would: read, change, write back
    read_back["description"] = "rotated nothing"
    read_back["authentication"]["config"]["scopes"] = ["kyc.read"]
    reply = assert_no_secret(await api.patch(f"/v1/executors/{created['id']}", read_back))

    assert reply.status == 200, reply.text
    assert reply.body["authentication"]["config"]["client_secret"] == MASK
    assert reply.body["authentication"]["config"]["extra_params"]["client_assertion"] == MASK
    after = await sealed(store, created["id"])
    assert after["client_secret"] == before["client_secret"]
    assert after["extra_params"] == before["extra_params"]
    assert after["scopes"] == ["kyc.read"]


async def test_patch_with_new_secret_reseals_it(api: ApiClient, store: EmbeddedStore) -> None:
    created = await create(api, kyc_executor())
    before = await sealed(store, created["id"])
    auth = {"type": "api_key", "config": {"key": AML_TOKEN, "header_name": "X-Key"}}

    reply = assert_no_secret(await api.patch(f"/v1/executors/{created['id']}", {"authentication": auth}))

    assert reply.status == 200, reply.text
    assert reply.body["authentication"] == {
        "type": "api_key",
        "config": {"key": MASK, "header_name": "X-Key"},
    }
    after = await sealed(store, created["id"])
    assert after["key"].startswith("enc:v1:")
    assert after["key"] != before["key"]
    assert after["header_name"] == "X-Key"


@pytest.mark.parametrize(
    "authentication",
    [
        {"type": "bearer", "config": {"token": MASK}},
        {"type": "basic", "config": {"username": "svc-user", "password": MASK}},
    ],
    ids=["to-bearer", "to-basic"],
)
async def test_patch_changing_auth_type_with_masked_secret_is_refused(
    api: ApiClient, store: EmbeddedStore, authentication: dict[str, Any]
) -> None:
    created = await create(api, kyc_executor())
    before = await sealed(store, created["id"])

    reply = await api.patch(f"/v1/executors/{created['id']}", {"authentication": authentication})

    assert_no_secret(reply).error(400, "FLK-0274")
    assert "mask" in reply.body["message"]
    assert await fetch(api, created["id"]) == created
    assert await sealed(store, created["id"]) == before


async def test_patch_masked_optional_secret_that_was_never_set_is_refused(api: ApiClient) -> None:
    created = await create(api, with_auth(oidc_user()))
    auth = set_path(set_path(oidc_user(), "config.password", MASK), "config.client_secret", MASK)
    (await api.patch(f"/v1/executors/{created['id']}", {"authentication": auth})).error(400, "FLK-0274")
    assert await fetch(api, created["id"]) == created


@pytest.mark.parametrize(
    ("patch", "code"),
    [
        ({"name": ""}, "FLK-0260"),
        ({"name": "n" * 101}, "FLK-0261"),
        ({"baseUrl": "ftp://kyc.example.com"}, "FLK-0263"),
        ({"baseUrl": "https://svc:pw@kyc.example.com"}, "FLK-0263"),
        ({"baseUrl": "https://[::1/v1"}, "FLK-0263"),
        ({"endpoints": []}, "FLK-0265"),
        ({"authentication": None}, "FLK-0266"),
        ({"description": "d" * 501}, "FLK-0267"),
        ({"authentication": {"type": "kerberos"}}, "FLK-0269"),
        ({"endpoints": [endpoint("validate", timeout=0)]}, "FLK-0275"),
        ({"endpoints": [endpoint("validate", path="https://evil.example.com")]}, "FLK-0271"),
        ({"authentication": {"type": "api_key", "config": {"key": AML_TOKEN, "extra": "x"}}}, "FLK-0274"),
        ({"endpoints": "validate"}, "FLK-0302"),
    ],
    ids=lambda v: "-".join(v) if isinstance(v, dict) else v,
)
async def test_invalid_patch_is_refused_and_changes_nothing(
    api: ApiClient, store: EmbeddedStore, patch: dict[str, Any], code: str
) -> None:
    created = await create(api, kyc_executor())
    before = await sealed(store, created["id"])
    assert_no_secret(await api.patch(f"/v1/executors/{created['id']}", patch)).error(400, code)
    assert await fetch(api, created["id"]) == created
    assert await sealed(store, created["id"]) == before


@pytest.mark.parametrize("raw", [b"{", b"[]", b""], ids=["malformed", "array", "empty"])
async def test_patch_with_bad_json_is_refused(api: ApiClient, raw: bytes) -> None:
    created = await create(api, kyc_executor())
    reply = await api.patch(
        f"/v1/executors/{created['id']}", data=raw, headers={"Content-Type": "application/json"}
    )
    reply.error(400, "FLK-0001")
    assert await fetch(api, created["id"]) == created


async def test_patch_to_taken_name_is_conflict(api: ApiClient, store: EmbeddedStore) -> None:
    kyc = await create(api, kyc_executor())
    aml = await create(api, aml_executor())
    before = await sealed(store, aml["id"])
    patch = {
        "name": "kyc-provider",
        "authentication": {"type": "bearer", "config": {"token": BASIC_PASSWORD}},
    }

    reply = assert_no_secret(await api.patch(f"/v1/executors/{aml['id']}", patch))

    reply.error(409, "FLK-0251")
    assert await fetch(api, aml["id"]) == aml
    assert await fetch(api, kyc["id"]) == kyc
    assert await sealed(store, aml["id"]) == before


async def test_patch_to_its_own_name_is_fine(api: ApiClient) -> None:
    created = await create(api, kyc_executor())
    reply = await api.patch(f"/v1/executors/{created['id']}", {"name": "kyc-provider", "metadata": {"v": 2}})
    assert reply.status == 200, reply.text
    assert (reply.body["name"], reply.body["metadata"]) == ("kyc-provider", {"v": 2})


async def test_patch_unknown_id_is_not_found(api: ApiClient) -> None:
    reply = await api.patch(
        f"/v1/executors/{uuid.uuid4()}", {"description": "x", "authentication": basic_auth()}
    )
    assert_no_secret(reply).error(404, "FLK-0250")


async def test_patch_removing_endpoint_used_by_active_workflow_is_refused(api: ApiClient) -> None:
    kyc_body = {**kyc_executor(), "endpoints": [endpoint("validate"), endpoint("status", method="GET")]}
    kyc = await create(api, kyc_body)
    aml = await create(api, aml_executor())
    await active_compliance_workflow(api, kyc["id"], aml["id"])

    reply = await api.patch(f"/v1/executors/{kyc['id']}", {"endpoints": [endpoint("status", method="GET")]})

    assert_no_secret(reply).error(422, "FLK-0252")
    assert "validate" in reply.body["message"]
    assert "complex compliance workflow" in reply.body["message"]
    assert await fetch(api, kyc["id"]) == kyc

    # removing the endpoint no workflow calls is fine
    reply = await api.patch(f"/v1/executors/{kyc['id']}", {"endpoints": [endpoint("validate")]})
    assert reply.status == 200, reply.text
    assert [e["name"] for e in reply.body["endpoints"]] == ["validate"]
    # and changing the used endpoint without removing it is fine too
    reply = await api.patch(f"/v1/executors/{kyc['id']}", {"endpoints": [endpoint("validate", timeout=5)]})
    assert (reply.status, reply.body["endpoints"][0]["timeout"]) == (200, 5)


async def test_patch_removing_endpoint_used_only_by_draft_workflow_is_allowed(api: ApiClient) -> None:
    kyc = await create(api, kyc_executor())
    aml = await create(api, aml_executor())
    created = await api.post("/v1/workflows", compliance_workflow(kyc["id"], aml["id"]))
    assert created.status == 201, created.text

    reply = await api.patch(f"/v1/executors/{kyc['id']}", {"endpoints": [endpoint("other")]})

    assert reply.status == 200, reply.text
    assert [e["name"] for e in reply.body["endpoints"]] == ["other"]


# ---------------------------------------------------------------------------------------------- delete


async def test_delete_then_get_is_not_found(api: ApiClient) -> None:
    created = await create(api, kyc_executor())
    reply = await api.delete(f"/v1/executors/{created['id']}")
    assert (reply.status, reply.text) == (204, "")
    (await api.get(f"/v1/executors/{created['id']}")).error(404, "FLK-0250")
    (await api.delete(f"/v1/executors/{created['id']}")).error(404, "FLK-0250")
    assert await list_page(api) == EMPTY_PAGE
    # the name is free again
    await create(api, kyc_executor())


async def test_delete_config_used_by_active_workflow_is_refused_until_deactivated(api: ApiClient) -> None:
    kyc = await create(api, kyc_executor())
    aml = await create(api, aml_executor())
    workflow_id = await active_compliance_workflow(api, kyc["id"], aml["id"])

    reply = assert_no_secret(await api.delete(f"/v1/executors/{aml['id']}"))

    reply.error(422, "FLK-0252")
    assert "complex compliance workflow" in reply.body["message"]
    assert await fetch(api, aml["id"]) == aml

    deactivated = await api.post(f"/v1/workflows/{workflow_id}/deactivate")
    assert (deactivated.status, deactivated.body["status"]) == (200, "inactive"), deactivated.text
    assert (await api.delete(f"/v1/executors/{aml['id']}")).status == 204
    (await api.get(f"/v1/executors/{aml['id']}")).error(404, "FLK-0250")


# ------------------------------------------------------------------------------------- enable / disable


async def test_disable_and_enable_transitions(api: ApiClient) -> None:
    created = await create(api, kyc_executor())
    url = f"/v1/executors/{created['id']}"

    reply = (await api.post(f"{url}/enable")).error(422, "FLK-0252")
    assert "active" in reply.body["message"]

    disabled = assert_no_secret(await api.post(f"{url}/disable"))
    assert disabled.status == 200, disabled.text
    assert disabled.body["status"] == "disabled"
    assert disabled.body["authentication"]["config"]["key"] == MASK
    assert {k: v for k, v in disabled.body.items() if k not in ("status", "updatedAt")} == {
        k: v for k, v in created.items() if k not in ("status", "updatedAt")
    }
    assert (await fetch(api, created["id"]))["status"] == "disabled"

    reply = (await api.post(f"{url}/disable")).error(422, "FLK-0252")
    assert "disabled" in reply.body["message"]

    enabled = assert_no_secret(await api.post(f"{url}/enable"))
    assert (enabled.status, enabled.body["status"]) == (200, "active")
    assert (await fetch(api, created["id"]))["status"] == "active"


async def test_disabled_config_blocks_workflow_activation_until_enabled(api: ApiClient) -> None:
    kyc = await create(api, kyc_executor())
    aml = await create(api, aml_executor())
    created = await api.post("/v1/workflows", compliance_workflow(kyc["id"], aml["id"]))
    workflow_id = created.body["workflowId"]
    assert (await api.post(f"/v1/executors/{kyc['id']}/disable")).status == 200

    reply = (await api.post(f"/v1/workflows/{workflow_id}/activate")).error(422, "FLK-0154")
    assert "kyc-provider" in reply.body["message"]
    assert (await api.get(f"/v1/workflows/{workflow_id}")).body["status"] == "draft"

    assert (await api.post(f"/v1/executors/{kyc['id']}/enable")).status == 200
    activated = await api.post(f"/v1/workflows/{workflow_id}/activate")
    assert (activated.status, activated.body["status"]) == (200, "active"), activated.text


# --------------------------------------------------------------------------------------------- secrets


async def test_secrets_never_leave_in_any_response(api: ApiClient) -> None:
    kyc = await create(api, kyc_executor())
    aml = await create(api, aml_executor())
    basic = await create(api, with_auth(basic_auth(), name="basic-provider"))
    oidc = await create(api, with_auth(oidc_client_credentials(), name="oidc-provider"))
    user = await create(
        api, with_auth(set_path(oidc_user(), "config.client_secret", OIDC_SECRET), name="user-provider")
    )
    ids = [c["id"] for c in (kyc, aml, basic, oidc, user)]

    replies = [
        await api.get("/v1/executors", params={"limit": "100"}),
        await api.get("/v1/executors", params={"limit": "2", "sortBy": "name"}),
        *[await api.get(f"/v1/executors/{i}") for i in ids],
        *[await api.post(f"/v1/executors/{i}/disable") for i in ids],
        *[await api.post(f"/v1/executors/{i}/enable") for i in ids],
        await api.patch(f"/v1/executors/{oidc['id']}", {"description": "desc"}),
        await api.patch(f"/v1/executors/{basic['id']}", {"authentication": basic_auth()}),
        # error responses whose requests carried secrets
        await api.post("/v1/executors", kyc_executor()),  # 409
        await api.post("/v1/executors", with_auth(oidc_user(), name="oidc-provider")),  # 409
        await api.post("/v1/executors", {**aml_executor(name="x"), "baseUrl": "ftp://x"}),  # 400
        await api.post("/v1/executors", with_auth(set_path(oidc_user(), "config.username", DROP))),  # 400
        await api.post("/v1/executors", set_path(kyc_executor(), "authentication.config", KYC_KEY)),  # 400
        await api.post("/v1/executors", set_path(kyc_executor(), "authentication.config.location", KYC_KEY)),
        await api.post(
            "/v1/executors", with_auth(set_path(basic_auth(), "config.password", [BASIC_PASSWORD]))
        ),
        await api.patch(
            f"/v1/executors/{aml['id']}", {"name": "kyc-provider", "authentication": basic_auth()}
        ),
        await api.patch(
            f"/v1/executors/{aml['id']}", {"authentication": {"type": "x", "config": {"t": AML_TOKEN}}}
        ),
        await api.post("/v1/executors/not-a-uuid/disable", {"token": AML_TOKEN}),
    ]

    statuses = [r.status for r in replies]
    assert statuses == [200] * 17 + [200, 200, 409, 409, 400, 400, 400, 400, 400, 409, 400, 400]
    for reply in replies:
        assert_no_secret(reply)
    listed = {item["id"]: item["authentication"] for item in replies[0].body["items"]}
    assert listed == {c["id"]: c["authentication"] for c in (kyc, aml, basic, oidc, user)}
    assert listed[kyc["id"]]["config"]["key"] == MASK
    assert listed[aml["id"]]["config"]["token"] == MASK
    assert listed[basic["id"]]["config"] == {"username": "svc-user", "password": MASK}
    assert listed[oidc["id"]]["config"]["client_secret"] == MASK
    assert listed[oidc["id"]]["config"]["extra_params"]["client_assertion"] == MASK
    assert listed[user["id"]]["config"]["password"] == MASK
    assert listed[user["id"]]["config"]["client_secret"] == MASK


async def test_secrets_are_not_stored_in_clear(
    api: ApiClient, settings: Settings, store: EmbeddedStore
) -> None:
    await create(api, kyc_executor())
    await create(api, aml_executor())
    await create(api, with_auth(basic_auth(), name="basic-provider"))
    oidc = await create(api, with_auth(oidc_client_credentials(), name="oidc-provider"))
    await create(api, with_auth(oidc_user(), name="user-provider"))
    await api.patch(f"/v1/executors/{oidc['id']}", {"description": "patched"})

    files = await asyncio.to_thread(read_files, settings.data_dir)
    assert {"flowker.db", "flowker.db-wal"} <= set(files)
    raw = b"".join(files.values())
    assert b"oidc-provider" in raw  # the files read are the ones holding the configurations
    assert b"enc:v1:" in raw
    for secret in SECRETS:
        assert secret.encode() not in raw, secret
    assert (await sealed(store, oidc["id"]))["client_secret"].startswith("enc:v1:")


# ------------------------------------------------------------------------------------------------ auth


ROUTES = [
    ("POST", "/v1/executors"),
    ("GET", "/v1/executors"),
    ("GET", "/v1/executors/{id}"),
    ("PATCH", "/v1/executors/{id}"),
    ("DELETE", "/v1/executors/{id}"),
    ("POST", "/v1/executors/{id}/disable"),
    ("POST", "/v1/executors/{id}/enable"),
]


@pytest.mark.parametrize(("method", "path"), ROUTES)
@pytest.mark.parametrize(
    "key",
    [None, "", "wrong-key", API_KEY + "x", API_KEY[:-1]],
    ids=["none", "empty", "wrong", "longer", "shorter"],
)
async def test_every_route_requires_the_api_key(
    api: ApiClient, anon: ApiClient, method: str, path: str, key: str | None
) -> None:
    created = await create(api, kyc_executor())
    headers = {} if key is None else {"X-API-Key": key}
    body = {"description": "hijacked"} if method == "PATCH" else aml_executor() if method == "POST" else None

    reply = await anon.call(method, path.format(id=created["id"]), body, headers=headers)

    assert reply.status == 401, reply.text
    assert reply.body == {
        "code": "UNAUTHORIZED",
        "title": "Unauthorized",
        "message": "API Key missing or invalid",
    }
    assert_no_secret(reply)
    assert (await list_page(api))["items"] == [created]
