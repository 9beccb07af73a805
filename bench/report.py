"""The figures of a run: medians over its repeats, checked against the budgets, printed as a table.

Each figure is computed in every repeat, then the median is reported (errors: the worst repeat);
a ratio is taken within each repeat, where Flowker and the baseline shared the machine, then its median.
"""

from __future__ import annotations

import importlib.metadata
import math
import os
import platform
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench import cpu
from bench.config import BenchConfig
from bench.memory import psutil
from bench.stats import median
from bench.w3 import STEPS

Run = dict[str, Any]
Pick = Callable[[Run], float | None]

#: Budgets on this machine (issue 14, "Budgets on this machine"; /work/shared/design/architecture.md).
W3_MIN_RATIO = 0.25
W3_SERIAL_P50_MAX_MS = 8.0
STEP_OVERHEAD_MAX_MS = 5.0
START_P99_MAX_MS = 50.0
AUDIT_MIN_EVENTS_PER_S = 10_000.0
WAITING_MAX_KB = 100.0

#: The rows of CPU per W3 execution: the label and the kind (or total) of :func:`bench.cpu.summary`,
#: and the relay run's figure shown beside it, where there is one to compare.
CPU_ROWS: tuple[tuple[str, str, str | None], ...] = (
    ("front door", cpu.FRONT_DOOR, None),
    ("supervisors (sum)", cpu.SUPERVISORS, None),
    ("executor actors", cpu.EXECUTORS, None),
    ("audit actor", cpu.AUDIT, None),
    ("other actors", cpu.OTHER_ACTORS, None),
    ("Ray raylet", cpu.RAYLET, None),
    ("Ray gcs_server", cpu.GCS, None),
    ("Ray's other processes", cpu.RAY_OTHERS, None),
    ("Flowker + Ray (vs the relay)", "service", cpu.RELAY),
    ("stub provider", cpu.STUB, cpu.STUB),
    ("load generator", cpu.LOAD, cpu.LOAD),
    ("total", "total", "total"),
)
#: At concurrency 1, only the sums.
CPU_SERIAL_ROWS = tuple(row for row in CPU_ROWS if row[1] in ("service", "total"))


@dataclass(frozen=True)
class Figure:
    """One row of the table."""

    figure: str
    flowker: str
    baseline: str
    ratio: str
    budget: str
    verdict: str
    #: The numbers behind the row: the median Flowker and baseline values and the median ratio.
    values: dict[str, float | None]


def machine() -> dict[str, Any]:
    """Cores, memory, CPU model, load and the versions that matter."""
    model = "unknown"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.partition(":")[2].strip()
                break
    return {
        "cores": os.cpu_count(),
        "memoryBytes": psutil.virtual_memory().total,
        "cpu": model,
        "loadAverage": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
        "ray": _version("ray"),
        "aiohttp": _version("aiohttp"),
        "flowker": _version("flowker"),
    }


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def _get(*path: str | int) -> Pick:
    """A picker of ``run[path[0]][path[1]]…``; ``None`` when any part is missing."""

    def pick(run: Run) -> float | None:
        value: Any = run
        for key in path:
            try:
                value = value[key]
            except (KeyError, IndexError, TypeError):
                return None
        return value

    return pick


def _audit(size: int, field: str) -> Pick:
    def pick(run: Run) -> float | None:
        found = [r for r in run.get("audit") or [] if r["size"] == size]
        return found[0][field] if found else None

    return pick


def _overhead(run: Run) -> float | None:
    flowker = _get("w3Serial", "latencyMs", "p50")(run)
    baseline = _get("baselineSerial", "latencyMs", "p50")(run)
    return None if flowker is None or baseline is None else (flowker - baseline) / STEPS


def _ratio(flowker: Pick, baseline: Pick) -> Pick:
    def pick(run: Run) -> float | None:
        f, b = flowker(run), baseline(run)
        return f / b if f is not None and b else None

    return pick


