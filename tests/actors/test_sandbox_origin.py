"""The outbound guard and Flowker's own sandbox: exactly the serving origin is reached without the
loopback warning, in development mode only; every other local destination is judged as always."""

from __future__ import annotations

import ipaddress
import logging
from pathlib import Path

import pytest

from flowker.actors.config import RuntimeConfig
from flowker.actors.outbound import DestinationRefused, outbound_session
from flowker.domain import outbound as rules
from flowker.domain.outbound import OutboundPolicy
from flowker.settings import Settings
from tests.helpers.stub_provider import StubProvider

LOOPBACK = ipaddress.ip_address("127.0.0.1")


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "flowker.outbound"]


def test_only_the_own_origin_goes_unwarned(caplog: pytest.LogCaptureFixture) -> None:
    policy = OutboundPolicy.of(False, (), ("127.0.0.1", 4021))
    with caplog.at_level(logging.WARNING, logger="flowker.outbound"):
        policy.check_address("127.0.0.1", LOOPBACK, 4021)
        assert policy.refusal("http://127.0.0.1:4021/sandbox/kyc") is None
        assert _warnings(caplog) == []
        policy.check_address("127.0.0.1", LOOPBACK, 4022)  # another port: a local provider like any
        policy.check_address("localhost", LOOPBACK, 4021)  # another name
    assert len(_warnings(caplog)) == 2


def test_production_mode_never_exempts_an_origin() -> None:
    policy = OutboundPolicy.of(True, (), ("127.0.0.1", 4021))
    with pytest.raises(rules.DestinationRefused):
        policy.check_address("127.0.0.1", LOOPBACK, 4021)
    assert policy.refusal("http://127.0.0.1:4021/sandbox/kyc") is not None


def test_the_settings_give_the_origin_once_the_port_is_known(tmp_path: Path) -> None:
    def origin(**kwargs: object) -> tuple[str, int] | None:
        return Settings(data_dir=tmp_path, **kwargs).sandbox_origin  # type: ignore[arg-type]

    assert origin(port=4021) is None  # the sandbox is off
    assert origin(port=0, sandbox=True) is None  # not bound yet
    assert origin(port=4021, sandbox=True) == ("127.0.0.1", 4021)
    assert origin(host="0.0.0.0", port=5000, sandbox=True) == ("127.0.0.1", 5000)
    assert origin(host="::", port=5000, sandbox=True) == ("::1", 5000)
    settings = Settings(data_dir=tmp_path, port=4021, sandbox=True)
    config = RuntimeConfig.from_settings(settings)
    assert config.sandbox_origin == ("127.0.0.1", 4021)
    assert config.outbound().own_origin == ("127.0.0.1", 4021)
    assert RuntimeConfig.from_settings(Settings(data_dir=tmp_path)).outbound().own_origin is None


async def test_connections_to_the_own_origin_are_not_warned_about(caplog: pytest.LogCaptureFixture) -> None:
    async with StubProvider() as own, StubProvider() as other:
        own.route("GET", "/sandbox/kyc", (200, {"ok": True}))
        other.route("GET", "/x", (200, {"ok": True}))
        port = int(own.url.rsplit(":", 1)[1])
        policy = OutboundPolicy.of(False, (), ("127.0.0.1", port))
        with caplog.at_level(logging.WARNING, logger="flowker.outbound"):
            async with outbound_session(policy) as session:
                async with session.get(f"{own.url}/sandbox/kyc") as reply:
                    assert reply.status == 200
                assert _warnings(caplog) == []
                async with session.get(f"{other.url}/x") as reply:
                    assert reply.status == 200
        assert len(_warnings(caplog)) == 1 and "loopback" in _warnings(caplog)[0]
        production = OutboundPolicy.of(True, (), ("127.0.0.1", port))
        async with outbound_session(production) as session:
            with pytest.raises(DestinationRefused):
                await session.get(f"{own.url}/sandbox/kyc")
