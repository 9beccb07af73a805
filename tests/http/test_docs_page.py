"""``/docs``: Swagger UI over the API's own document, from packaged assets, under a strict CSP."""

from __future__ import annotations

import re

from tests.helpers.client import ApiClient


async def test_the_docs_page_loads_only_this_servers_scripts_and_styles(anon: ApiClient) -> None:
    page = await anon.get("/docs")
    assert page.status == 200 and page.headers["Content-Type"].startswith("text/html")
    csp = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp and "default-src 'none'" in csp
    assert "<script>" not in page.text  # no inline script: the CSP would refuse it
    referenced = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert referenced and all(ref.startswith("/docs/") for ref in referenced), referenced
    for ref in referenced:
        asset = await anon.get(ref)
        assert asset.status == 200, ref
    start = await anon.get("/docs/start.js")
    assert 'url: "/openapi.json"' in start.text and start.headers["Content-Type"].startswith(
        "text/javascript"
    )
    bundle = await anon.get("/docs/assets/swagger-ui-bundle.js")
    assert "SwaggerUIBundle" in bundle.text and int(bundle.headers["Content-Length"]) > 100_000


async def test_only_the_listed_assets_are_served(anon: ApiClient) -> None:
    for name in ("index.html", "..%2F..%2Fsecret.key", "swagger-editor-bundle.js", "LICENSE"):
        (await anon.get(f"/docs/assets/{name}")).error(404, "FLK-0400")
