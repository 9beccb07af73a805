"""Flowker's one error tree.

Every error a client can see is a :class:`FlowkerError`; the HTTP error middleware renders it as
``{"code", "title", "message"}`` with its status. Codes follow the original Flowker's ``FLK-NNNN``
catalogue; codes the original lacks are added in free slots of the same ranges (``docs/errors.md``)::

    FlowkerError (code, status, message)
    ├── BadRequest              400  malformed body, bad id, bad query, invalid definition
    ├── Unauthorized            401  missing or wrong X-API-Key
    ├── Forbidden               403  CORS preflight from an origin not allowed
    ├── NotFound                404  unknown entity or route
    ├── MethodNotAllowed        405
    ├── Conflict                409  duplicate name, lost check-and-set race
    ├── PayloadTooLarge         413
    ├── Unprocessable           422  operation not allowed in the entity's state
    ├── InternalError           500  a bug; the message never carries details
    ├── StoreUnavailable        503  the store cannot be reached (connection lost); retry later
    └── ProviderCallFailed      502  a provider call that did not succeed: a step's error, recorded in
        │                            the execution (never the status of a front-door answer)
        ├── CallRefused              not made, nothing sent (configuration gone, disabled or changed,
        │                            secret unreadable, authentication unusable, executor exiting)
        ├── CircuitOpen              the provider's circuit breaker is open
        ├── UpstreamTimeout          no answer in time, after the retries
        ├── UpstreamUnreachable      a network error, after the retries
        ├── UpstreamFailed           5xx or 429, after the retries
        ├── UpstreamRejected         another error status (4xx): not retried
        ├── UnstorableAnswer         an answer too large or too deep to keep: not retried
        ├── TokenUnavailable         no OIDC token could be obtained; nothing sent to the provider
        │   ├── TokenRefused             the issuer refused (invalid_client…) or answered garbage
        │   └── TokenEndpointFailed      the issuer was unreachable, timed out, or answered 5xx/429
        ├── ExecutorLost             the executor actor stopped during the call
        └── InternalCallError        a bug in Flowker during the call
"""

from __future__ import annotations

from http import HTTPStatus
from typing import ClassVar

from flowker.codes import (
    ANSWER_OUT_OF_BOUNDS,
    BODY_TOO_LARGE,
    BREAKER_OPEN,
    DESTINATION_REFUSED,
    EXECUTOR_STOPPED,
    INTERNAL_ERROR,
    METHOD_OR_ORIGIN_NOT_ALLOWED,
    PROVIDER_FAILED,
    REQUEST_HEAD_TOO_LARGE,
    ROUTE_NOT_FOUND,
    STATE_CHANGED,
    STORE_UNAVAILABLE,
    TOKEN_ENDPOINT_FAILED,
    TOKEN_REFUSED,
    UNAUTHORIZED,
    URL_TOO_LONG,
    WRONG_FIELD_TYPE,
)

#: Where the original's reason phrase differs from Python's.
_TITLES = {413: "Payload Too Large"}


