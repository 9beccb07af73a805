"""The operator console in a real headless browser (Debian's Chromium, driven by Playwright) over the front
door on 127.0.0.1, the in-process runtime and stub providers: sign in, find an execution started here, open
its timeline, look at the workflow's graph and the breakers, run verify. Screenshots of each page are written
to ``test-artifacts/console/`` (or ``$FLOWKER_TEST_ARTIFACTS/console/``).

The browser is asked to load nothing but this server's pages: every request it makes is recorded and
checked to stay on the server's origin.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import API_KEY
from tests.helpers.client import ApiClient
from tests.helpers.fixtures import aml_executor, compliance_workflow, kyc_executor
from tests.helpers.polling import eventually
from tests.helpers.stub_provider import StubProvider

playwright = pytest.importorskip("playwright.async_api")

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# Without the background-networking flags Chromium tries Google's hosts at start (this machine's network
# refuses them); --no-sandbox because tests may run as root.
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(os.environ.get("FLOWKER_TEST_ARTIFACTS", "test-artifacts")) / "console"
KYC = "/v1/kyc/validate"
AML = "/v1/aml/check"

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists(), reason="needs Chromium (Debian package chromium)"
)


def kyc_answer(body: Any, _request: Any) -> tuple[int, Any]:
    return 200, {"customerId": "CUST-001", "riskScore": 25, "status": "approved", "sessionToken": "tok-123"}


@pytest.fixture
async def execution(api: ApiClient) -> AsyncIterator[dict[str, str]]:
    async with StubProvider() as stub:
        stub.route("POST", KYC, kyc_answer)
        stub.route("POST", AML, [(503, {}), (200, {"amlStatus": "cleared", "referenceId": "AML-REF-9876"})])
        kyc = await api.post("/v1/executors", kyc_executor(stub.url + "/v1/kyc"))
        aml = await api.post("/v1/executors", aml_executor(stub.url + "/v1/aml"))
        created = await api.post("/v1/workflows", compliance_workflow(kyc.body["id"], aml.body["id"]))
        workflow = created.body["workflowId"]
        assert (await api.post(f"/v1/workflows/{workflow}/activate")).status == 200
        started = await api.post(
            f"/v1/workflows/{workflow}/executions",
            {
                "inputData": {
                    "customer": {"cpf": "123.456.789-00", "name": "Ana"},
                    "transaction": {"amount": 10},
                }
            },
            headers={"Idempotency-Key": str(uuid.uuid4())},
        )
        execution_id = started.body["executionId"]
        await eventually(
            lambda: api.get(f"/v1/executions/{execution_id}"), lambda r: r.body["status"] == "completed"
        )
        yield {"id": execution_id, "workflow": workflow}


@pytest.fixture
async def page(server: str) -> AsyncIterator[Any]:
    async with playwright.async_playwright() as driver:
        browser = await driver.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        context = await browser.new_context(viewport={"width": 1280, "height": 800})
        opened = await context.new_page()
        opened.requests = []
        opened.errors = []
        opened.on("request", lambda request: opened.requests.append(request.url))
        opened.on("pageerror", lambda error: opened.errors.append(str(error)))
        opened.on("console", lambda msg: opened.errors.append(msg.text) if msg.type == "error" else None)
        yield opened
        await browser.close()


async def shot(page: Any, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


async def test_sign_in_find_the_execution_open_its_timeline_and_verify_the_trail(
    server: str, page: Any, execution: dict[str, str], api: ApiClient
) -> None:
    await page.goto(f"{server}/console")
    await page.fill("#api-key", "not-the-key")
    await page.click("button[type=submit]")
    await page.wait_for_selector("text=This API key is not accepted.")
    await shot(page, "01-sign-in-refused")
    assert [e for e in page.errors if "401" not in e] == []  # the browser logs the refused request
    page.errors.clear()

    await page.fill("#api-key", API_KEY)
    await page.keyboard.press("Enter")  # the form works from the keyboard
    row = page.locator("#executions tbody tr", has_text=execution["id"])
    await row.wait_for()
    assert "completed" in await row.inner_text()
    assert await page.evaluate("sessionStorage.getItem('flowker.apiKey')") == API_KEY
    assert await page.evaluate("localStorage.length") == 0
    await shot(page, "02-executions")

    # Filters: by status, by time, by workflow; and the list follows new executions by itself.
    await page.select_option("select[name=status]", "failed")
    await page.wait_for_selector("text=No execution matches.")
    await page.select_option("select[name=status]", "completed")
    await row.wait_for()
    await page.fill("input[name=from]", "2999-01-01T00:00")
    await page.wait_for_selector("text=No execution matches.")
    await page.fill("input[name=from]", "")
    await page.select_option("select[name=workflowId]", label="complex compliance workflow")
    await row.wait_for()
    second = await api.post(
        f"/v1/workflows/{execution['workflow']}/executions",
        {"inputData": {"customer": {"cpf": "1", "name": "Bo"}, "transaction": {"amount": 1}}},
        headers={"Idempotency-Key": str(uuid.uuid4())},
    )
    await page.locator("#executions tbody tr", has_text=second.body["executionId"]).wait_for()
    assert await page.locator("#executions tbody tr").count() == 2

    row = page.locator("#executions tbody tr", has_text=execution["id"])
    await row.locator("a.mono").click()
    await page.wait_for_selector("#timeline li")
    steps = page.locator("#timeline li")
    assert await steps.count() == 4
    assert "KYC Validation" in await steps.nth(0).inner_text()
    aml = steps.nth(2)
    assert "2 attempts" in await aml.inner_text()
    await steps.nth(0).locator("button").click()
    opened = await steps.nth(0).inner_text()
    assert '"document": "12345678900"' in opened  # what the step sent
    assert '"customerId": "CUST-001"' in opened  # what it received, after its output mapping
    assert await page.locator("#execution-status").inner_text() == "completed"
    await shot(page, "03-timeline")

    await page.click("text=Workflows")
    await page.click("text=complex compliance workflow")
    await page.wait_for_selector("#graph")
    assert await page.locator("#graph g.node").count() == 6
    assert await page.locator("#graph g.edge").count() == 5
    assert "low risk" in (await page.locator("#graph").text_content() or "")
    await shot(page, "04-workflow-graph")

    await page.click("text=Executors")
    rows = page.locator("#executors tbody tr")
    await rows.first.wait_for()
    assert await rows.count() == 2
    assert all("closed" in text for text in await rows.all_inner_texts())
    await shot(page, "05-executors")

    await page.click("text=Audit trail")
    await page.click("#verify")
    verdict = page.locator("#verdict")
    await verdict.wait_for()
    assert (await verdict.inner_text()).startswith("Valid: hash chain is valid. ")
    assert await page.locator("#audit tbody tr").count() > 10
    await shot(page, "06-audit-verified")

    await page.click("text=Sign out")
    await page.wait_for_selector("#api-key")
    assert await page.evaluate("sessionStorage.getItem('flowker.apiKey')") is None

    assert page.errors == []
    assert all(url.startswith(server + "/") for url in page.requests), page.requests


async def test_the_page_allows_nothing_from_elsewhere_and_the_assets_are_a_fixed_list(
    anon: ApiClient,
) -> None:
    page = await anon.get("/console")
    assert page.status == 200 and page.headers["Content-Type"].startswith("text/html")
    policy = page.headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy and "script-src 'self'" in policy and "unsafe-inline" not in policy
    for name in ("console.js", "console.css", "vendor/preact.js", "vendor/hooks.js", "vendor/htm.js"):
        asset = await anon.get(f"/console/assets/{name}")
        assert asset.status == 200, name
    assert (await anon.get("/console/assets/../app.py")).status == 404
    assert (await anon.get("/console/assets/vendor/../../routes/console.py")).status == 404
    assert (await anon.get("/console/assets/index.html")).status == 404
