"""Child processes: each in a session of its own, tracked, and always stopped with all its descendants.

A child never sees the terminal's Ctrl-C (it has its own session); the harness stops it itself, in a
``finally``, and :func:`stop_all` is the last resort for any child a failure left running.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO, Any

from bench.memory import psutil

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
_LIVE: set[Child] = set()


class ChildFailed(RuntimeError):
    """A child exited early, printed nothing usable or overran its time."""


def child_env(ray_tmp: str | None = None, **extra: str) -> dict[str, str]:
    """The environment of a child: no stray Flowker or Ray settings, loopback only, no usage reports."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLOWKER_", "RAY_", "BENCH_"))}
    env["PYTHONPATH"] = str(ROOT)
    env["RAY_USAGE_STATS_ENABLED"] = "0"
    # Ray otherwise binds its node to the address of the default route; this keeps it on 127.0.0.1.
    env["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
    if ray_tmp:
        env["RAY_TMPDIR"] = ray_tmp
    env.update(extra)
    return env


class Child:
    """One child process; stdout goes to ``log``, stderr to ``log`` too unless ``stderr`` is given."""

    def __init__(
        self,
        name: str,
        argv: list[str],
        env: Mapping[str, str],
        log: Path,
        stderr: IO[Any] | int | None = subprocess.STDOUT,
    ) -> None:
        self.name = name
        self.log = log
        with log.open("wb") as out:
            self.process = subprocess.Popen(
                argv, env=dict(env), cwd=ROOT, stdout=out, stderr=stderr, start_new_session=True
            )
        self._known: dict[int, psutil.Process] = {}
        _LIVE.add(self)

    @property
    def pid(self) -> int:
        return self.process.pid

    def output(self) -> str:
        """Everything written to the log so far."""
        return self.log.read_text(errors="replace")

    async def line(self, match: Callable[[str], bool], within: float) -> str:
        """The first log line ``match`` accepts, waiting up to ``within`` seconds for it."""
        deadline = time.monotonic() + within
        while True:
            for text in self.output().splitlines():
                if match(text):
                    return text
            if self.process.poll() is not None:
                raise ChildFailed(f"{self.name} exited with {self.process.returncode}:\n{self._tail()}")
            if time.monotonic() > deadline:
                raise ChildFailed(f"{self.name}: nothing expected within {within:.0f} s:\n{self._tail()}")
            await asyncio.sleep(0.1)

    async def result(self, within: float) -> Any:
        """Wait for the child to exit (stopping it after ``within`` s) and parse its last line as JSON."""
        deadline = time.monotonic() + within
        while self.process.poll() is None:
            if time.monotonic() > deadline:
                self.stop()
                raise ChildFailed(f"{self.name} still running after {within:.0f} s; stopped:\n{self._tail()}")
            self.remember_descendants()
            await asyncio.sleep(0.2)
        self.stop()
        lines = [text for text in self.output().splitlines() if text.strip()]
        if self.process.returncode != 0 or not lines:
            raise ChildFailed(f"{self.name} exited with {self.process.returncode}:\n{self._tail()}")
        try:
            return json.loads(lines[-1])
        except ValueError:
            raise ChildFailed(f"{self.name} printed no JSON result:\n{self._tail()}") from None

    def remember_descendants(self) -> None:
        """Note the child's descendants now, to make sure they are gone after it stopped."""
        with contextlib.suppress(psutil.Error):
            for process in psutil.Process(self.pid).children(recursive=True):
                self._known.setdefault(process.pid, process)

    def stop(self, within: float = 60.0) -> int | None:
        """SIGTERM, wait up to ``within`` s, then SIGKILL; then kill any descendant still running."""
        self.remember_descendants()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=within)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        leftovers = [p for p in self._known.values() if _running(p)]
        for process in leftovers:
            with contextlib.suppress(psutil.Error):
                process.terminate()
        _, alive = psutil.wait_procs(leftovers, timeout=5)
        for process in alive:
            with contextlib.suppress(psutil.Error):
                process.kill()
        psutil.wait_procs(alive, timeout=5)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            # The session's process group has the child's pid: whatever is still in it is ours.
            os.killpg(self.pid, signal.SIGKILL)
        _LIVE.discard(self)
        return self.process.returncode

    def _tail(self, lines: int = 30) -> str:
        return "\n".join(self.output().splitlines()[-lines:])


def _running(process: psutil.Process) -> bool:
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def stop_all() -> None:
    """Stop every child still running (after an error or Ctrl-C)."""
    for child in list(_LIVE):
        child.stop(within=30)


def module(name: str, *args: str) -> list[str]:
    """The argv of ``python -m <name> <args>`` with this interpreter."""
    return [PYTHON, "-m", name, *args]
