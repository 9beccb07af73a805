"""``flowker serve`` as a user runs it: a real process, a real local Ray, real HTTP."""

from __future__ import annotations

import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from flowker.cli import api_keys_for
from flowker.errors import ConfigError
from flowker.settings import Settings

FLOWKER = [sys.executable, "-m", "flowker"]


@pytest.fixture
def ray_tmp() -> Iterator[str]:
    # Ray's socket paths must stay under 107 bytes: pytest's tmp_path is too deep for them.
    path = tempfile.mkdtemp(prefix="fk-ray-", dir="/tmp")
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _env(tmp_path: Path, ray_tmp: str = "/tmp", **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FLOWKER_", "RAY_ADDRESS"))}
    env.update(FLOWKER_DATA_DIR=str(tmp_path / "data"), FLOWKER_PORT="0", RAY_TMPDIR=ray_tmp)
    env.update(extra)
    return env


def _read_banner(process: subprocess.Popen[str], deadline: float) -> dict[str, str]:
    lines: dict[str, str] = {}
    assert process.stdout is not None
    while "Ray dashboard" not in lines:
        assert time.monotonic() < deadline, f"no banner; got {lines}"
        line = process.stdout.readline()
        assert line, f"serve exited early with {process.wait()}; got {lines}"
        if ":" in line:
            head, _, rest = line.partition(":")
            lines[head.strip()] = rest.strip()
        if line.startswith("Flowker "):
            lines["url"] = line.split()[-1]
    return lines


def _get(url: str, key: str | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(url, headers={"X-API-Key": key} if key else {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_serve_prints_where_it_listens_its_key_and_dashboard_then_stops_on_sigterm(
    tmp_path: Path, ray_tmp: str
) -> None:
    process = subprocess.Popen(
        [*FLOWKER, "serve"],
        env=_env(tmp_path, ray_tmp),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        banner = _read_banner(process, time.monotonic() + 90)
        url = banner["url"]
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", url)
        key = banner["API key"].split()[0]
        key_file = tmp_path / "data" / "api-key"
        assert key_file.read_text().strip() == key
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
        assert stat.S_IMODE((tmp_path / "data" / "secret.key").stat().st_mode) == 0o600
        assert banner["Ray dashboard"].startswith("http://127.0.0.1:")

        assert _get(url + "/health")[0] == 200
        status, body = _get(url + "/readyz")
        assert status == 200 and b'"ray":{"status":"up"' in body
        assert _get(url + "/v1/workflows")[0] == 401
        assert _get(url + "/v1/workflows", key)[0] == 200
    finally:
        process.send_signal(signal.SIGTERM)
        out, _ = process.communicate(timeout=60)
    assert process.returncode == 0
    assert "Stopped" in out


@pytest.mark.parametrize(
    ("variable", "value", "reason"),
    [
        ("FLOWKER_PORT", "http", "FLOWKER_PORT='http' is not a whole number"),
        ("FLOWKER_PORT", "70000", "FLOWKER_PORT=70000 is outside 0..65535"),
        ("FLOWKER_API_KEYS", "short", "FLOWKER_API_KEYS: key #1 is shorter than 16 characters"),
        ("FLOWKER_CORS_ALLOWED_ORIGINS", "example.com", "is not an http(s) origin"),
        ("FLOWKER_SECRET_KEY", "not-base64-of-32-bytes", "FLOWKER_SECRET_KEY"),
    ],
)
def test_invalid_configuration_exits_non_zero_with_one_line(
    tmp_path: Path, variable: str, value: str, reason: str
) -> None:
    result = subprocess.run(
        [*FLOWKER, "serve"],
        env=_env(tmp_path, **{variable: value}),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("flowker: ") and reason in lines[0], result.stderr


def test_generated_key_is_kept_across_starts(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    first, _ = api_keys_for(settings)
    second, note = api_keys_for(settings)
    assert first == second and len(first[0]) >= 32 and first[0] in note


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
