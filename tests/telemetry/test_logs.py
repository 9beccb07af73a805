"""JSON log lines: their fields, and the ids that travel in context variables."""

from __future__ import annotations

import asyncio
import json
import logging
import subprocess
import sys

from flowker.telemetry import logs


def _record(message: str, *args: object, exc_info: object = None) -> logging.LogRecord:
    return logging.LogRecord("flowker.test", logging.WARNING, __file__, 1, message, args, exc_info)  # type: ignore[arg-type]


def test_a_line_is_one_json_object_with_the_ids_that_apply() -> None:
    formatter = logs.JsonFormatter()
    plain = json.loads(formatter.format(_record("hello %s", "there")))
    assert (
        plain["message"] == "hello there"
        and plain["level"] == "WARNING"
        and plain["logger"] == "flowker.test"
    )
    assert "request_id" not in plain and "execution_id" not in plain
    request, execution = logs.REQUEST_ID.set("req-1"), logs.EXECUTION_ID.set("exe-1")
    try:
        line = formatter.format(_record("multi\nline"))
    finally:
        logs.REQUEST_ID.reset(request)
        logs.EXECUTION_ID.reset(execution)
    assert "\n" not in line
    parsed = json.loads(line)
    assert parsed["request_id"] == "req-1" and parsed["execution_id"] == "exe-1"
    assert parsed["message"] == "multi\nline" and parsed["time"].endswith("+00:00")


def test_an_exception_is_in_the_line() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        line = logs.JsonFormatter().format(_record("failed", exc_info=sys.exc_info()))
    assert "ValueError: boom" in json.loads(line)["exception"]


async def test_the_execution_id_is_inherited_by_the_tasks_a_run_makes() -> None:
    seen: list[str | None] = []

    async def run() -> None:
        logs.EXECUTION_ID.set("exe-2")
        await asyncio.create_task(call())

    async def call() -> None:
        seen.append(logs.EXECUTION_ID.get())

    await asyncio.create_task(run())
    assert seen == ["exe-2"] and logs.EXECUTION_ID.get() is None  # not leaked to the caller's context


def test_configure_json_replaces_the_terminal_format_with_json_lines() -> None:
    program = (
        "import logging\n"
        "from flowker.telemetry import logs\n"
        "logging.basicConfig(level=logging.INFO)\n"
        "logs.configure('json', node_id='node-a', role='front-door')\n"
        "logging.getLogger('flowker.x').info('started %d', 1)\n"
    )
    result = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, check=True)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    line = json.loads(lines[0])
    assert line["message"] == "started 1" and line["node_id"] == "node-a" and line["role"] == "front-door"


def test_text_stays_the_default() -> None:
    program = (
        "import logging\n"
        "from flowker.telemetry import logs\n"
        "logging.basicConfig(level=logging.INFO, format=logs.TEXT_FORMAT)\n"
        "logs.configure('text')\n"
        "logging.getLogger('flowker.x').info('started')\n"
    )
    result = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, check=True)
    assert result.stderr.strip().endswith("INFO flowker.x: started") and "{" not in result.stderr
