"""The audit log's signing key: generated once into the data directory (mode 0600), or configured; its
name must be the log's origin; refusals name the source, never the key; and the settings' bounds."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from flowker.actors.config import RuntimeConfig
from flowker.domain.signed_note import generate_key
from flowker.errors import ConfigError
from flowker.settings import DEFAULT_AUDIT_LOG_ORIGIN, Settings
from flowker.signing_key import SIGNING_KEY_FILE, load_signing_key


def test_generated_once_into_the_data_directory(tmp_path: Path) -> None:
    first = load_signing_key(tmp_path, None, "flowker.local/audit")
    path = tmp_path / SIGNING_KEY_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert first.name == "flowker.local/audit"
    again = load_signing_key(tmp_path, None, "flowker.local/audit")
    assert again.to_text() == first.to_text()


def test_a_configured_key_is_used_and_no_file_is_made(tmp_path: Path) -> None:
    key = generate_key("bank.example/audit")
    loaded = load_signing_key(tmp_path, key.to_text(), "bank.example/audit")
    assert loaded.to_text() == key.to_text()
    assert not (tmp_path / SIGNING_KEY_FILE).exists()


def test_refusals_name_the_source_not_the_key(tmp_path: Path) -> None:
    key = generate_key("other.example/audit")
    with pytest.raises(ConfigError, match=r"FLOWKER_AUDIT_SIGNING_KEY.*origin") as raised:
        load_signing_key(tmp_path, key.to_text(), "flowker.local/audit")
    assert key.to_text() not in str(raised.value)
    # PRIVATE+KEY+<name>+<id>+<base64>: the base64 itself may hold "+", so split off the first four fields.
    secret = key.to_text().split("+", 4)[4]
    with pytest.raises(ConfigError, match="not a signer key") as raised:
        load_signing_key(tmp_path, key.to_text()[:-4], "flowker.local/audit")
    assert secret[:-4] not in str(raised.value)
    # A file of another name (the origin was changed since): refused, naming the file.
    load_signing_key(tmp_path, None, "flowker.local/audit")
    with pytest.raises(ConfigError, match=SIGNING_KEY_FILE):
        load_signing_key(tmp_path, None, "renamed.example/audit")


def test_settings_read_the_audit_variables_with_bounds() -> None:
    key = generate_key("bank.example/audit").to_text()
    settings = Settings.from_env(
        {
            "FLOWKER_AUDIT_SIGNING_KEY": key,
            "FLOWKER_AUDIT_LOG_ORIGIN": "bank.example/audit",
            "FLOWKER_AUDIT_CHECKPOINT_EVENTS": "10",
            "FLOWKER_AUDIT_CHECKPOINT_SECONDS": "5",
            "FLOWKER_AUDIT_CHECKPOINT_FILE": "/var/lib/flowker/checkpoints.txt",
            "FLOWKER_AUDIT_CHECKPOINT_URL": "https://witness.bank.example/add-checkpoint",
        }
    )
    assert (settings.audit_signing_key, settings.audit_log_origin) == (key, "bank.example/audit")
    assert (settings.audit_checkpoint_events, settings.audit_checkpoint_seconds) == (10, 5.0)
    assert key not in repr(settings)
    config = RuntimeConfig.from_settings(settings)
    assert config.audit_checkpoint_file == "/var/lib/flowker/checkpoints.txt"
    assert config.audit_checkpoint_url == "https://witness.bank.example/add-checkpoint"
    assert key not in repr(config) and not hasattr(config, "audit_signing_key")
    defaults = Settings.from_env({})
    assert defaults.audit_log_origin == DEFAULT_AUDIT_LOG_ORIGIN
    assert (defaults.audit_checkpoint_events, defaults.audit_checkpoint_seconds) == (1000, 60.0)
    assert defaults.audit_checkpoint_file is None and defaults.audit_checkpoint_url is None
    for name, value in (
        ("FLOWKER_AUDIT_CHECKPOINT_EVENTS", "0"),
        ("FLOWKER_AUDIT_CHECKPOINT_SECONDS", "0.5"),
        ("FLOWKER_AUDIT_LOG_ORIGIN", "has space"),
        ("FLOWKER_AUDIT_LOG_ORIGIN", "a+b"),
        ("FLOWKER_AUDIT_CHECKPOINT_URL", "witness.example/add"),
        ("FLOWKER_AUDIT_CHECKPOINT_URL", "ftp://witness.example/add"),
        ("FLOWKER_AUDIT_CHECKPOINT_URL", "https:///no-host"),
    ):
        with pytest.raises(ConfigError, match=name):
            Settings.from_env({name: value})


def test_production_sends_checkpoints_to_an_https_url_only() -> None:
    production = {"FLOWKER_ENV": "production", "FLOWKER_TRUSTED_PROXIES": "127.0.0.1"}
    with pytest.raises(ConfigError, match="FLOWKER_AUDIT_CHECKPOINT_URL must be https"):
        Settings.from_env({**production, "FLOWKER_AUDIT_CHECKPOINT_URL": "http://witness.example/add"})
    url = "https://witness.example/add"
    assert Settings.from_env({**production, "FLOWKER_AUDIT_CHECKPOINT_URL": url}).audit_checkpoint_url == url
