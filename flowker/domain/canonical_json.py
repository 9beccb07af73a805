"""RFC 8785 (JSON Canonicalization Scheme) bytes of a JSON value: the ``rfc8785`` package, made fast.

``rfc8785`` (Trail of Bits) is the reference; it is pure Python and costs about 25 µs for an audit
event, too slow to verify a million events in seconds. :func:`canonical` takes a fast path through
``orjson`` when the value is one on which the two agree byte for byte, and ``rfc8785`` otherwise:

* strings: both escape exactly ``"``, ``\\`` and the controls below U+0020 (``\\b \\t \\n \\f \\r``,
  the others as lower-case ``\\u00xx``) and write everything else as UTF-8; a lone surrogate is refused
  by both (orjson raises, and the fallback then raises ``rfc8785.CanonicalizationError``);
* ``None``, ``True``, ``False``: ``null``, ``true``, ``false``;
* integers within ±(2⁵³ - 1): their decimal digits (rfc8785 refuses larger ones, so they take the
  fallback, which raises);
* objects whose keys are all ASCII: JCS sorts keys by UTF-16 code units, orjson by code points; the
  two orders differ only between a key character from U+E000 and one beyond U+FFFF, never on ASCII;
* arrays of the above.

Anything else — a float (ECMAScript number formatting differs from orjson's), a non-ASCII key, a
tuple, a subclass of ``dict``, ``str`` or ``int`` such as an enum — goes to ``rfc8785``. The
agreement is a property test (``tests/domain/test_canonical_json.py``) over arbitrary JSON values.

:func:`canonical_parsed` is faster still for an object ``orjson.loads`` produced (what the offline
verifier reads): such a value holds only ``dict`` (string keys), ``list``, ``str``, ``int`` (within 64
bits), finite ``float``, ``bool`` and ``None``. Instead of walking it, it looks at orjson's output: pure
ASCII (so every key is), no ``[`` (so no array), and no value token that is a float or a large integer
— with no array and an object at the top, every number follows a key's closing quote and colon
(``":``), and orjson writes every float with a ``.`` or an ``e``, so the pattern
``":-?[0-9]+(?:[.eE]|[0-9]{15})`` finds them all. Inside a string the same bytes only send the value
down the slower path. The agreement is a property test too.
"""

from __future__ import annotations

import math
import re
from typing import Any

import orjson
import rfc8785

#: Largest integer magnitude both serialise as its digits (rfc8785 refuses beyond it).
MAX_SAFE_INTEGER = 2**53 - 1

CanonicalizationError = rfc8785.CanonicalizationError
_SURROGATE = re.compile("[\ud800-\udfff]")
#: In orjson's output of an object without arrays: a value that is a float, or an integer of 16 digits.
_SUSPECT = re.compile(rb'":-?[0-9]+(?:[.eE]|[0-9]{15})')


def canonical(value: Any) -> bytes:
    """The RFC 8785 bytes of ``value``; :class:`CanonicalizationError` (a ValueError) when it has none."""
    if _plain(value):
        try:
            return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
        except orjson.JSONEncodeError:
            pass  # a lone surrogate: rfc8785 says why
    return rfc8785.dumps(value)


def canonical_parsed(value: Any) -> bytes:
    """:func:`canonical` of a value ``orjson.loads`` produced, faster for objects (see the module notes)."""
    if type(value) is dict:
        try:
            out = orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
        except orjson.JSONEncodeError:
            return canonical(value)
        if out.isascii() and b"[" not in out and _SUSPECT.search(out) is None:
            return out
    return canonical(value)


def _plain(value: Any) -> bool:
    """Whether ``value`` holds only what orjson writes exactly as RFC 8785 does (see the module notes)."""
    kind = type(value)
    if kind is dict:
        try:
            if not "".join(value).isascii():  # every key at once (a key that is not a str: TypeError)
                return False
        except TypeError:
            return False
        items: Any = value.values()
    elif kind is list:
        items = value
    else:
        return _plain_scalar(value, kind)
    for item in items:
        kind = type(item)
        if kind is str:
            continue
        if kind is int:
            if -MAX_SAFE_INTEGER <= item <= MAX_SAFE_INTEGER:
                continue
            return False
        if kind is dict or kind is list:
            if not _plain(item):
                return False
            continue
        if kind is bool or item is None:
            continue
        return False
    return True


def _plain_scalar(value: Any, kind: type) -> bool:
    if kind is str or kind is bool or value is None:
        return True
    return kind is int and -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER


def representable(value: Any) -> Any:
    """A copy of ``value`` that has RFC 8785 bytes: integers beyond ±(2⁵³ - 1), NaN and infinities as
    their decimal strings, lone surrogates as U+FFFD, keys as strings, tuples as lists."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return int(value) if -MAX_SAFE_INTEGER <= value <= MAX_SAFE_INTEGER else str(int(value))
    if isinstance(value, float):
        return float(value) if math.isfinite(value) else str(value)
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    if isinstance(value, dict):
        return {representable(str(key)): representable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [representable(item) for item in value]
    return representable(str(value))
