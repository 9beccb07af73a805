"""Whether a request that failed may have reached the provider: aiohttp's own signals, read per attempt.

A POST that timed out after it was sent may have made a payment; one that was never sent did not. Only
the first may be repeated just when the policy says so, and a failure's ``may_have_reached`` must say
which it was. Two signals tell them apart:

* the exception: :class:`aiohttp.ClientConnectorError` (refused, DNS, TLS, proxy) and
  :class:`aiohttp.ConnectionTimeoutError` are raised while connecting, before a byte of the request;
* the trace: aiohttp calls ``on_request_headers_sent`` just before it writes the request's headers to an
  established connection. A session made with :func:`tracing` marks the attempt's :class:`Delivery`
  then, so a failure before it (a total timeout that expired while connecting, say) sent nothing.

Without the trace (a session made elsewhere) every other failure may have reached the provider: the
answer errs on the side that never repeats a payment.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import aiohttp


@dataclass
class Delivery:
    """How far one attempt got.

    Attributes:
        traced: The session reports the attempt's progress (it was made with :func:`tracing`).
        headers_sent: aiohttp started writing the request to an established connection.
    """

    traced: bool = False
    headers_sent: bool = False

    def may_have_reached(self, error: BaseException) -> bool:
        """Whether the request may have reached the provider before ``error`` ended the attempt."""
        if isinstance(error, aiohttp.ClientConnectorError | aiohttp.ConnectionTimeoutError):
            return False
        return self.headers_sent or not self.traced


async def _started(_session: aiohttp.ClientSession, context: SimpleNamespace, _params: Any) -> None:
    if isinstance(context.trace_request_ctx, Delivery):
        context.trace_request_ctx.traced = True


async def _headers_sent(_session: aiohttp.ClientSession, context: SimpleNamespace, _params: Any) -> None:
    if isinstance(context.trace_request_ctx, Delivery):
        context.trace_request_ctx.headers_sent = True


def tracing() -> aiohttp.TraceConfig:
    """The trace configuration that a provider session needs for :class:`Delivery` to be exact."""
    config = aiohttp.TraceConfig()
    config.on_request_start.append(_started)
    config.on_request_headers_sent.append(_headers_sent)
    return config