def _worst(values: list[float | None], higher_is_worse: bool = True) -> float | None:
    measured = [v for v in values if v is not None]
    if not measured:
        return None
    return max(measured) if higher_is_worse else min(measured)


def _fmt(value: float | None, unit: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if unit == "/s":
        return f"{value:,.0f}/s"
    if unit == "x":
        return f"{value:.2f}x"
    if unit == "":
        return f"{value:,.0f}"
    if unit == "cpu ms":
        return f"{value:,.2f} ms"
    return f"{value:,.1f} {unit}"


def _sum(*picks: Pick) -> Pick:
    """A picker of the sum of what ``picks`` pick; ``None`` when any is missing."""

    def pick(run: Run) -> float | None:
        values = [p(run) for p in picks]
        return None if any(v is None for v in values) else sum(v for v in values if v is not None)

    return pick


def _row(
    runs: list[Run],
    figure: str,
    unit: str,
    flowker: Pick,
    baseline: Pick | None = None,
    budget: str = "",
    passes: Callable[[float | None, float | None], bool] | None = None,
    worst: bool = False,
) -> Figure:
    """A numeric row: medians over ``runs`` (the worst value when ``worst``), checked by ``passes``.

    The ratio to the baseline is given for medians only: a ratio of error counts means nothing.
    """
    combine: Callable[[list[float | None]], float | None] = _worst if worst else median
    measured = [flowker(r) for r in runs]
    f = combine(measured)
    b = combine([baseline(r) for r in runs]) if baseline else None
    compared = baseline is not None and not worst
    ratio = median([_ratio(flowker, baseline)(r) for r in runs]) if compared else None
    if passes is None:
        verdict = ""
    elif f is None:
        verdict = "n/a"
    else:
        verdict = "pass" if passes(f, ratio) else "FAIL"
    # A figure that some runs failed to measure says from how many it comes.
    count = sum(1 for value in measured if value is not None)
    partial = f" ({count}/{len(runs)} runs)" if 0 < count < len(runs) else ""
    return Figure(
        figure,
        _fmt(f, unit) + partial,
        _fmt(b, unit) if baseline else "",
        _fmt(ratio, "x") if compared else "",
        budget,
        verdict,
        {"flowker": f, "baseline": b, "ratio": ratio},
    )


def _at_least(limit: float) -> Callable[[float | None, float | None], bool]:
    return lambda value, _ratio: value is not None and value >= limit


def _at_most(limit: float) -> Callable[[float | None, float | None], bool]:
    return lambda value, _ratio: value is not None and value <= limit


def figures(config: BenchConfig, runs: list[Run]) -> list[Figure]:
    """Every figure the scenarios of ``config`` measured."""
    c = config.concurrency
    rows: list[Figure] = []
    if config.wants("w3", "baseline"):
        rows.append(
            _row(
                runs,
                f"W3 completed executions/s (c={c})",
                "/s",
                _get("w3", "rate"),
                _get("baseline", "rate"),
                budget=f">= {W3_MIN_RATIO}x baseline",
                passes=lambda _value, ratio: ratio is not None and ratio >= W3_MIN_RATIO,
            )
        )
        for q in ("p50", "p95", "p99"):
            flowker, baseline = _get("w3", "latencyMs", q), _get("baseline", "latencyMs", q)
            rows.append(_row(runs, f"W3 latency {q} (c={c})", "ms", flowker, baseline))
        rows.append(
            _row(
                runs,
                f"W3 errors (c={c}, worst run)",
                "",
                _get("w3", "errors"),
                _get("baseline", "errors"),
                budget="0",
                passes=_at_most(0),
                worst=True,
            )
        )
        if config.wants("w3"):
            rows += _cpu_rows(runs, f"CPU per W3 execution (c={c})", "w3", "baseline", CPU_ROWS)
    if config.wants("start"):
        # Probes, one every 50 ms, while W3 runs at c: what a client starting an execution waits.
        start = f"start latency {{}} (201 without waiting, 20/s, W3 at c={c} running)"
        rows.append(_row(runs, start.format("p50"), "ms", _get("start", "latencyMs", "p50")))
        rows.append(
            _row(
                runs,
                start.format("p99"),
                "ms",
                _get("start", "latencyMs", "p99"),
                budget=f"<= {START_P99_MAX_MS:.0f} ms",
                passes=_at_most(START_P99_MAX_MS),
            )
        )
        # A flood of starts: its latency is c over its rate (Little's law), so the rate is the figure.
        rows.append(_row(runs, f"starts/s without waiting (flood, c={c})", "/s", _get("startFlood", "rate")))
        rows.append(
            _row(runs, f"start flood latency p99 (c={c})", "ms", _get("startFlood", "latencyMs", "p99"))
        )
        rows.append(
            _row(
                runs,
                f"start errors (c={c}, worst run)",
                "",
                _sum(_get("start", "errors"), _get("startFlood", "errors")),
                budget="0",
                passes=_at_most(0),
                worst=True,
            )
        )
    if config.wants("overhead"):
        rows.append(
            _row(
                runs,
                "W3 latency p50 (c=1)",
                "ms",
                _get("w3Serial", "latencyMs", "p50"),
                _get("baselineSerial", "latencyMs", "p50"),
                budget=f"<= {W3_SERIAL_P50_MAX_MS:.0f} ms",
                passes=_at_most(W3_SERIAL_P50_MAX_MS),
            )
        )
        rows.append(
            _row(
                runs,
                f"per-step overhead p50 ({STEPS} steps)",
                "ms",
                _overhead,
                budget=f"<= {STEP_OVERHEAD_MAX_MS:.0f} ms",
                passes=_at_most(STEP_OVERHEAD_MAX_MS),
            )
        )
        rows += _cpu_rows(runs, "CPU per W3 execution (c=1)", "w3Serial", "baselineSerial", CPU_SERIAL_ROWS)
    if config.wants("w3", "overhead", "start"):
        # Flowker's: the front door, supervisors, executor actors and audit actor (bench/README.md).
        for label, total in (("Flowker's processes", "flowker"), ("Ray's own processes", "ray")):
            rows.append(_row(runs, f"CPU while idle: {label}", "ms/s", _get("idleCpu", "ms", total)))
    if config.wants("audit"):
        for size in config.audit_sizes:
            rows.append(
                _row(
                    runs,
                    f"audit events/s ({size}/call)",
                    "/s",
                    _audit(size, "eventsPerSecond"),
                    budget=f">= {AUDIT_MIN_EVENTS_PER_S:,.0f}/s",
                    passes=_at_least(AUDIT_MIN_EVENTS_PER_S),
                )
            )
        rows.append(_verified(runs, config))
    if config.wants("waiting"):
        rows.append(
            _row(
                runs,
                f"memory per waiting execution (PSS, {config.waiting})",
                "KB",
                _get("waiting", "kbPerExecution"),
                budget=f"<= {WAITING_MAX_KB:.0f} KB",
                passes=_at_most(WAITING_MAX_KB),
            )
        )
        rows.append(_completed(runs, config))
    return rows


def _cpu_rows(
    runs: list[Run], title: str, run: str, baseline_run: str, rows: tuple[tuple[str, str, str | None], ...]
) -> list[Figure]:
    """CPU ms per execution of ``run`` per kind, beside ``baseline_run``'s per request where it compares.

    "Other actors" get a row only when some run saw one (an actor class this harness does not know).
    """
    out = []
    for label, kind, baseline in rows:
        flowker = _get(run, "cpu", "ms", kind)
        if kind == cpu.OTHER_ACTORS and not any(_get(run, "cpu", "seconds", kind)(r) for r in runs):
            continue
        base = _get(baseline_run, "cpu", "ms", baseline) if baseline else None
        out.append(_row(runs, f"{title}: {label}", "cpu ms", flowker, base))
    return out


def _verified(runs: list[Run], config: BenchConfig) -> Figure:
    checks = [r for run in runs for r in run.get("audit") or []]
    expected = len(runs) * len(config.audit_sizes)
    valid = sum(1 for r in checks if r["valid"])
    if not checks:
        return Figure("audit chain verified", "n/a", "", "", "valid", "n/a", {"flowker": None})
    events = max(r["checked"] for r in checks)
    text = f"{valid}/{expected} chains valid ({events:,} events)"
    verdict = "pass" if valid == expected else "FAIL"
    return Figure("audit chain verified", text, "", "", "valid", verdict, {"flowker": valid})


def _completed(runs: list[Run], config: BenchConfig) -> Figure:
    done = [_get("waiting", "completed")(run) for run in runs]
    worst = _worst(done, higher_is_worse=False)
    text = "n/a" if worst is None else f"{worst:.0f}/{config.waiting}"
    verdict = "n/a" if worst is None else ("pass" if worst >= config.waiting else "FAIL")
    name = "waiting executions completed (worst run)"
    return Figure(name, text, "", "", "all", verdict, {"flowker": worst})


def table(rows: list[Figure]) -> str:
    """The rows as an aligned text table."""
    header = ("figure", "Flowker", "baseline", "ratio", "budget", "verdict")
    cells = [header, *[(r.figure, r.flowker, r.baseline, r.ratio, r.budget, r.verdict) for r in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]

    def line(row: tuple[str, ...]) -> str:
        first = row[0].ljust(widths[0])
        rest = [cell.rjust(width) for cell, width in zip(row[1:], widths[1:], strict=True)]
        return "  ".join([first, *rest]).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(header), rule, *(line(row) for row in cells[1:])])


