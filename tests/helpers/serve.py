"""``flowker serve`` as a child process, as a user runs it; its output goes to a file that tests read."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

FLOWKER = [sys.executable, "-m", "flowker"]


def serve_env(data_dir: Path, ray_tmp: str, **extra: str) -> dict[str, str]:
    """The environment of a child ``flowker serve``: its own data directory, Ray temp dir and a free port."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLOWKER_", "RAY_ADDRESS"))}
    env.update(FLOWKER_DATA_DIR=str(data_dir), FLOWKER_PORT="0", RAY_TMPDIR=ray_tmp)
    env.update(extra)
    return env


class Serve:
    """One ``flowker serve`` process."""

    def __init__(self, env: dict[str, str], log: Path, args: list[str] | None = None) -> None:
        self.log = log
        with log.open("w") as out:
            self.process = subprocess.Popen(
                [*FLOWKER, "serve", *(args or [])], env=env, stdout=out, stderr=subprocess.STDOUT
            )

    def banner(self, within: float = 90.0) -> dict[str, str]:
        """The startup lines (``url``, ``API key``, ``Ray dashboard``…), once all are printed."""
        deadline = time.monotonic() + within
        while True:
            lines: dict[str, str] = {}
            for line in self.log.read_text().splitlines():
                if line.startswith("Flowker ") and " listening on " in line:
                    lines["url"] = line.split()[-1]
                head, colon, rest = line.partition(":")
                if colon and head in ("API key", "Ray dashboard", "Data directory"):
                    lines[head] = rest.strip()
            if "Ray dashboard" in lines:
                return lines
            if self.process.poll() is not None:
                raise AssertionError(f"serve exited with {self.process.returncode}:\n{self.log.read_text()}")
            if time.monotonic() > deadline:
                raise AssertionError(f"no banner within {within} s:\n{self.log.read_text()}")
            time.sleep(0.1)

    async def abanner(self, within: float = 90.0) -> dict[str, str]:
        """:meth:`banner` without blocking the event loop (stub providers may be serving on it)."""
        return await asyncio.to_thread(self.banner, within)

    def stop(self, signum: int = signal.SIGTERM, within: float = 60.0) -> int:
        """Send ``signum`` and wait for the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signum)
        return self.process.wait(timeout=within)
