"""A real ``flowker serve`` as a child process, and a small client of its API.

It gets a fresh data directory, a short ``RAY_TMPDIR`` (Ray's socket paths must stay under 107 bytes)
and ``FLOWKER_PORT=0``; its URL and API key are read from the banner it prints.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from bench.processes import Child, ChildFailed, child_env, module

#: Starting Ray on a busy 2-core machine can take a while.
STARTUP_SECONDS = 180.0
UNFINISHED = ("pending", "running")


class ApiError(RuntimeError):
    """The API answered something the harness did not expect."""


@dataclass
class Service:
    """A running ``flowker serve``."""

    child: Child
    url: str
    api_key: str
    data_dir: Path
    ray_tmp: Path

    def stop(self) -> int | None:
        """SIGTERM, then make sure neither it nor any of its descendants (Ray) is left running."""
        try:
            return self.child.stop(within=60)
        finally:
            shutil.rmtree(self.ray_tmp, ignore_errors=True)


async def start_service(
    workdir: Path, name: str = "flowker", extra_env: Mapping[str, str] | None = None
) -> Service:
    """Start ``flowker serve`` with its data under ``workdir`` and wait for its banner.

    ``extra_env`` is added to its environment (``RAY_…`` settings to try, for instance).
    """
    data_dir = workdir / f"{name}-data"
    ray_tmp = Path(tempfile.mkdtemp(prefix="fkb-", dir="/tmp"))
    env = child_env(str(ray_tmp), FLOWKER_DATA_DIR=str(data_dir), FLOWKER_PORT="0", FLOWKER_HOST="127.0.0.1")
    env.update(extra_env or {})
    child = Child(name, module("flowker", "serve"), env, workdir / f"{name}.log")
    try:
        await child.line(lambda text: text.startswith("Ray dashboard:"), STARTUP_SECONDS)
        banner = child.output().splitlines()
        url = next(t.split()[-1] for t in banner if t.startswith("Flowker ") and " listening on " in t)
        api_key = next(t.partition(":")[2].split()[0] for t in banner if t.startswith("API key:"))
    except (ChildFailed, StopIteration, IndexError) as exc:
        child.stop()
        shutil.rmtree(ray_tmp, ignore_errors=True)
        raise ChildFailed(f"flowker serve did not start: {exc}\n{child.output()[-3000:]}") from None
    child.remember_descendants()
    return Service(child, url, api_key, data_dir, ray_tmp)


class Api:
    """JSON calls to a Flowker service; every answer other than the expected status raises."""

    def __init__(self, service: Service) -> None:
        self._url = service.url
        self._session = aiohttp.ClientSession(
            headers={"X-API-Key": service.api_key}, timeout=aiohttp.ClientTimeout(total=120)
        )

    async def __aenter__(self) -> Api:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self._session.close()

    async def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        expect: int = 200,
        headers: dict[str, str] | None = None,
        params: dict[str, str] | None = None,
    ) -> Any:
        """``method path`` with JSON ``body``; the JSON answer."""
        async with self._session.request(
            method, self._url + path, json=body, headers=headers, params=params
        ) as response:
            text = await response.text()
            if response.status != expect:
                raise ApiError(f"{method} {path} answered {response.status}, not {expect}: {text[:500]}")
            return await response.json() if text else None

    async def count(self, status: str, workflow_id: str | None = None, *, stop_at: int | None = None) -> int:
        """How many executions have ``status`` (paging through them all, or until ``stop_at``)."""
        params = {"status": status, "limit": "100"}
        if workflow_id:
            params["workflowId"] = workflow_id
        total = 0
        while True:
            page = await self.call("GET", "/v1/executions", params=params)
            total += len(page["items"])
            if not page["hasMore"] or (stop_at is not None and total >= stop_at):
                return total
            params["cursor"] = page["nextCursor"]

    async def unfinished(self) -> bool:
        """Whether any execution is still pending or running."""
        for status in UNFINISHED:
            if await self.count(status, stop_at=1):
                return True
        return False

    async def drain(self, within: float, progress: Any = None) -> bool:
        """Wait until no execution is pending or running; ``False`` if some still are after ``within`` s."""
        deadline = time.monotonic() + within
        last_note = time.monotonic()
        while await self.unfinished():
            if time.monotonic() > deadline:
                return False
            if progress and time.monotonic() - last_note > 5:
                progress("waiting for started executions to end")
                last_note = time.monotonic()
            await asyncio.sleep(0.5)
        return True