class FlowkerError(Exception):
    """Base of every error a client may see: a stable ``code``, an HTTP ``status`` and a message."""

    status: ClassVar[int] = 500
    default_code: ClassVar[str] = INTERNAL_ERROR

    def __init__(
        self, message: str, *, code: str | None = None, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code
        self.headers = headers or {}

    @property
    def title(self) -> str:
        """The HTTP reason phrase of the status, as the original renders it."""
        return _TITLES.get(self.status) or HTTPStatus(self.status).phrase

    def to_dict(self) -> dict[str, str]:
        """The JSON error body."""
        return {"code": self.code, "title": self.title, "message": self.message}


class BadRequest(FlowkerError):
    status = 400
    default_code = WRONG_FIELD_TYPE


class Unauthorized(FlowkerError):
    status = 401
    default_code = UNAUTHORIZED


class Forbidden(FlowkerError):
    status = 403
    default_code = METHOD_OR_ORIGIN_NOT_ALLOWED


class NotFound(FlowkerError):
    status = 404
    default_code = ROUTE_NOT_FOUND


class MethodNotAllowed(FlowkerError):
    status = 405
    default_code = METHOD_OR_ORIGIN_NOT_ALLOWED


class Conflict(FlowkerError):
    status = 409
    default_code = STATE_CHANGED


class PayloadTooLarge(FlowkerError):
    status = 413
    default_code = BODY_TOO_LARGE


class UriTooLong(FlowkerError):
    status = 414
    default_code = URL_TOO_LONG


class HeadersTooLarge(FlowkerError):
    status = 431
    default_code = REQUEST_HEAD_TOO_LARGE


class Unprocessable(FlowkerError):
    status = 422
    default_code = METHOD_OR_ORIGIN_NOT_ALLOWED


class InternalError(FlowkerError):
    status = 500
    default_code = INTERNAL_ERROR


class StoreUnavailable(FlowkerError):
    """The store cannot be reached (connection lost, no server selectable in time): nothing is known to
    be written, and the request may be retried (the same Idempotency-Key makes a retry safe)."""

    status = 503
    default_code = STORE_UNAVAILABLE


class StateChanged(Conflict):
    """A check-and-set write lost to a concurrent change (the original's FLK-0350)."""

    def __init__(self, what: str) -> None:
        super().__init__(f"{what} was changed concurrently; read it again and retry", code=STATE_CHANGED)


class WorkflowChanged(StateChanged):
    """A start made from a cached workflow definition found the workflow no longer active at that revision.

    Nothing was inserted; the caller reads the workflow again. Never meant to reach a client (it would be a
    409 FLK-0350 if it did)."""

    def __init__(self, workflow_id: str) -> None:
        super().__init__(f"workflow {workflow_id}")


class ProviderCallFailed(FlowkerError):
    """Why a provider call did not succeed: its FLK code, whether the provider may have received the
    request, and whether a failure of this kind may pass if the call is made again later.

    ``may_have_reached`` is False only when Flowker knows it sent nothing; when True, calling again may
    repeat a payment (the same ``Idempotency-Key`` lets the provider drop the repeat). Messages name
    classes and fields, never secrets.
    """

    status = 502
    default_code = PROVIDER_FAILED
    #: Whether a failure of this kind is transient (the retry policy makes the same distinction).
    retryable: ClassVar[bool] = False
    default_reached: ClassVar[bool] = True

    def __init__(
        self, message: str, *, code: str | None = None, may_have_reached: bool | None = None
    ) -> None:
        super().__init__(message, code=code)
        self.may_have_reached = self.default_reached if may_have_reached is None else may_have_reached

    def __reduce__(self) -> tuple[object, ...]:
        # Crosses Ray between actors: keep the code and the flag, not only the message.
        return (_rebuild, (type(self), self.message, self.code, self.may_have_reached))


def _rebuild(kind: type[ProviderCallFailed], message: str, code: str, reached: bool) -> ProviderCallFailed:
    return kind(message, code=code, may_have_reached=reached)


class CallRefused(ProviderCallFailed):
    default_reached = False


class CircuitOpen(ProviderCallFailed):
    default_code = BREAKER_OPEN
    retryable = True


class UpstreamTimeout(ProviderCallFailed):
    retryable = True


class UpstreamUnreachable(ProviderCallFailed):
    retryable = True


class UpstreamFailed(ProviderCallFailed):
    retryable = True


class UpstreamRejected(ProviderCallFailed):
    pass


class UnstorableAnswer(ProviderCallFailed):
    default_code = ANSWER_OUT_OF_BOUNDS


class TokenUnavailable(ProviderCallFailed):
    """No OIDC token could be obtained for the call: nothing was sent to the provider (unless an earlier
    attempt of the same call reached it).

    ``status`` and ``issuer_error`` (the issuer's HTTP status and OAuth ``error`` code, when it answered)
    are for the connectivity test in the same process; like every attribute but the message, the code and
    ``may_have_reached``, they do not cross Ray.
    """

    default_reached = False

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        may_have_reached: bool | None = None,
        status: int | None = None,
        issuer_error: str | None = None,
    ) -> None:
        super().__init__(message, code=code, may_have_reached=may_have_reached)
        self.status = status
        self.issuer_error = issuer_error


class TokenRefused(TokenUnavailable):
    """The issuer refused the token request (``invalid_client``, ``invalid_grant``…), or answered
    something that is no token: asking again will fail the same way."""

    default_code = TOKEN_REFUSED


class TokenEndpointFailed(TokenUnavailable):
    """The issuer (discovery or token endpoint) was unreachable, timed out, or answered 5xx or 429."""

    default_code = TOKEN_ENDPOINT_FAILED
    retryable = True


class DestinationNotAllowed(ProviderCallFailed):
    """The outbound policy refused the provider's or the issuer's address, or plain http in production
    mode: nothing was sent, and asking again will be refused the same way."""

    default_code = DESTINATION_REFUSED
    default_reached = False


class ExecutorLost(ProviderCallFailed):
    default_code = EXECUTOR_STOPPED


class InternalCallError(ProviderCallFailed):
    default_code = INTERNAL_ERROR


class ConfigError(Exception):
    """Invalid service configuration; ``flowker serve`` exits non-zero with this one-line reason."""


class TelemetryRefused(ConfigError):
    """Telemetry is on but cannot start (no endpoint): ``flowker serve`` exits 1, as the original does."""
