"""The stub provider, a process of its own: fixed JSON answers after an optional delay.

::

    python -m bench.stub --port 0 --delay 0

``POST /score`` answers ``{"score": 12}`` and ``POST /decide`` ``{"decision": "approve"}``, each after
``--delay`` seconds. Two routes steer it: ``GET /_stats`` (requests in flight and answered, per path)
and ``POST /_delay`` with ``{"seconds": s}`` (changes the delay, so that a slow provider's caller can be
warmed up fast). It prints ``stub listening on http://127.0.0.1:<port>`` once it accepts connections.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
from collections import Counter

from aiohttp import web

ANSWERS = {"/score": {"score": 12}, "/decide": {"decision": "approve"}}
#: Thousands of executions may wait on the stub at once, each on its own connection.
BACKLOG = 8192

STATE = web.AppKey("state", dict)


def create_app(delay: float) -> web.Application:
    """The stub's routes, answering after ``delay`` seconds."""
    app = web.Application()
    app[STATE] = {"delay": delay, "inflight": 0, "answered": Counter()}
    for path in ANSWERS:
        app.router.add_post(path, answer)
    app.router.add_get("/_stats", stats)
    app.router.add_post("/_delay", set_delay)
    return app


async def answer(request: web.Request) -> web.Response:
    state = request.app[STATE]
    await request.read()
    state["inflight"] += 1
    try:
        if state["delay"]:
            await asyncio.sleep(state["delay"])
    finally:
        state["inflight"] -= 1
    state["answered"][request.path] += 1
    return web.json_response(ANSWERS[request.path])


async def stats(request: web.Request) -> web.Response:
    state = request.app[STATE]
    return web.json_response(
        {"delay": state["delay"], "inflight": state["inflight"], "answered": dict(state["answered"])}
    )


async def set_delay(request: web.Request) -> web.Response:
    body = await request.json()
    request.app[STATE]["delay"] = max(float(body["seconds"]), 0.0)
    return web.json_response({"delay": request.app[STATE]["delay"]})


async def serve(app: web.Application, port: int, name: str) -> None:
    """Serve ``app`` on 127.0.0.1 until SIGTERM or SIGINT; print the URL once listening."""
    runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", port, backlog=BACKLOG)
    await site.start()
    print(f"{name} listening on http://127.0.0.1:{runner.addresses[0][1]}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        await stop.wait()
    finally:
        await runner.cleanup()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.stub", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0 picks a free one)")
    parser.add_argument("--delay", type=float, default=0.0, help="seconds before every answer")
    args = parser.parse_args(argv)
    asyncio.run(serve(create_app(args.delay), args.port, "stub"))


if __name__ == "__main__":
    main()
