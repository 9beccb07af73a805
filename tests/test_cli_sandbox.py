"""``flowker serve --sandbox`` as a new user runs it: README.md's "A first workflow", taken from the README
by this test (not copied into it) and run with bash against a real ``flowker serve --sandbox`` process."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.serve import FLOWKER, Serve, serve_env

ROOT = Path(__file__).resolve().parents[1]
SECTION = "## A first workflow"
#: The README's address of the service; the test's serve listens on a free port instead.
README_ORIGIN = "http://127.0.0.1:4021"


def first_workflow_blocks() -> list[str]:
    """The ``sh`` blocks of the README's first-workflow section, in order."""
    text = (ROOT / "README.md").read_text()
    start = text.index(SECTION + "\n")
    end = text.index("\n## ", start + len(SECTION))
    return re.findall(r"^```sh\n(.*?)^```$", text[start:end], flags=re.S | re.M)


@pytest.fixture
def ray_tmp() -> Iterator[str]:
    # Ray's socket paths must stay under 107 bytes: pytest's tmp_path is too deep for them.
    path = tempfile.mkdtemp(prefix="fk-ray-", dir="/tmp")
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _get(url: str, key: str) -> Any:
    request = urllib.request.Request(url, headers={"X-API-Key": key})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def test_the_readme_starts_the_sandbox_then_needs_no_placeholder() -> None:
    serve, *commands = first_workflow_blocks()
    assert serve.split() == [".venv/bin/flowker", "serve", "--sandbox"]
    assert commands, "no commands after the serve block"
    for block in commands:
        assert not re.search(r"<[a-z][a-z -]*>", block), "a <placeholder> to edit by hand"
        assert README_ORIGIN in block or "$API" in block


def test_sandbox_mode_is_refused_in_production_with_one_line(tmp_path: Path) -> None:
    env = serve_env(tmp_path / "data", "/tmp", FLOWKER_ENV="production", FLOWKER_TRUSTED_PROXIES="10.0.0.1")
    for args, extra in ((["--sandbox"], {}), ([], {"FLOWKER_SANDBOX": "1"})):
        result = subprocess.run(
            [*FLOWKER, "serve", *args], env={**env, **extra}, capture_output=True, text=True, timeout=60
        )
        assert result.returncode == 2, result.stderr
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and "sandbox" in lines[0] and "refused in production" in lines[0], lines
    assert not (tmp_path / "data").exists() or not any((tmp_path / "data").iterdir())


@pytest.mark.ray  # flowker serve starts a Ray cluster of its own
def test_the_readme_first_workflow_completes_against_flowker_serve_sandbox(
    tmp_path: Path, ray_tmp: str
) -> None:
    serve_block, *commands = first_workflow_blocks()
    # The README runs in the directory it was started from: ./.flowker is the data directory.
    data_dir = tmp_path / ".flowker"
    args = serve_block.split()[2:]
    serve = Serve(serve_env(data_dir, ray_tmp), tmp_path / "serve.log", args)
    try:
        banner = serve.banner()
        log = serve.log.read_text()
        assert f"Sandbox: on, simulated providers at {banner['url']}/sandbox" in log
        assert re.search(
            r"Sandbox configurations: sandbox-kyc \(created, id [0-9a-f-]{36}\); sandbox-aml \(created, id "
            r"[0-9a-f-]{36}\); sandbox-tracer \(created, id [0-9a-f-]{36}\); sandbox-midaz \(created, id "
            r"[0-9a-f-]{36}\); sandbox-http \(created, id ",
            log,
        ), log
        # The blocks run in one shell, as a user pastes them one after another; a marker after each
        # separates what each printed.
        script = "set -euo pipefail\n" + "".join(
            b.replace(README_ORIGIN, banner["url"]) + f'\necho "@@block {n}@@"\n'
            for n, b in enumerate(commands)
        )
        script += 'echo "EXEC_ID=$EXEC_ID"\n'
        ran = subprocess.run(
            ["bash", "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=120
        )
        assert ran.returncode == 0, ran.stdout + ran.stderr
        outputs, execution_id = ran.stdout.rsplit("EXEC_ID=", 1)
        execution_id = execution_id.strip()
        first, template = (outputs.split(f"@@block {n}@@")[0].split(f"@@block {n - 1}@@")[-1] for n in (0, 1))
        # What the README says each block's last command prints.
        summary = json.loads(first[first.index("{") :])
        assert summary == {"status": "completed", "finalOutput": {"decision": "approved"}}
        assert json.loads(template.strip().splitlines()[-1]) == {
            "status": "completed",
            "steps": ["tracer-validate", "decision-check", "midaz-create-tx"],
        }

        key = (data_dir / "api-key").read_text().strip()
        results = _get(f"{banner['url']}/v1/executions/{execution_id}/results", key)
        assert results["status"] == "completed"
        assert [(s["nodeId"], s["status"]) for s in results["stepResults"]] == [
            ("kyc", "completed"),
            ("risk", "completed"),
            ("aml", "completed"),
            ("approve", "completed"),
        ]
        assert results["stepResults"][0]["output"] == {"result": {"customerId": "CUST-001", "riskScore": 25}}
        assert results["stepResults"][2]["output"]["body"]["amlStatus"] == "cleared"
    finally:
        assert serve.stop() == 0
    # The front door and the executor actors reached exactly their own sandbox: no loopback warning.
    assert "loopback address" not in serve.log.read_text()

    # A second start (on another free port) creates nothing; the untouched configurations follow it.
    first_url = banner["url"]
    again = Serve(serve_env(data_dir, ray_tmp), tmp_path / "serve2.log", args)
    try:
        banner = again.banner()
        log = again.log.read_text()
        assert f"sandbox-kyc (moved from {first_url}/sandbox/kyc" in log, log
        assert f"sandbox-aml (moved from {first_url}/sandbox/aml" in log and "created" not in log
        assert f"sandbox-tracer (moved from {first_url}/sandbox/tracer" in log
        assert f"sandbox-midaz (moved from {first_url}/sandbox/midaz/onboarding" in log
        assert f"sandbox-http (moved from {first_url}/sandbox/kyc" in log
        key = (data_dir / "api-key").read_text().strip()
        providers = _get(f"{banner['url']}/v1/provider-configurations?limit=100", key)["items"]
        assert sorted((c["name"], c["config"].get("base_url")) for c in providers) == [
            ("sandbox-http", f"{banner['url']}/sandbox/kyc"),
            ("sandbox-midaz", None),
            ("sandbox-tracer", f"{banner['url']}/sandbox/tracer"),
        ]
        for config in providers:
            with urllib.request.urlopen(
                urllib.request.Request(
                    f"{banner['url']}/v1/provider-configurations/{config['id']}/test",
                    method="POST",
                    headers={"X-API-Key": key},
                ),
                timeout=30,
            ) as response:
                assert json.loads(response.read())["overallStatus"] == "passed", config["name"]
        items = _get(f"{banner['url']}/v1/executors?limit=100", key)["items"]
        assert sorted((c["name"], c["baseUrl"]) for c in items) == [
            ("sandbox-aml", f"{banner['url']}/sandbox/aml"),
            ("sandbox-kyc", f"{banner['url']}/sandbox/kyc"),
        ]
    finally:
        assert again.stop() == 0
