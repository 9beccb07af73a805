"""JSON Schema validation of catalog inputs (draft 2020-12, formats asserted), with messages that name
where and why, never the value found there: a provider configuration holds secrets.

``uri`` needs ``rfc3986-validator`` and ``date-time`` ``rfc3339-validator`` (dependencies of Flowker);
without them ``jsonschema`` silently stops checking those formats, so their absence fails at import.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import ValidationError

from flowker.catalog.model import Schema

#: The formats the catalog's schemas use; each must be asserted, not merely annotated.
ASSERTED_FORMATS = ("uri", "uuid", "date-time")
_CHECKER: FormatChecker = Draft202012Validator.FORMAT_CHECKER
_missing = [name for name in ASSERTED_FORMATS if name not in _CHECKER.checkers]
if _missing:  # pragma: no cover - an installation without the format packages
    raise ImportError(
        f"jsonschema cannot assert the formats {_missing}: install rfc3986-validator, rfc3339-validator"
    )


def validator(schema: Schema) -> Draft202012Validator:
    """A validator of ``schema`` that asserts formats."""
    return Draft202012Validator(schema, format_checker=_CHECKER)


def problems(schema: Schema, instance: Any) -> list[str]:
    """Every violation of ``schema`` by ``instance``, as ``"<path>: <why>"``, in a stable order."""
    errors = sorted(
        validator(schema).iter_errors(instance), key=lambda e: (list(e.absolute_path), e.validator)
    )
    return list(dict.fromkeys(describe(error) for error in errors))


def first_problem(schema: Schema, instance: Any) -> str | None:
    """The first violation (:func:`problems`), or ``None`` when ``instance`` is valid."""
    found = problems(schema, instance)
    return found[0] if found else None


def path_of(error: ValidationError) -> str:
    """``$.auth.client_id`` style: where the violation is (``$`` the whole document)."""
    path = "$"
    for part in error.absolute_path:
        path += f"[{part}]" if isinstance(part, int) else f".{part}"
    return path


def describe(error: ValidationError) -> str:
    """``"<path>: <why>"`` built from the schema's keyword and its value, never from the instance
    (except property names, which are keys, not values)."""
    keyword, expected = error.validator, error.validator_value
    where = path_of(error)
    instance = error.instance
    if keyword == "required":
        missing = [name for name in expected if isinstance(instance, Mapping) and name not in instance]
        return f"{where}: missing required properties {', '.join(map(repr, missing))}"
    if keyword == "additionalProperties":
        known = set((error.schema.get("properties") or {}).keys())
        extra = sorted(k for k in instance if k not in known) if isinstance(instance, Mapping) else []
        return f"{where}: unknown properties {', '.join(map(repr, extra))}"
    if keyword == "type":
        return f"{where}: must be of type {expected if isinstance(expected, str) else ' or '.join(expected)}"
    if keyword == "format":
        return f"{where}: must be a valid {expected}"
    if keyword in ("enum", "const"):
        allowed = expected if keyword == "enum" else [expected]
        return f"{where}: must be one of {', '.join(map(repr, allowed))}"
    if keyword in ("anyOf", "oneOf"):
        return f"{where}: matches none of the allowed forms"
    if keyword == "dependentRequired":
        return f"{where}: properties {expected} require others to be present"
    return f"{where}: must satisfy {keyword} {expected!r}"
