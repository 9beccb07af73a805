"""Log lines: text for a person at a terminal (the default), or one JSON object a line
(``FLOWKER_LOG_FORMAT=json``) with the request id, the execution id and the Ray node id wherever they apply.

The ids travel in context variables: the request id middleware sets :data:`REQUEST_ID`, a runner and an
executor actor's call set :data:`EXECUTION_ID` for their task (tasks they create inherit it), and each
process sets its node once (:func:`configure`). Lines hold what the code logs and nothing else: no
header, body or credential is ever put in a log call (tests grep every line after full runs).
"""

from __future__ import annotations

import contextvars
import logging
import sys
from datetime import UTC, datetime

import orjson

REQUEST_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar("flowker_request_id", default=None)
EXECUTION_ID: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "flowker_execution_id", default=None
)

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
_node: dict[str, str | None] = {"id": None, "role": None}


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message, and the ids that apply."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name, value in (
            ("request_id", REQUEST_ID.get()),
            ("execution_id", EXECUTION_ID.get()),
            ("node_id", _node["id"]),
            ("role", _node["role"]),
        ):
            if value:
                line[name] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(line, default=str).decode()


def configure(log_format: str, *, node_id: str | None = None, role: str | None = None) -> None:
    """Send this process's log lines to stderr in ``log_format`` (``text`` or ``json``)."""
    if node_id:
        _node["id"] = node_id
    if role:
        _node["role"] = role
    root = logging.getLogger()
    formatter = JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT)
    ours = [h for h in root.handlers if getattr(h, "flowker", False)]
    if ours:
        for handler in ours:
            handler.setFormatter(formatter)
        return
    if log_format != "json" and root.handlers:
        return  # text, and someone (logging.basicConfig, Ray) already writes the lines
    handler = logging.StreamHandler(sys.stderr)
    handler.flowker = True  # type: ignore[attr-defined]
    handler.setFormatter(formatter)
    for other in list(root.handlers):
        if log_format == "json" and isinstance(other, logging.StreamHandler):
            root.removeHandler(other)
    root.addHandler(handler)
    if root.level > logging.INFO or root.level == logging.NOTSET:
        root.setLevel(logging.INFO)
