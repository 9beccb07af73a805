"""URL checks shared by executor configurations and their authentication."""

from __future__ import annotations

from urllib.parse import SplitResult, urlsplit


def http_url(url: str) -> SplitResult | None:
    """The parts of an ``http``/``https`` URL with a host, or ``None`` for anything else.

    ``urlsplit`` raises on some malformed input (``https://[::1``); that is just another bad URL.
    """
    try:
        parts = urlsplit(url)
        host = parts.hostname
    except ValueError:
        return None
    return parts if parts.scheme in ("http", "https") and host else None
