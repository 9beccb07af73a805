"""A receiver of audit checkpoints (FLOWKER_AUDIT_CHECKPOINT_URL) on 127.0.0.1, such as a witness."""

from __future__ import annotations

from aiohttp import web


class Receiver:
    """A checkpoint receiver on 127.0.0.1 that keeps what it is sent, answering ``status``."""

    def __init__(self, status: int = 204) -> None:
        self.status = status
        self.received: list[tuple[str, str]] = []
        self._runner: web.AppRunner | None = None
        self.url = ""

    async def __aenter__(self) -> Receiver:
        async def take(request: web.Request) -> web.Response:
            self.received.append((request.content_type, await request.text()))
            if self.status in (301, 302, 307, 308):
                return web.Response(status=self.status, headers={"Location": "http://127.0.0.1:9/elsewhere"})
            return web.Response(status=self.status)

        app = web.Application()
        app.router.add_post("/witness/add-checkpoint", take)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}/witness/add-checkpoint"
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._runner is not None
        await self._runner.cleanup()
