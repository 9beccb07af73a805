"""Which :class:`ProviderCaller` serves the next call of one executor configuration: the Ray-free core of an
executor actor's configuration handling.

It reads the configuration at most once every ``ttl`` seconds (a PATCH or a disable takes effect
within that time, and a busy provider does not cost a store read per call), refuses a configuration
that is gone or disabled, opens its secrets and chooses its authenticator, and builds a new caller only
when the configuration's revision changed. Every refusal is a :class:`CallResult` that says nothing was
sent. The clock is injected.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from flowker.actors.caller import CallResult, ProviderCaller
from flowker.actors.provider_auth import Authenticator, authenticator_for
from flowker.codes import (
    EXECUTOR_CONFIG_DISABLED,
    EXECUTOR_CONFIG_NOT_FOUND,
    INVALID_AUTHENTICATION_FIELD,
    UNREADABLE_SECRET,
    UNSUPPORTED_AUTHENTICATION_TYPE,
)
from flowker.domain.authentication import UnreadableSecret, open_authentication
from flowker.domain.executor_config import ExecutorConfig, ExecutorStatus
from flowker.secretbox import SecretBox
from flowker.store.ports import ExecutorConfigRepository
from flowker.tunables import CONFIG_TTL_SECONDS

MakeCaller = Callable[[ExecutorConfig, Authenticator], ProviderCaller]


class CallerSource:
    """The caller of configuration ``config_id``, kept current."""

    def __init__(
        self,
        config_id: str,
        configs: ExecutorConfigRepository,
        box: SecretBox,
        make_caller: MakeCaller,
        *,
        ttl: float = CONFIG_TTL_SECONDS,
        now: Callable[[], float] = time.monotonic,
    ) -> None:
        self._id = config_id
        self._configs = configs
        self._box = box
        self._make = make_caller
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
            kind = config.authentication.get("type")
            try:
                clear = config.model_copy(
                    update={"authentication": open_authentication(config.authentication, self._box)}
                )
                authenticator = authenticator_for(clear.authentication)
            except UnreadableSecret as exc:
                return CallResult.refused(f"executor configuration {config.name!r}: {exc}", UNREADABLE_SECRET)
            except NotImplementedError:
                return CallResult.refused(
                    f"authentication type {kind!r} is not supported yet", UNSUPPORTED_AUTHENTICATION_TYPE
                )
            except ValueError as exc:  # messages name fields, never values
                return CallResult.refused(
                    f"executor configuration {config.name!r}: {exc}", INVALID_AUTHENTICATION_FIELD
                )
            self.current = self._make(clear, authenticator)
        return self.current

    async def _config(self) -> ExecutorConfig | None:
        now = self._now()
        if self._fetched is None or now - self._fetched[1] > self._ttl:
            self._fetched = (await self._configs.get(self._id), now)
        return self._fetched[0]
