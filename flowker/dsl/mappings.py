"""Executor-node field mappings (``data.inputMapping``/``data.outputMapping``): copy values from dot
paths of an input document to dot paths of a new object, optionally transforming strings.

:func:`compile_mappings` validates the JSON when a workflow is saved; :meth:`MappingPlan.apply` runs
it. Paths: ``.``-separated names of letters, digits, ``_``, ``-``, each optionally followed by array
indexes (``items[0].amount``); ``$`` alone is the whole document.
"""

from __future__ import annotations

import copy
import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

_MAX_MAPPINGS = 100
_MAX_PATH_LENGTH = 200
# A target index pads a list with None up to it, so an unbounded one could allocate without limit.
_MAX_TARGET_INDEX = 1000

_NAME = re.compile(r"[A-Za-z0-9_-]+")
_INDEX = re.compile(r"\[([^\[\]]*)\]")

# Config keys each transformation type requires; all are strings.
_TRANSFORM_KEYS: dict[str, tuple[str, ...]] = {
    "remove_characters": ("characters",),
    "add_prefix": ("prefix",),
    "add_suffix": ("suffix",),
    "to_uppercase": (),
    "to_lowercase": (),
}

_Path = tuple[str | int, ...]


class _MessageError(ValueError):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class MappingError(_MessageError):
    """A mapping list is invalid (raised at validation); ``message`` starts with the offending field,
    e.g. ``"nodes[kyc].data.inputMapping[1].target: ..."``."""


class MappingApplyError(_MessageError):
    """A mapping failed at run time; ``message`` says why, e.g.
    ``"required source path 'workflow.customer.cpf' is missing"``."""


class PathMissing(LookupError):
    """The document has no value at the requested path."""


