"""Reading request bodies and writing JSON responses (orjson both ways)."""

from __future__ import annotations

import uuid
from typing import Any, TypeVar

import orjson
from aiohttp import web
from pydantic import BaseModel, ValidationError

from flowker.codes import BAD_BODY, BODY_TOO_DEEP, INVALID_UUID, WRONG_FIELD_TYPE
from flowker.domain.audit import Actor
from flowker.errors import BadRequest
from flowker.http.keys import API_KEY_ID

M = TypeVar("M", bound=BaseModel)

#: Deeper documents are refused: they serve no workflow and would exhaust the JSON encoder later.
MAX_DEPTH = 32
#: Labels pydantic puts in an error location for the member of a union that failed, not field names.
_TYPE_TAGS = frozenset(
    {"int", "float", "str", "bool", "list", "dict", "none", "function-after", "tagged-union"}
)


def json_response(
    data: Any,
    status: int = 200,
    headers: dict[str, str] | None = None,
    *,
    model: type[BaseModel] | None = None,
) -> web.Response:
    """A JSON response; with ``model`` (the body's schema in the API document), the body is that model:
    ``data`` is validated as it and written from it, so the answer is what the document says."""
    if model is not None:
        data = model.model_validate(data).model_dump(mode="json", exclude_unset=True)
    return web.Response(
        body=orjson.dumps(data), status=status, content_type="application/json", headers=headers
    )


async def read_json(request: web.Request, model: type[M]) -> M:
    """Parse the body as ``model``: 400 FLK-0001 for malformed JSON, 400 FLK-0302 naming a wrong field."""
    raw = await request.read()
    if not raw.strip():
        raise BadRequest("request body is required", code=BAD_BODY)
    data = decode_object(raw)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        error = exc.errors(include_url=False, include_input=False)[0]
        raise BadRequest(f"{field_path(error['loc'])}: {error['msg']}", code=WRONG_FIELD_TYPE) from None


def decode_object(raw: bytes) -> dict[str, Any]:
    """``raw`` as a JSON object: 400 FLK-0001 when it is not JSON or not an object, FLK-0314 too deep."""
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(
            f"invalid request body: malformed JSON ({exc.msg} at {exc.pos})", code=BAD_BODY
        ) from None
    if not isinstance(data, dict):
        raise BadRequest("invalid request body: expected a JSON object", code=BAD_BODY)
    if _too_deep(data, MAX_DEPTH):
        raise BadRequest(f"invalid request body: nested deeper than {MAX_DEPTH} levels", code=BODY_TOO_DEEP)
    return data


def field_path(loc: tuple[int | str, ...]) -> str:
    """``("nodes", 0, "position", "x", "int")`` -> ``nodes[0].position.x`` (union member tags dropped)."""
    path = ""
    for part in loc:
        if isinstance(part, str) and part in _TYPE_TAGS:
            continue
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path or "body"


def _too_deep(value: Any, budget: int) -> bool:
    if budget < 0:
        return True
    if isinstance(value, dict):
        return any(_too_deep(v, budget - 1) for v in value.values())
    if isinstance(value, list):
        return any(_too_deep(v, budget - 1) for v in value)
    return False


def request_actor(request: web.Request) -> Actor:
    """Who is asking: the API key's id (never the key) and the peer address.

    ``X-Forwarded-For`` is not trusted: any client can write it.
    """
    return Actor(type="api_key", id=request.get(API_KEY_ID, "anonymous"), ip=request.remote or "0.0.0.0")


def path_id(request: web.Request, name: str = "id") -> str:
    """A UUID path parameter, normalised; anything else is 400 FLK-0002."""
    raw = request.match_info[name]
    try:
        return str(uuid.UUID(raw))
    except ValueError:
        raise BadRequest(f"{name} {raw[:64]!r} is not a valid UUID", code=INVALID_UUID) from None
