"""``flowker serve`` as a user runs it: a real process, a real local Ray, real HTTP."""

from __future__ import annotations

import base64
import dataclasses
import http.client
import ipaddress
import re
import shutil
import signal
import socket
import ssl
import stat
import subprocess
import tempfile
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from flowker.cli import api_keys_for, runtime_config
from flowker.errors import ConfigError
from flowker.settings import Settings
from tests.helpers.certs import make_certificates
from tests.helpers.listening import listening_addresses
from tests.helpers.serve import FLOWKER, Serve, serve_env


@pytest.fixture
def ray_tmp() -> Iterator[str]:
    # Ray's socket paths must stay under 107 bytes: pytest's tmp_path is too deep for them.
    path = tempfile.mkdtemp(prefix="fk-ray-", dir="/tmp")
    yield path
    shutil.rmtree(path, ignore_errors=True)


SECRET_KEY = base64.urlsafe_b64encode(b"s" * 32).decode()


def _get(url: str, key: str | None = None, context: ssl.SSLContext | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers={"X-API-Key": key} if key else {})
    try:
        with urllib.request.urlopen(request, timeout=10, context=context) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


@pytest.mark.ray  # flowker serve starts a Ray cluster of its own
def test_serve_prints_where_it_listens_its_key_and_dashboard_then_stops_on_sigterm(
    tmp_path: Path, ray_tmp: str
) -> None:
    serve = Serve(serve_env(tmp_path / "data", ray_tmp), tmp_path / "serve.log")
    try:
        banner = serve.banner()
        url = banner["url"]
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", url)
        key = banner["API key"].split()[0]
        key_file = tmp_path / "data" / "api-key"
        assert key_file.read_text().strip() == key
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
        assert stat.S_IMODE((tmp_path / "data" / "secret.key").stat().st_mode) == 0o600
        assert banner["Ray dashboard"].startswith("http://127.0.0.1:")
        # Nothing listens beyond loopback: the front door, and every process of the Ray it started.
        listening = listening_addresses(serve.process.pid)
        assert listening and all(
            ipaddress.ip_address(a).is_loopback or _mapped_loopback(a) for a in listening
        ), listening

        assert _get(url + "/health")[0] == 200
        status, body = _get(url + "/readyz")
        assert status == 200 and b'"ray":{"status":"up"' in body
        assert _get(url + "/v1/workflows")[0] == 401
        assert _get(url + "/v1/workflows", key)[0] == 200
    finally:
        code = serve.stop(signal.SIGTERM)
    assert code == 0
    assert "Stopped" in serve.log.read_text()


@pytest.mark.ray  # flowker serve starts a Ray cluster of its own
def test_production_mode_serves_https_only_with_hsts(tmp_path: Path, ray_tmp: str) -> None:
    certs = make_certificates(tmp_path / "tls")
    env = serve_env(tmp_path / "data", ray_tmp, FLOWKER_ENV="production")
    serve = Serve(env, tmp_path / "serve.log", ["--tls-cert", str(certs.cert), "--tls-key", str(certs.key)])
    try:
        banner = serve.banner()
        url = banner["url"]
        assert re.fullmatch(r"https://127\.0\.0\.1:\d+", url)
        key = banner["API key"].split()[0]
        request = urllib.request.Request(url + "/v1/workflows", headers={"X-API-Key": key})
        with urllib.request.urlopen(request, timeout=10, context=certs.client_context()) as response:
            assert response.status == 200
            assert response.headers["Strict-Transport-Security"].startswith("max-age=")
        # Plain HTTP to the same port gets no answer: the port speaks TLS only.
        with pytest.raises((urllib.error.URLError, ConnectionError, http.client.HTTPException)):
            _get(url.replace("https://", "http://") + "/health")
    finally:
        code = serve.stop(signal.SIGTERM)
    assert code == 0


def _mapped_loopback(address: str) -> bool:
    mapped = ipaddress.ip_address(address)
    return isinstance(mapped, ipaddress.IPv6Address) and bool(
        mapped.ipv4_mapped and mapped.ipv4_mapped.is_loopback
    )


