"""The baseline, a process of its own: the W3 provider calls made inline, with no engine at all.

::

    python -m bench.relay --port 0 --provider http://127.0.0.1:<stub port>

Every ``POST`` (any path) calls ``POST /score`` with the request's JSON body, then, when the score is
below 50, ``POST /decide``, over one shared client session, and answers the decision as JSON: no
persistence, no actors, no audit. It is the bare limit the same load generator can reach on the same
machine, the yardstick of the W3 figures.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import AsyncIterator

import aiohttp
from aiohttp import web

from bench.stub import serve

PROVIDER = web.AppKey("provider", str)
SESSION = web.AppKey("session", aiohttp.ClientSession)


def create_app(provider: str) -> web.Application:
    """The relay, calling the provider at base URL ``provider``."""
    app = web.Application()
    app[PROVIDER] = provider.rstrip("/")
    app.cleanup_ctx.append(_session)
    app.router.add_post("/{tail:.*}", relay)
    return app


async def _session(app: web.Application) -> AsyncIterator[None]:
    # An unbounded pool, as Flowker's executor actor has.
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        app[SESSION] = session
        yield


async def relay(request: web.Request) -> web.Response:
    body = await request.json()
    session, provider = request.app[SESSION], request.app[PROVIDER]
    async with session.post(f"{provider}/score", json=body) as scored:
        if scored.status != 200:
            return web.json_response({"error": f"score answered {scored.status}"}, status=502)
        score = (await scored.json())["score"]
    if not score < 50:
        return web.json_response({"decision": "reject", "score": score})
    async with session.post(f"{provider}/decide", json={"score": score}) as decided:
        if decided.status != 200:
            return web.json_response({"error": f"decide answered {decided.status}"}, status=502)
        decision = (await decided.json())["decision"]
    return web.json_response({"decision": decision, "score": score})


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.relay", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0 picks a free one)")
    parser.add_argument("--provider", required=True, help="base URL of the stub provider")
    args = parser.parse_args(argv)
    asyncio.run(serve(create_app(args.provider), args.port, "relay"))


if __name__ == "__main__":
    main()
