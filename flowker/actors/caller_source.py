"""Which :class:`ProviderCaller` serves the next call of one executor configuration: the Ray-free core of an
executor actor's configuration handling.

It reads the configuration at most once every ``ttl`` seconds (a PATCH or a disable takes effect
within that time, and a busy provider does not cost a store read per call), refuses a configuration
that is gone or disabled, opens its secrets and chooses its authenticator, and builds a new caller only
when the configuration's revision changed. The authenticator (and an OIDC token with it) is kept across
revisions while the clear authentication block and the base URL stay the same: a change of
``lastTestedAt`` or of an endpoint keeps the token, a new secret drops it. :meth:`CallerSource.forget`
makes the next call read the configuration again at once (a PATCH). Every refusal is a
:class:`CallResult` that says nothing was sent. The clock is injected.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from typing import Protocol

import orjson

from flowker.actors.caller import CallResult, ProviderCaller
from flowker.actors.provider_auth import Authenticator, authenticator_for
from flowker.codes import (
    EXECUTOR_CONFIG_DISABLED,
    EXECUTOR_CONFIG_NOT_FOUND,
    INVALID_AUTHENTICATION_FIELD,
    UNREADABLE_SECRET,
)
from flowker.domain.authentication import UnreadableSecret, open_authentication
from flowker.domain.executor_config import ExecutorConfig, ExecutorStatus
from flowker.secretbox import SecretBox, is_sealed
from flowker.tunables import CONFIG_TTL_SECONDS

MakeCaller = Callable[[ExecutorConfig, Authenticator], ProviderCaller]


class ConfigReader(Protocol):
    """Where a configuration is read by id (the store's executor configurations, or
    :class:`~flowker.actors.call_targets.CallTargets`, which adds provider configurations)."""

    async def get(self, config_id: str, /) -> ExecutorConfig | None: ...


#: Builds the authenticator of a clear configuration (raises as :func:`authenticator_for` does).
MakeAuthenticator = Callable[[ExecutorConfig], Authenticator]


def open_headers(headers: dict[str, str] | None, box: SecretBox) -> dict[str, str] | None:
    """A configuration's static headers with their sealed values opened (:class:`UnreadableSecret`
    when one cannot be)."""
    if not headers:
        return headers
    try:
        return {name: box.open(value) if is_sealed(value) else value for name, value in headers.items()}
    except ValueError:
        raise UnreadableSecret(
            "a header value cannot be opened: it was sealed with another secret key or is corrupt"
        ) from None


def static_authenticator(clear: ExecutorConfig) -> Authenticator:
    """The authenticator of a configuration without an HTTP session: the OIDC types are refused."""
    return authenticator_for(clear.authentication, config_name=clear.name)


def credentials_digest(clear: ExecutorConfig) -> str:
    """What a kept authenticator depends on: the clear authentication block and the base URL."""
    material = {
        "authentication": clear.authentication,
        "baseUrl": clear.baseUrl,
        "headers": clear.staticHeaders,
    }
    return hashlib.sha256(orjson.dumps(material, option=orjson.OPT_SORT_KEYS)).hexdigest()


class CallerSource:
    """The caller of configuration ``config_id``, kept current."""

    def __init__(
        self,
        config_id: str,
        configs: ConfigReader,
        box: SecretBox,
        make_caller: MakeCaller,
        *,
        make_authenticator: MakeAuthenticator = static_authenticator,
        ttl: float = CONFIG_TTL_SECONDS,
        now: Callable[[], float] = time.monotonic,
    ) -> None:
        self._id = config_id
        self._configs = configs
        self._box = box
        self._make = make_caller
        self._make_authenticator = make_authenticator
        self._authenticator: tuple[str, Authenticator] | None = None
        self._ttl = ttl
        self._now = now
        self._fetched: tuple[ExecutorConfig | None, float] | None = None
        #: The caller built last, if any (a release stops its retries).
        self.current: ProviderCaller | None = None

    async def resolve(self) -> ProviderCaller | CallResult:
        """The caller for the configuration as it is now, or why no call can be made."""
        config = await self._config()
        if config is None:
            return CallResult.refused(
                f"executor configuration {self._id} not found", EXECUTOR_CONFIG_NOT_FOUND
            )
        if config.status != ExecutorStatus.ACTIVE:
            return CallResult.refused(
                f"executor configuration {config.name!r} is disabled", EXECUTOR_CONFIG_DISABLED
            )
        if self.current is None or self.current.config.revision != config.revision:
            try:
                clear = config.model_copy(
                    update={
                        "authentication": open_authentication(config.authentication, self._box),
                        "staticHeaders": open_headers(config.staticHeaders, self._box),
                    }
                )
                authenticator = self._authenticator_of(clear)
            except UnreadableSecret as exc:
                return CallResult.refused(f"executor configuration {config.name!r}: {exc}", UNREADABLE_SECRET)
            except ValueError as exc:  # messages name fields, never values
                return CallResult.refused(
                    f"executor configuration {config.name!r}: {exc}", INVALID_AUTHENTICATION_FIELD
                )
            self.current = self._make(clear, authenticator)
        return self.current

    def _authenticator_of(self, clear: ExecutorConfig) -> Authenticator:
        digest = credentials_digest(clear)
        if self._authenticator is None or self._authenticator[0] != digest:
            self._authenticator = (digest, self._make_authenticator(clear))
        return self._authenticator[1]

    def forget(self) -> None:
        """Read the configuration again on the next call (it was changed); calls in flight keep going."""
        self._fetched = None

    async def _config(self) -> ExecutorConfig | None:
        now = self._now()
        if self._fetched is None or now - self._fetched[1] > self._ttl:
            self._fetched = (await self._configs.get(self._id), now)
        return self._fetched[0]
