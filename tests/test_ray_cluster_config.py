"""``ray-cluster.yaml`` is a Ray cluster launcher configuration that Ray itself accepts: it validates
against the schema Ray ships (``ray/autoscaler/ray-schema.json``), raw and once Ray's launcher has filled
in its defaults, offline. And it does what the README says: installs Flowker from the repository, starts
Ray and ``flowker serve`` on the head, with settings (MongoDB, keys) from ``flowker.env``, not the file."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import ray.autoscaler
import yaml
from ray.autoscaler._private.util import prepare_config, validate_config

from flowker.settings import Settings

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "ray-cluster.yaml"
ENV_EXAMPLE = ROOT / "flowker.env.example"


@pytest.fixture
def config() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(CONFIG.read_text())
    return loaded


def test_it_validates_against_rays_own_schema(config: dict[str, Any]) -> None:
    schema = json.loads((Path(ray.autoscaler.__file__).parent / "ray-schema.json").read_text())
    jsonschema.validate(config, schema)


def test_rays_launcher_accepts_it_with_its_defaults_filled_in(config: dict[str, Any]) -> None:
    prepared = prepare_config(config)
    validate_config(prepared)  # raises on anything the launcher would refuse
    assert prepared["provider"]["type"] == "local"
    assert len(prepared["provider"]["worker_ips"]) == 2
    # A key the schema does not know is refused: the check can fail.
    with pytest.raises(jsonschema.ValidationError):
        validate_config({**prepared, "flowker": True})


def test_it_installs_flowker_from_the_repository_on_every_host(config: dict[str, Any]) -> None:
    assert config["file_mounts"]["~/flowker"] == "."
    assert any("pip install" in c and "~/flowker" in c for c in config["setup_commands"])
    assert (ROOT / "pyproject.toml").exists()


def test_the_head_starts_ray_and_then_a_front_door_that_joins_it(config: dict[str, Any]) -> None:
    commands = config["head_start_ray_commands"]
    ray_start = next(i for i, c in enumerate(commands) if "ray start --head" in c)
    serve = next(i for i, c in enumerate(commands) if "flowker serve" in c)
    assert ray_start < serve
    assert "RAY_ADDRESS=" in commands[serve] and ". ~/flowker.env" in commands[serve]
    assert any("ray start --address=$RAY_HEAD_IP:6379" in c for c in config["worker_start_ray_commands"])


def test_settings_come_from_the_environment_file_never_from_the_config(config: dict[str, Any]) -> None:
    assert config["file_mounts"]["~/flowker.env"] == "./flowker.env"
    assert "flowker.env" in (ROOT / ".gitignore").read_text().split()
    text = CONFIG.read_text()
    for name in ("FLOWKER_MONGO_URI", "FLOWKER_SECRET_KEY", "FLOWKER_AUDIT_SIGNING_KEY", "FLOWKER_API_KEYS"):
        assert f"{name}=" not in text
        assert f"\n{name}=" in ENV_EXAMPLE.read_text()


def test_the_example_environment_file_is_valid_sh_and_valid_settings() -> None:
    shown = subprocess.run(
        ["sh", "-c", f"set -a; . {ENV_EXAMPLE}; env"], capture_output=True, text=True, check=True, env={}
    ).stdout
    env = dict(line.split("=", 1) for line in shown.splitlines() if line.startswith("FLOWKER_"))
    settings = Settings.from_env(env)
    assert settings.mongo_uri is not None and settings.mongo_uri.endswith("&w=majority")
    assert (settings.production, settings.host) == (True, "0.0.0.0")
