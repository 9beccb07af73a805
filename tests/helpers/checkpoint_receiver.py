"""A receiver of audit checkpoints (FLOWKER_AUDIT_CHECKPOINT_URL) on 127.0.0.1, such as a witness: the
stub provider with one route."""

from __future__ import annotations

from typing import Self

from tests.helpers.stub_provider import StubProvider

PATH = "/witness/add-checkpoint"
REDIRECTS = (301, 302, 307, 308)


class Receiver(StubProvider):
    """Answers ``status`` to each note POSTed to :attr:`url` (a redirect points elsewhere)."""

    def __init__(self, status: int = 204) -> None:
        super().__init__()
        self.answer(status)

    def answer(self, status: int) -> None:
        headers = {"Location": "http://127.0.0.1:9/elsewhere"} if status in REDIRECTS else {}
        self.route("POST", PATH, (status, None, headers))

    async def __aenter__(self) -> Self:
        await super().__aenter__()
        self.url += PATH
        return self

    @property
    def received(self) -> list[tuple[str, str]]:
        """``(media type, note)`` of each note sent, oldest first."""
        return [(r.headers["Content-Type"].split(";")[0], r.raw.decode()) for r in self.calls(PATH)]
