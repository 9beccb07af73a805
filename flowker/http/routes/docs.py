"""Interactive API docs at ``/docs``: Swagger UI over this API's own OpenAPI document, from assets shipped
in a package (``swagger-ui-py``), never a CDN.

The page is public, like ``/openapi.json``; trying an operation out asks for the API key (the document's
``ApiKeyAuth`` scheme), which stays in the page. Its scripts are files of this server, not inline code, so
the page is served with a Content-Security-Policy that allows nothing from elsewhere.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import swagger_ui
from aiohttp import web

from flowker.codes import ROUTE_NOT_FOUND
from flowker.errors import NotFound
from flowker.http.spec import TAG_SYSTEM, error, file_ok, line, operation

routes = web.RouteTableDef()

ASSETS_DIR = Path(swagger_ui.__file__).parent / "static"
#: The only files served, with their media types: Swagger UI's bundle and its stylesheet.
ASSETS = {
    "swagger-ui.css": "text/css",
    "swagger-ui-bundle.js": "text/javascript",
}
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)
PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Flowker API</title>
<link rel="stylesheet" href="/docs/assets/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/docs/assets/swagger-ui-bundle.js"></script>
<script src="/docs/start.js"></script>
</body>
</html>
"""
START = """window.addEventListener("load", function () {
  window.ui = SwaggerUIBundle({url: "/openapi.json", dom_id: "#swagger-ui", deepLinking: true,
    persistAuthorization: false, tryItOutEnabled: false});
});
"""


@cache
def _read(name: str) -> bytes:
    return (ASSETS_DIR / name).read_bytes()


@routes.get("/docs")
@operation(
    "getApiDocs",
    "Interactive API docs",
    TAG_SYSTEM,
    "Swagger UI over this document, from assets this server ships.",
    {"200": file_ok("text/html")},
    public=True,
)
async def docs_page(request: web.Request) -> web.Response:
    """The docs page."""
    return web.Response(text=PAGE, content_type="text/html", headers={"Content-Security-Policy": CSP})


@routes.get("/docs/start.js")
@operation(
    "getApiDocsScript",
    "Interactive API docs: start script",
    TAG_SYSTEM,
    "Starts Swagger UI on this document.",
    {"200": file_ok("text/javascript")},
    public=True,
)
async def docs_start(request: web.Request) -> web.Response:
    """The script that starts Swagger UI."""
    return web.Response(text=START, content_type="text/javascript")


@routes.get("/docs/assets/{name}")
@operation(
    "getApiDocsAsset",
    "Interactive API docs: asset",
    TAG_SYSTEM,
    "One of Swagger UI's files.",
    {"200": file_ok(*sorted(set(ASSETS.values())))},
    {"404": error("No such asset", [line(ROUTE_NOT_FOUND, "not one of Swagger UI's files served here")])},
    parameters=[
        {"name": "name", "in": "path", "required": True, "schema": {"type": "string", "enum": sorted(ASSETS)}}
    ],
    public=True,
)
async def docs_asset(request: web.Request) -> web.StreamResponse:
    """One asset, by name from a fixed list (no path from the client ever reaches the file system)."""
    name = request.match_info["name"]
    media = ASSETS.get(name)
    if media is None:
        raise NotFound(f"no asset {name[:50]!r}", code=ROUTE_NOT_FOUND)
    return web.Response(
        body=_read(name), content_type=media, headers={"Cache-Control": "public, max-age=86400"}
    )