def _type_name(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _format_path(path: _Path) -> str:
    text = ""
    for segment in path:
        text += f"[{segment}]" if isinstance(segment, int) else (f".{segment}" if text else segment)
    return text or "$"


def parse_path(path: str) -> _Path:
    """Parse a dot path into its segments.

    Args:
        path: A path such as ``"a.b[0].c"``, or ``"$"`` for the whole document.

    Returns:
        Names as ``str`` and indexes as ``int``: ``("a", "b", 0, "c")``; ``()`` for ``"$"``.

    Raises:
        ValueError: The path is empty, too long, or malformed; the message says why.
    """
    if not isinstance(path, str):
        raise ValueError(f"path must be a string, got {_type_name(path)}")
    if not path:
        raise ValueError("path is empty")
    if len(path) > _MAX_PATH_LENGTH:
        raise ValueError(f"path is {len(path)} characters long; at most {_MAX_PATH_LENGTH} allowed")
    if path == "$":
        return ()
    parsed: list[str | int] = []
    for position, segment in enumerate(path.split("."), start=1):
        if not segment:
            raise ValueError(f"invalid path {path!r}: segment {position} is empty")
        name, bracket, rest = segment.partition("[")
        rest = bracket + rest
        if not name:
            raise ValueError(f"invalid path {path!r}: segment {segment!r} has no name before '['")
        if not _NAME.fullmatch(name):
            raise ValueError(f"invalid path {path!r}: {name!r} may hold only letters, digits, '_' and '-'")
        parsed.append(name)
        indexes = list(_INDEX.finditer(rest))
        if "".join(match.group(0) for match in indexes) != rest:
            raise ValueError(f"invalid path {path!r}: misplaced or unbalanced brackets in {segment!r}")
        for match in indexes:
            index = match.group(1)
            if not re.fullmatch(r"[0-9]+", index):
                problem = "is negative" if re.fullmatch(r"-[0-9]+", index) else "is not an integer"
                raise ValueError(f"invalid path {path!r}: index [{index}] in {segment!r} {problem}")
            parsed.append(int(index))
    return tuple(parsed)


def get_path(document: Any, path: str | _Path) -> Any:
    """Read the value at a path.

    Args:
        document: A JSON-like value (dicts, lists, scalars).
        path: A dot path or an already parsed tuple; ``"$"``/``()`` returns ``document`` itself.

    Returns:
        The value there; a JSON null counts as present and returns ``None``.

    Raises:
        PathMissing: A key or index along the path does not exist, or crosses a non-container.
        ValueError: ``path`` is a string that does not parse.
    """
    segments = parse_path(path) if isinstance(path, str) else path
    current = document
    for depth, segment in enumerate(segments):
        if isinstance(segment, int):
            found = isinstance(current, list | tuple) and segment < len(current)
        else:
            found = isinstance(current, Mapping) and segment in current
        if not found:
            missing = _format_path(segments[: depth + 1])
            raise PathMissing(f"{_format_path(segments)!r}: nothing at {missing!r}")
        current = current[segment]
    return current


def set_path(document: dict[str, Any], path: _Path, value: Any) -> None:
    """Write ``value`` at ``path`` in place, creating missing intermediate containers: a dict before a
    name, a list before an index; lists are padded with ``None`` up to the index.

    Args:
        document: The object to write into.
        path: A parsed, non-empty path.
        value: The value to store.

    Raises:
        ValueError: ``path`` is empty, or an existing value along it is not the container it needs.
    """
    if not path:
        raise ValueError("cannot set the whole document ('$')")
    current: Any = document
    for depth, segment in enumerate(path):
        if isinstance(segment, int) != isinstance(current, list) or not isinstance(current, list | dict):
            where, kind = _format_path(path[:depth]), "a list" if isinstance(segment, int) else "an object"
            raise ValueError(f"cannot set {_format_path(path)!r}: {where!r} is not {kind}")
        if isinstance(current, list):
            current.extend([None] * (segment + 1 - len(current)))
        if depth == len(path) - 1:
            current[segment] = value
            return
        if (current[segment] if isinstance(current, list) else current.get(segment)) is None:
            current[segment] = [] if isinstance(path[depth + 1], int) else {}
        current = current[segment]


@dataclass(frozen=True)
class Transformation:
    """A string transformation of a mapped value.

    Attributes:
        type: ``remove_characters``, ``add_prefix``, ``add_suffix``, ``to_uppercase`` or ``to_lowercase``.
        config: The type's setting (``characters``, ``prefix`` or ``suffix``); unused keys are dropped.

    Raises:
        ValueError: On construction, for an unknown type or a missing, ill-typed or empty setting; the
            message starts with the offending field (``type: ...``, ``config.prefix: ...``).
    """

    type: str
    config: Mapping[str, str] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.type is None:
            raise ValueError("type: is required")
        if not isinstance(self.type, str) or self.type not in _TRANSFORM_KEYS:
            expected = ", ".join(_TRANSFORM_KEYS)
            raise ValueError(f"type: unknown transformation {self.type!r}; expected one of {expected}")
        if not isinstance(self.config, Mapping):
            raise ValueError(f"config: must be an object, got {_type_name(self.config)}")
        for key in _TRANSFORM_KEYS[self.type]:
            if key not in self.config:
                raise ValueError(f"config.{key}: is required for {self.type}")
            setting = self.config[key]
            if not isinstance(setting, str):
                raise ValueError(f"config.{key}: must be a string, got {_type_name(setting)}")
            # As in the original: an empty or blank setting would make the transformation a no-op.
            if not (setting.strip() if key == "characters" else setting):
                raise ValueError(f"config.{key}: must not be empty")
        kept = {key: self.config[key] for key in _TRANSFORM_KEYS[self.type]}
        object.__setattr__(self, "config", MappingProxyType(kept))

    def apply(self, value: Any) -> Any:
        """Return the transformed ``value`` if it is a string, else ``value`` unchanged."""
        if not isinstance(value, str):
            return value
        if self.type == "remove_characters":
            return value.translate(str.maketrans("", "", self.config["characters"]))
        if self.type == "add_prefix":
            return self.config["prefix"] + value
        if self.type == "add_suffix":
            return value + self.config["suffix"]
        return value.upper() if self.type == "to_uppercase" else value.lower()


@dataclass(frozen=True)
class FieldMapping:
    """One ``source -> target`` copy; ``source_path``/``target_path`` hold the parsed paths.

    Attributes:
        source: Dot path read from the input document (``$`` for all of it).
        target: Dot path written in the output object.
        required: Whether a missing source fails the apply; otherwise the target is left unset.
        transformation: Optional transformation of the value.

    Raises:
        ValueError: On construction, for a missing or malformed path or a non-boolean ``required``;
            the message starts with the offending field (``source: ...``).
    """

    source: str
    target: str
    required: bool = False
    transformation: Transformation | None = None
    source_path: _Path = dataclasses.field(init=False, repr=False, compare=False)
    target_path: _Path = dataclasses.field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        for name in ("source", "target"):
            try:
                if getattr(self, name) is None:
                    raise ValueError("is required")
                object.__setattr__(self, f"{name}_path", parse_path(getattr(self, name)))
            except ValueError as exc:
                raise ValueError(f"{name}: {exc}") from None
        if not self.target_path:
            raise ValueError("target: '$' is not allowed; name the field to write")
        if any(isinstance(seg, int) and seg > _MAX_TARGET_INDEX for seg in self.target_path):
            raise ValueError(f"target: array indexes may not exceed {_MAX_TARGET_INDEX}")
        if not isinstance(self.required, bool):
            raise ValueError(f"required: must be a boolean, got {_type_name(self.required)}")


@dataclass(frozen=True)
class MappingPlan:
    """A validated mapping list, ready to apply."""

    mappings: tuple[FieldMapping, ...]

    def apply(self, document: Mapping[str, Any]) -> dict[str, Any]:
        """Build a new object from ``document``, which is never mutated.

        Args:
            document: The input document.

        Returns:
            A new dict of deep-copied values, so mutating it cannot alter ``document``.

        Raises:
            MappingApplyError: A required source path is missing.
        """
        result: dict[str, Any] = {}
        for mapping in self.mappings:
            try:
                value = get_path(document, mapping.source_path)
            except PathMissing:
                if mapping.required:
                    raise MappingApplyError(f"required source path {mapping.source!r} is missing") from None
                continue
            value = copy.deepcopy(value)
            if mapping.transformation is not None:
                value = mapping.transformation.apply(value)
            set_path(result, mapping.target_path, value)
        return result


def _conflict(first: _Path, second: _Path) -> str | None:
    for a, b in zip(first, second, strict=False):
        if a != b:
            # A name and an index at the same place need a dict and a list in one slot.
            return "needs a different container type than" if type(a) is not type(b) else None
    return "duplicates" if len(first) == len(second) else "overlaps"


def compile_mappings(raw: Any, *, field: str) -> MappingPlan:
    """Validate a mapping list from a node's data and compile it.

    Args:
        raw: The JSON value: a list of ``{source, target, required?, transformation?}`` objects.
        field: Where the list sits, prefixed to every error message, e.g.
            ``"nodes[kyc-executor].data.inputMapping"``.

    Raises:
        MappingError: The list or one of its mappings is invalid; the message names the field.
    """
    if not isinstance(raw, list):
        raise MappingError(f"{field}: must be a list of mapping objects, got {_type_name(raw)}")
    if len(raw) > _MAX_MAPPINGS:
        raise MappingError(f"{field}: at most {_MAX_MAPPINGS} mappings allowed, got {len(raw)}")
    mappings: list[FieldMapping] = []
    for i, item in enumerate(raw):
        prefix = f"{field}[{i}]"
        if not isinstance(item, dict):
            raise MappingError(f"{prefix}: must be an object, got {_type_name(item)}")
        required = False if item.get("required") is None else item["required"]
        try:
            mapping = FieldMapping(item.get("source"), item.get("target"), required)
        except ValueError as exc:
            raise MappingError(f"{prefix}.{exc}") from None
        spec = item.get("transformation")
        if spec is not None:
            if not isinstance(spec, dict):
                raise MappingError(f"{prefix}.transformation: must be an object, got {_type_name(spec)}")
            config = spec.get("config")
            try:
                transformation = Transformation(spec.get("type"), {} if config is None else config)
            except ValueError as exc:
                raise MappingError(f"{prefix}.transformation.{exc}") from None
            mapping = dataclasses.replace(mapping, transformation=transformation)
        for j, earlier in enumerate(mappings):
            reason = _conflict(mapping.target_path, earlier.target_path)
            if reason:
                raise MappingError(
                    f"{prefix}.target: {mapping.target!r} {reason} target {earlier.target!r} of {field}[{j}]"
                )
        mappings.append(mapping)
    return MappingPlan(tuple(mappings))
