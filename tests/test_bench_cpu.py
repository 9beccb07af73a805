"""The benchmark's CPU accounting (bench/cpu.py) and the rows the table makes of it (bench/report.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Any

import pytest

from bench import cpu, report, scenarios
from bench.config import BenchConfig

S = cpu.Seen


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("ray::SupervisorActor", cpu.SUPERVISORS),
        ("ray::ExecutorActor", cpu.EXECUTORS),
        ("ray::AuditActor", cpu.AUDIT),
        ("ray::ChannelActor", cpu.OTHER_ACTORS),
        ("ray::IDLE", cpu.RAY_OTHERS),
        ("ray::JobSupervisor", cpu.RAY_OTHERS),
        ("ray::DashboardAgent", cpu.RAY_OTHERS),
        ("ray::RuntimeEnvAgent", cpu.RAY_OTHERS),
        ("ray::_StatsActor", cpu.RAY_OTHERS),
        ("raylet --raylet_socket_name=/tmp/x", cpu.RAYLET),
        ("gcs_server --log_dir=/tmp/x", cpu.GCS),
        ("python dashboard.py --host=127.0.0.1", cpu.RAY_OTHERS),
        ("", cpu.RAY_OTHERS),
    ],
)
def test_kind_of_a_descendant_of_the_service(name: str, kind: str) -> None:
    assert cpu.kind_of(name) == kind


def test_usage_is_the_difference_per_kind_and_counts_processes_that_came_and_went() -> None:
    before = {1: S(cpu.FRONT_DOOR, 10), 2: S(cpu.SUPERVISORS, 4), 3: S(cpu.SUPERVISORS, 1), 9: S("x", 1)}
    after = {
        1: S(cpu.FRONT_DOOR, 12.5),
        2: S(cpu.SUPERVISORS, 5.0),
        3: S(cpu.SUPERVISORS, 1.5),
        # Started inside the window: counted from zero.
        4: S(cpu.EXECUTORS, 0.25),
        # The pid of an ended process, reused by another kind: counted anew.
        9: S(cpu.AUDIT, 0.5),
    }
    spent = cpu.usage(before, after)
    assert spent.seconds == {cpu.FRONT_DOOR: 2.5, cpu.SUPERVISORS: 1.5, cpu.EXECUTORS: 0.25, cpu.AUDIT: 0.5}
    assert spent.processes == {cpu.FRONT_DOOR: 1, cpu.SUPERVISORS: 2, cpu.EXECUTORS: 1, cpu.AUDIT: 1}
    assert (spent.started, spent.ended) == (2, 1)


def test_summary_per_unit_with_the_sums_and_the_load_generators_own_figure() -> None:
    spent = cpu.Usage({cpu.FRONT_DOOR: 1.0, cpu.AUDIT: 0.5, cpu.RAYLET: 0.25, cpu.STUB: 0.5})
    figures: dict[str, Any] = cpu.summary(spent, 500, load_seconds=0.75)
    ms = figures["ms"]
    assert ms[cpu.FRONT_DOOR] == 2.0
    assert ms[cpu.LOAD] == 1.5
    assert ms["flowker"] == 3.0
    assert ms["ray"] == 0.5
    assert ms["service"] == 3.5
    assert ms["total"] == 3.5 + 1.0 + 1.5
    assert cpu.summary(spent, 0)["ms"]["total"] is None


def test_a_snapshot_reads_the_service_and_its_descendants_and_the_named_processes() -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        seen = cpu.snapshot(os.getpid(), {child.pid: cpu.STUB, 2**22 + 12345: cpu.RELAY})
    finally:
        child.kill()
        child.wait()
    assert seen[os.getpid()].kind == cpu.FRONT_DOOR
    assert seen[os.getpid()].seconds > 0
    # The named kind wins over the name a descendant would be classified by; a pid that is gone is left out.
    assert seen[child.pid].kind == cpu.STUB
    assert 2**22 + 12345 not in seen


def test_phase_lines_of_the_load_generator() -> None:
    text = '{"phase": "measured"}\n  [w3] progress\n{"phase": "done"}\n{"phase": \n{"completed": 3}\n'
    assert scenarios._phases(text) == ["measured", "done"]


def _run(w3_rate: float, serial_p50: float) -> dict[str, Any]:
    def load(rate: float, p50: float, seconds: dict[str, float], completed: int) -> dict[str, Any]:
        return {
            "rate": rate,
            "errors": 0,
            "latencyMs": {"p50": p50, "p95": p50, "p99": p50},
            "cpu": cpu.summary(cpu.Usage(seconds), completed, load_seconds=0.1),
        }

    flowker = {cpu.FRONT_DOOR: 1.0, cpu.SUPERVISORS: 2.0, cpu.EXECUTORS: 0.5, cpu.AUDIT: 0.2, cpu.STUB: 0.3}
    relay = {cpu.RELAY: 0.3, cpu.STUB: 0.3}
    return {
        "baseline": load(1000.0, 5.0, relay, 1000),
        "w3": load(w3_rate, 20.0, flowker, 1000),
        "baselineSerial": load(500.0, 1.0, relay, 100),
        "w3Serial": load(100.0, serial_p50, flowker, 100),
        "idleCpu": cpu.summary(cpu.Usage({cpu.FRONT_DOOR: 0.5, cpu.RAYLET: 0.2}), 10.0),
    }


def _rows(runs: list[dict[str, Any]]) -> dict[str, report.Figure]:
    config = BenchConfig.make(quick=True, only=("w3", "overhead"))
    return {row.figure: row for row in report.figures(config, runs)}


def test_the_table_checks_issue_14s_budgets() -> None:
    rows = _rows([_run(w3_rate=300.0, serial_p50=7.0)])
    assert rows["W3 completed executions/s (c=64)"].budget == ">= 0.25x baseline"
    assert rows["W3 completed executions/s (c=64)"].verdict == "pass"
    assert rows["W3 latency p50 (c=1)"].budget == "<= 8 ms"
    assert rows["W3 latency p50 (c=1)"].verdict == "pass"
    rows = _rows([_run(w3_rate=200.0, serial_p50=9.0)])
    assert rows["W3 completed executions/s (c=64)"].verdict == "FAIL"
    assert rows["W3 latency p50 (c=1)"].verdict == "FAIL"


def test_the_table_shows_cpu_per_execution_per_kind_beside_the_relay_and_idle_cpu() -> None:
    rows = _rows([_run(w3_rate=300.0, serial_p50=7.0)])
    title = "CPU per W3 execution (c=64)"
    supervisors = rows[f"{title}: supervisors (sum)"]
    assert (supervisors.flowker, supervisors.baseline) == ("2.00 ms", "")
    service = rows[f"{title}: Flowker + Ray (vs the relay)"]
    assert service.values["flowker"] == pytest.approx(3.7)
    assert service.values["baseline"] == pytest.approx(0.3)
    assert service.ratio == "12.33x"
    total = rows[f"{title}: total"]
    assert total.values["flowker"] == pytest.approx(3.7 + 0.3 + 0.1)
    assert total.values["baseline"] == pytest.approx(0.3 + 0.3 + 0.1)
    assert f"{title}: other actors" not in rows
    assert rows["CPU per W3 execution (c=1): Flowker + Ray (vs the relay)"].values["flowker"] == 37.0
    assert rows["CPU while idle: Flowker's processes"].flowker == "50.0 ms/s"
    assert rows["CPU while idle: Ray's own processes"].flowker == "20.0 ms/s"


def test_cpu_rows_say_n_a_when_a_run_measured_none() -> None:
    run = _run(w3_rate=300.0, serial_p50=7.0)
    del run["w3"]["cpu"]
    rows = _rows([run])
    assert rows["CPU per W3 execution (c=64): supervisors (sum)"].flowker == "n/a"


def test_the_start_budget_is_the_probes_p99_under_load_and_the_flood_shows_its_rate() -> None:
    def started(p99: float, rate: float, errors: int) -> dict[str, Any]:
        return {"rate": rate, "errors": errors, "latencyMs": {"p50": p99 / 2, "p95": p99, "p99": p99}}

    config = BenchConfig.make(quick=True, only=("start",))
    run = {"start": started(30.0, 19.0, 0), "startFlood": started(400.0, 160.0, 2)}
    rows = {row.figure: row for row in report.figures(config, [run])}
    probe = rows["start latency p99 (201 without waiting, 20/s, W3 at c=64 running)"]
    assert (probe.flowker, probe.budget, probe.verdict) == ("30.0 ms", "<= 50 ms", "pass")
    assert rows["starts/s without waiting (flood, c=64)"].flowker == "160/s"
    assert rows["start flood latency p99 (c=64)"].verdict == ""
    assert rows["start errors (c=64, worst run)"].verdict == "FAIL"  # the flood's two count too
    run["start"]["underLoad"] = False
    assert any("W3 load ended before" in line for line in report.log_notes([run]))
