"""The operator console at ``/console``: a read-only page over the ``/v1`` API (executions with their step
timelines, workflows drawn as graphs, executor configurations with their breakers, the audit trail with a
verify button).

The page and its files are public, like ``/docs``: they hold no data. The console signs in with an API key
that it keeps in the browser tab's ``sessionStorage`` and sends as ``X-API-Key`` to this server only, so
every answer it shows passes the same key check and masking as any other client's. The files are shipped in
the package (``flowker/http/console/``, the Preact and htm toolkit prebuilt in ``vendor/``); the page is
served with a Content-Security-Policy that allows nothing from elsewhere and no inline script.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from aiohttp import web

from flowker.codes import ROUTE_NOT_FOUND
from flowker.errors import NotFound
from flowker.http.spec import TAG_SYSTEM, error, file_ok, line, operation

routes = web.RouteTableDef()

CONSOLE_DIR = Path(__file__).parent.parent / "console"
#: The only files served, by the name the page asks for, with their media types.
ASSETS = {
    "console.js": ("console.js", "text/javascript"),
    "console.css": ("console.css", "text/css"),
    "vendor/preact.js": ("vendor/preact.js", "text/javascript"),
    "vendor/hooks.js": ("vendor/hooks.js", "text/javascript"),
    "vendor/htm.js": ("vendor/htm.js", "text/javascript"),
    "vendor/LICENSES.txt": ("vendor/LICENSES.txt", "text/plain"),
}
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)
HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


@cache
def _read(name: str) -> bytes:
    return (CONSOLE_DIR / name).read_bytes()


@routes.get("/console")
@operation(
    "getConsole",
    "Operator console",
    TAG_SYSTEM,
    "A read-only web console over this API; it asks for an API key and keeps it in the browser tab only.",
    {"200": file_ok("text/html")},
    public=True,
)
async def console_page(request: web.Request) -> web.Response:
    """The console's page."""
    return web.Response(body=_read("index.html"), content_type="text/html", headers=HEADERS)


@routes.get("/console/assets/{name:.+}")
@operation(
    "getConsoleAsset",
    "Operator console: asset",
    TAG_SYSTEM,
    "One of the console's files.",
    {"200": file_ok(*sorted({media for _, media in ASSETS.values()}))},
    {"404": error("No such asset", [line(ROUTE_NOT_FOUND, "not one of the console's files")])},
    parameters=[
        {"name": "name", "in": "path", "required": True, "schema": {"type": "string", "enum": sorted(ASSETS)}}
    ],
    public=True,
)
async def console_asset(request: web.Request) -> web.Response:
    """One file, by name from a fixed list (no path from the client ever reaches the file system)."""
    name = request.match_info["name"]
    found = ASSETS.get(name)
    if found is None:
        raise NotFound(f"no console asset {name[:50]!r}", code=ROUTE_NOT_FOUND)
    path, media = found
    return web.Response(
        body=_read(path), content_type=media, headers={**HEADERS, "Cache-Control": "no-cache"}
    )
