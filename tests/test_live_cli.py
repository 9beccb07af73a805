"""The pure parts of ``flowker ps`` and ``flowker executions show``: target, key, and what they print."""

from __future__ import annotations

from pathlib import Path

import pytest

from flowker.live_cli import CliError, api_key, base_url, format_age, format_ps, format_show


def test_the_base_url_comes_from_the_option_the_variable_or_host_and_port() -> None:
    assert base_url("https://f.example/", {}) == "https://f.example"
    assert base_url(None, {"FLOWKER_URL": "http://a:1"}) == "http://a:1"
    assert base_url(None, {"FLOWKER_HOST": "10.0.0.2", "FLOWKER_PORT": "9000"}) == "http://10.0.0.2:9000"
    assert base_url(None, {}) == "http://127.0.0.1:4021"


def test_the_key_comes_from_the_variable_or_the_data_directory(tmp_path: Path) -> None:
    assert api_key(tmp_path, {"FLOWKER_API_KEY": " k1 "}) == "k1"
    (tmp_path / "api-key").write_text("from-file\n")
    assert api_key(tmp_path, {}) == "from-file"
    assert api_key(None, {"FLOWKER_DATA_DIR": str(tmp_path)}) == "from-file"
    with pytest.raises(CliError) as refused:
        api_key(tmp_path / "missing", {})
    assert refused.value.status == 2


def test_ages_read_at_a_glance() -> None:
    assert [format_age(s) for s in (0.4, 59, 60, 187, 3600, 7500)] == [
        "0s",
        "59s",
        "1m00s",
        "3m07s",
        "1h00m",
        "2h05m",
    ]


def test_ps_prints_one_row_per_execution_and_says_when_supervisors_are_missing() -> None:
    item = {
        "executionId": "e1", "workflowId": "w1", "status": "running", "currentStepNumber": 1, "totalSteps": 3,
        "currentNodeIds": ["kyc", "aml"], "supervisor": "supervisor-0", "nodeId": "n", "startedAt": "t",
        "ageSeconds": 75.0,
    }  # fmt: skip
    text = format_ps({"items": [item], "unansweredSupervisors": 1})
    header, row, note = text.splitlines()
    assert header.split() == ["EXECUTION", "WORKFLOW", "STATUS", "STEP", "CALLING", "SUPERVISOR", "AGE"]
    assert row.split() == ["e1", "w1", "running", "1/3", "kyc,aml", "supervisor-0", "1m15s"]
    assert "1 supervisor(s) did not answer" in note
    assert "no execution is running" in format_ps({"items": [], "unansweredSupervisors": 0})


def test_show_prints_the_timeline_of_an_ended_execution() -> None:
    execution = {
        "executionId": "e1", "workflowId": "w1", "status": "failed", "currentStepNumber": 2, "totalSteps": 2,
        "startedAt": "2026-01-01T00:00:00Z", "completedAt": "2026-01-01T00:00:01Z", "errorMessage": "boom",
    }  # fmt: skip
    results = {
        "stepResults": [
            {"stepNumber": 1, "nodeId": "kyc", "status": "completed", "executedAt": "t1", "durationMs": 12},
            {"stepNumber": 2, "nodeId": "aml", "status": "failed", "executedAt": "t2", "durationMs": 30,
             "errorMessage": "HTTP 400"},
        ]
    }  # fmt: skip
    text = format_show(execution, results, None)
    assert "Error      boom" in text and "Ended      2026-01-01T00:00:01Z" in text
    timeline = text.split("Timeline\n", 1)[1].splitlines()
    assert timeline[1].split() == ["1", "kyc", "completed", "t1", "12", "ms"]
    assert timeline[2].split() == ["2", "aml", "failed", "t2", "30", "ms", "HTTP", "400"]
