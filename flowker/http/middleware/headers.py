"""Header values as the client sent them, for code that needs their bytes or shows them in a message.

aiohttp decodes header bytes as UTF-8 with ``surrogateescape``: a byte that is not UTF-8 arrives as a
lone surrogate, which ``str.encode()`` and orjson refuse. Nothing a client sends may raise, so header
values are turned into bytes or message text only through these two functions.
"""

from __future__ import annotations

#: Printable ASCII is shown as it is in messages, but for the backslash that starts an escape.
_PLAIN = frozenset(range(0x20, 0x7F)) - {ord("\\")}


def raw_bytes(value: str) -> bytes:
    """The bytes of a header value as the client sent them; never raises."""
    try:
        return value.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        # Only a surrogate that aiohttp's decoding cannot produce gets here; still no exception.
        return value.encode("utf-8", "surrogatepass")


def shown(value: str, limit: int = 100) -> str:
    """A header value for a message: its first ``limit`` bytes, each as ``\\xNN`` unless printable ASCII.

    The result is plain ASCII, so it can go in a JSON body or a log line whatever the client sent; a
    backslash is escaped too, so that ``\\xff`` always means the byte.
    """
    return "".join(chr(b) if b in _PLAIN else f"\\x{b:02x}" for b in raw_bytes(value)[:limit])