@pytest.mark.parametrize(
    ("variable", "value", "reason"),
    [
        ("FLOWKER_PORT", "http", "FLOWKER_PORT='http' is not a whole number"),
        ("FLOWKER_PORT", "70000", "FLOWKER_PORT=70000 is outside 0..65535"),
        ("FLOWKER_API_KEYS", "short", "FLOWKER_API_KEYS: key #1 is shorter than 16 characters"),
        ("FLOWKER_CORS_ALLOWED_ORIGINS", "example.com", "is not an http(s) origin"),
        ("FLOWKER_SECRET_KEY", "not-base64-of-32-bytes", "FLOWKER_SECRET_KEY"),
        ("FLOWKER_ENV", "production", "production mode serves HTTPS only"),
        ("FLOWKER_TLS_CERT", "/nonexistent/cert.pem", "TLS needs both a certificate and a key"),
    ],
)
def test_invalid_configuration_exits_non_zero_with_one_line(
    tmp_path: Path, variable: str, value: str, reason: str
) -> None:
    env = serve_env(tmp_path / "data", "/tmp", **{variable: value})
    result = subprocess.run([*FLOWKER, "serve"], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("flowker: ") and reason in lines[0], result.stderr


def test_generated_key_is_kept_across_starts_and_shown_only_when_generated(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    first, first_note = api_keys_for(settings)
    second, note = api_keys_for(settings)
    assert first == second and len(first[0]) >= 32
    assert first[0] in first_note and "shown only this once" in first_note
    assert first[0] not in note and str(tmp_path / "api-key") in note


def test_configured_keys_are_used_and_never_printed(tmp_path: Path) -> None:
    keys = ("k" * 20, "j" * 24)
    accepted, note = api_keys_for(Settings(data_dir=tmp_path, api_keys=keys))
    assert accepted == keys
    assert all(k not in note for k in keys)
    assert not (tmp_path / "api-key").exists()


def test_a_too_short_stored_key_is_refused(tmp_path: Path) -> None:
    (tmp_path / "api-key").write_text("abc\n")
    with pytest.raises(ConfigError, match="shorter than 16"):
        api_keys_for(Settings(data_dir=tmp_path))


def test_the_actors_configuration_is_derived_from_the_settings_and_holds_no_key(tmp_path: Path) -> None:
    settings = Settings.from_env(
        {
            "FLOWKER_DATA_DIR": str(tmp_path),
            "FLOWKER_API_KEYS": "k" * 20,
            "FLOWKER_LEASE_SECONDS": "7",
            "FLOWKER_RETRY_MAX_DELAY_SECONDS": "3",
            "FLOWKER_EXECUTOR_IDLE_SECONDS": "42",
            "FLOWKER_SECRET_KEY": SECRET_KEY,
        }
    )
    config = runtime_config(settings, prefix="p-")
    assert (config.lease_seconds, config.retry_max_delay_seconds, config.executor_idle_seconds) == (7, 3, 42)
    assert (config.supervisors, config.retry_attempts) == (Settings.supervisors, Settings.retry_attempts)
    assert config.data_dir == str(tmp_path.resolve()) and config.prefix == "p-"
    # What actors are created with holds neither an API key nor the secret key (Ray shows arguments).
    shown = repr(dataclasses.asdict(config))
    assert "k" * 20 not in shown and SECRET_KEY not in shown and "secret" not in shown.lower()


def test_the_breaker_settings_are_read_checked_and_reach_the_actors(tmp_path: Path) -> None:
    env = {
        "FLOWKER_DATA_DIR": str(tmp_path),
        "FLOWKER_BREAKER_FAILURE_RATE": "25",
        "FLOWKER_BREAKER_WINDOW_SIZE": "40",
        "FLOWKER_BREAKER_MINIMUM_CALLS": "8",
        "FLOWKER_BREAKER_SLOW_CALL_SECONDS": "2.5",
        "FLOWKER_BREAKER_SLOW_CALL_RATE": "60",
        "FLOWKER_BREAKER_COUNT_RATE_LIMITED": "true",
    }
    config = runtime_config(Settings.from_env(env))
    assert (
        config.breaker_failure_rate_threshold,
        config.breaker_sliding_window_size,
        config.breaker_minimum_calls,
        config.breaker_slow_call_seconds,
        config.breaker_slow_call_rate_threshold,
        config.breaker_count_rate_limited,
    ) == (25.0, 40, 8, 2.5, 60.0, True)
    defaults = Settings.from_env({})
    assert (defaults.breaker_minimum_calls, defaults.breaker_count_rate_limited) == (20, False)
    for variable, value, reason in [
        ("FLOWKER_BREAKER_FAILURE_RATE", "0", "FLOWKER_BREAKER_FAILURE_RATE=0.0 is outside 1.0..100.0"),
        ("FLOWKER_BREAKER_WINDOW_SIZE", "1001", "FLOWKER_BREAKER_WINDOW_SIZE=1001 is outside 1..1000"),
        ("FLOWKER_BREAKER_COUNT_RATE_LIMITED", "maybe", "FLOWKER_BREAKER_COUNT_RATE_LIMITED='maybe' is not"),
    ]:
        with pytest.raises(ConfigError, match=reason):
            Settings.from_env({variable: value})


def test_a_mongodb_that_cannot_be_reached_at_start_stops_serve_with_one_line(tmp_path: Path) -> None:
    """Nothing listens on the port: no server is selectable within the driver's timeout (seconds, no
    hang), the password is not shown, no traceback, and nothing was started."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    uri = f"mongodb://flowker:hunter2-secret@127.0.0.1:{port}/?directConnection=true"
    env = serve_env(tmp_path / "data", "/tmp", FLOWKER_MONGO_URI=uri)
    result = subprocess.run([*FLOWKER, "serve"], env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1, result.stderr
    assert "flowker: the store cannot be reached" in result.stderr
    assert "hunter2-secret" not in result.stderr + result.stdout
    assert "Traceback" not in result.stderr
