"""``flowker ps`` and ``flowker executions show ID``: what runs now, and one execution with its step
timeline, read through the API (never the store), so they work from any machine that reaches it.

The base URL is ``--url``, else ``FLOWKER_URL``, else ``http://FLOWKER_HOST:FLOWKER_PORT``; the API key is
``FLOWKER_API_KEY``, else the data directory's ``api-key`` file (``--data-dir`` or ``FLOWKER_DATA_DIR``).
The key is never a command-line argument (other users of the machine would see it). Exit status: 0, 1
when the API refuses or cannot be reached (one line on stderr), 2 when no key is found.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import aiohttp

API_KEY_FILE = "api-key"
TIMEOUT_SECONDS = 10.0


class CliError(Exception):
    """A one-line reason to stop, with the exit status."""

    def __init__(self, message: str, status: int = 1) -> None:
        super().__init__(message)
        self.status = status


def base_url(given: str | None, env: Mapping[str, str]) -> str:
    """The API's base URL, without a trailing slash."""
    url = given or env.get("FLOWKER_URL") or ""
    if not url:
        url = f"http://{env.get('FLOWKER_HOST') or '127.0.0.1'}:{env.get('FLOWKER_PORT') or '4021'}"
    return url.rstrip("/")


def api_key(data_dir: Path | None, env: Mapping[str, str]) -> str:
    """``FLOWKER_API_KEY``, else the data directory's key file."""
    key = env.get("FLOWKER_API_KEY", "").strip()
    if key:
        return key
    folder = data_dir or Path(env.get("FLOWKER_DATA_DIR") or ".flowker")
    path = folder / API_KEY_FILE
    try:
        return path.read_text().strip()
    except OSError:
        raise CliError(
            f"no API key: set FLOWKER_API_KEY, or point --data-dir at a data directory ({path})", 2
        ) from None


def format_age(seconds: float) -> str:
    """``42s``, ``3m07s``, ``2h05m``."""
    whole = int(seconds)
    if whole < 60:
        return f"{whole}s"
    if whole < 3600:
        return f"{whole // 60}m{whole % 60:02d}s"
    return f"{whole // 3600}h{whole % 3600 // 60:02d}m"


def format_ps(view: Mapping[str, Any]) -> str:
    """The live executions as a table (and a note when supervisors did not answer)."""
    rows = [("EXECUTION", "WORKFLOW", "STATUS", "STEP", "CALLING", "SUPERVISOR", "AGE")]
    for item in view["items"]:
        rows.append(
            (
                item["executionId"],
                item["workflowId"],
                item["status"],
                f"{item['currentStepNumber']}/{item['totalSteps']}",
                ",".join(item["currentNodeIds"]) or "-",
                item["supervisor"],
                format_age(item["ageSeconds"]),
            )
        )
    lines = [_row(row, rows) for row in rows]
    if not view["items"]:
        lines.append("(no execution is running)")
    if view.get("unansweredSupervisors"):
        lines.append(
            f"({view['unansweredSupervisors']} supervisor(s) did not answer: their executions are missing)"
        )
    return "\n".join(lines)


def format_show(
    execution: Mapping[str, Any], results: Mapping[str, Any] | None, live: Mapping[str, Any] | None
) -> str:
    """One execution: its status, where it is if it runs, and the timeline of its steps once it ended."""
    lines = [
        f"Execution  {execution['executionId']}",
        f"Workflow   {execution['workflowId']}",
        f"Status     {execution['status']}",
        f"Steps      {execution['currentStepNumber']}/{execution['totalSteps']}",
        f"Started    {execution['startedAt']}",
    ]
    if execution.get("completedAt"):
        lines.append(f"Ended      {execution['completedAt']}")
    if execution.get("errorMessage"):
        lines.append(f"Error      {execution['errorMessage']}")
    if live is not None:
        calling = ", ".join(live["currentNodeIds"]) or "-"
        lines.append(f"Running on {live['supervisor']} (node {live['nodeId']}), calling: {calling}")
    if results is not None:
        rows = [("#", "NODE", "STATUS", "STARTED", "DURATION", "ERROR")]
        for step in results["stepResults"]:
            rows.append(
                (
                    str(step["stepNumber"]),
                    step["nodeId"],
                    step["status"],
                    step["executedAt"],
                    f"{step['durationMs']} ms",
                    step.get("errorMessage") or "",
                )
            )
        lines += ["", "Timeline", *(_row(row, rows) for row in rows)]
    return "\n".join(lines)


def _row(row: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(row))]
    return "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()


async def _get(
    session: aiohttp.ClientSession, path: str, *, allow: tuple[int, ...] = ()
) -> dict[str, Any] | None:
    try:
        async with session.get(path) as reply:
            if reply.status in allow:
                return None
            body = await reply.json(content_type=None)
            if reply.status != 200:
                detail = body.get("message", "") if isinstance(body, dict) else ""
                code = body.get("code", "") if isinstance(body, dict) else ""
                raise CliError(f"{path}: HTTP {reply.status} {code} {detail}".rstrip())
            result: dict[str, Any] = body
            return result
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        raise CliError(f"cannot read {path}: {type(exc).__name__}: {exc}") from None


def _session(url: str, key: str) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(
        url, headers={"X-API-Key": key}, timeout=aiohttp.ClientTimeout(total=TIMEOUT_SECONDS)
    )


async def ps(url: str, key: str, as_json: bool) -> str:
    """The text ``flowker ps`` prints."""
    async with _session(url, key) as session:
        view = await _get(session, "/v1/runtime/executions")
    assert view is not None
    return json.dumps(view, indent=2) if as_json else format_ps(view)


async def show(url: str, key: str, execution_id: str, as_json: bool) -> str:
    """The text ``flowker executions show ID`` prints."""
    async with _session(url, key) as session:
        execution = await _get(session, f"/v1/executions/{execution_id}")
        assert execution is not None
        results = await _get(session, f"/v1/executions/{execution_id}/results", allow=(422,))
        live = None
        if results is None:
            view = await _get(session, f"/v1/runtime/executions?workflowId={execution['workflowId']}")
            assert view is not None
            live = next((i for i in view["items"] if i["executionId"] == execution["executionId"]), None)
    if as_json:
        return json.dumps({"execution": execution, "results": results, "live": live}, indent=2)
    return format_show(execution, results, live)


def run(command: str, url: str | None, data_dir: Path | None, execution_id: str | None, as_json: bool) -> int:
    """Run one command; print its output or a one-line reason."""
    env = os.environ
    try:
        key = api_key(data_dir, env)
        target = base_url(url, env)
        if command == "ps":
            text = asyncio.run(ps(target, key, as_json))
        else:
            assert execution_id is not None
            text = asyncio.run(show(target, key, execution_id, as_json))
    except CliError as exc:
        print(f"flowker: {exc}", file=sys.stderr)
        return exc.status
    print(text)
    return 0