def describe(info: dict[str, Any], config: BenchConfig) -> str:
    """The lines above the table: the machine and what was run."""
    memory = info["memoryBytes"] / 2**30
    load = " ".join(f"{x:.2f}" for x in info["loadAverage"])
    mode = "quick" if config.quick else "full"
    runs = "1 run" if config.repeat == 1 else f"median of {config.repeat} runs"
    return "\n".join(
        [
            f"Machine: {info['cores']} cores, {info['cpu']}, {memory:.1f} GiB memory, load average {load}",
            f"Python {info['python']}, Ray {info['ray']}, aiohttp {info['aiohttp']},"
            f" Flowker {info['flowker']}",
            f"Mode: {mode}, {runs} per figure; {config.count} requests per load run at concurrency"
            f" {config.concurrency} after {config.warmup} warm-up; scenarios: {', '.join(config.scenarios)}",
        ]
    )


def log_notes(runs: list[Run]) -> list[str]:
    """Lines about errors Flowker logged while it was measured."""
    notes: list[str] = []
    for index, run in enumerate(runs, 1):
        logs = (("throughput", run.get("serviceLog")), ("waiting", _get("waiting", "serviceLog")(run)))
        for scenario, log in logs:
            if log and log["count"]:
                notes.append(f"run {index}, {scenario}: flowker serve logged {log['count']} error lines:")
                notes += [f"    {sample}" for sample in log["samples"]]
        if _get("start", "underLoad")(run) is False:
            notes.append(f"run {index}: the W3 load ended before the start probes did")
        if run.get("startDrained") is False:
            notes.append(f"run {index}: executions of the start scenario were still unfinished at its end")
        if _get("waiting", "allEnded")(run) is False:
            notes.append(f"run {index}: waiting executions were still unfinished at the scenario's end")
        for failure in run.get("failures", []):
            notes.append(f"run {index}: {failure}")
    return notes


def document(
    info: dict[str, Any], config: BenchConfig, rows: list[Figure], runs: list[Run]
) -> dict[str, Any]:
    """What ``--json`` writes: the machine, the settings, the figures and every run's raw results."""
    return {"machine": info, "config": asdict(config), "figures": [asdict(r) for r in rows], "runs": runs}
