"""``python -m bench``: every scenario on this machine, a table on stdout, JSON with ``--json FILE``.

``python -m bench soak`` is the memory soak instead (:mod:`bench.soak`).

Progress lines go to stderr. Every child process is stopped at the end, also after an error, Ctrl-C
or SIGTERM. The exit code is 0 when every scenario ran (whatever the verdicts), 1 when one failed,
130 when interrupted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import shutil
import signal
import sys
import tempfile
import traceback
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from bench import report, scenarios
from bench.config import SCENARIOS, BenchConfig, note
from bench.processes import stop_all

Step = Callable[[BenchConfig, Path], Awaitable[Any]]
#: Each step of a repeat, in order; ``throughput`` serves four scenarios with one Flowker service.
STEPS: tuple[tuple[str, Step], ...] = (
    ("throughput", scenarios.throughput),
    ("audit", scenarios.audit),
    ("waiting", scenarios.waiting),
)


def step_scenarios(step: str) -> tuple[str, ...]:
    """The scenarios a step measures."""
    return ("baseline", "w3", "start", "overhead") if step == "throughput" else (step,)


def parse(argv: list[str] | None = None) -> tuple[BenchConfig, Path | None, bool]:
    """The run the command line asks for, where to write JSON, and whether to keep the logs."""
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Run Flowker's benchmark scenarios here; print a table.",
        epilog="python -m bench soak [--help]: the memory soak (50,000 executions; see bench/README.md).",
    )
    parser.add_argument("--quick", action="store_true", help="small counts, one run each (a minute or two)")
    parser.add_argument("--repeat", type=int, help="runs per scenario, median reported (default 3; quick 1)")
    parser.add_argument("--json", type=Path, help="also write every figure and raw result to this file")
    parser.add_argument("--only", help=f"comma-separated scenarios out of {','.join(SCENARIOS)}")
    parser.add_argument("--concurrency", type=int, default=64, help="requests in flight (default 64)")
    parser.add_argument("--count", type=int, help="measured requests per load run (default 3000; quick 300)")
    parser.add_argument("--keep", action="store_true", help="keep the logs and data directories of the run")
    args = parser.parse_args(argv)
    only = tuple(s.strip() for s in (args.only or "").split(",") if s.strip())
    unknown = sorted(set(only) - set(SCENARIOS))
    if unknown:
        parser.error(f"unknown scenario(s) {', '.join(unknown)}; choose from {', '.join(SCENARIOS)}")
    for name in ("repeat", "concurrency", "count"):
        value = getattr(args, name)
        if value is not None and value < 1:
            parser.error(f"--{name} must be at least 1")
    if not args.quick and args.repeat == 1:
        parser.error("a full run reports medians of several runs: --repeat must be at least 2 (or --quick)")
    config = BenchConfig.make(
        quick=args.quick, repeat=args.repeat, only=only, concurrency=args.concurrency, count=args.count
    )
    return config, args.json, args.keep


async def run(config: BenchConfig, workdir: Path) -> list[dict[str, Any]]:
    """Every repeat of every scenario; a failed scenario is recorded and the others still run."""
    runs: list[dict[str, Any]] = []
    for index in range(1, config.repeat + 1):
        note(f"run {index}/{config.repeat}")
        results: dict[str, Any] = {"failures": []}
        here = workdir / f"run-{index}"
        here.mkdir()
        for name, step in STEPS:
            if not config.wants(*step_scenarios(name)):
                continue
            try:
                outcome = await step(config, here)
            except Exception as exc:
                note(f"{name} failed: {exc}")
                traceback.print_exc(file=sys.stderr)
                first_line = (str(exc) or repr(exc)).splitlines()[0]
                results["failures"].append(f"{name} failed: {first_line}")
                continue
            if name == "throughput":
                results.update(outcome)
            else:
                results[name] = outcome
        runs.append(results)
    return runs


async def main_async(config: BenchConfig, keep: bool) -> tuple[list[dict[str, Any]], bool]:
    """Run, always stop every child, keep the logs only when something failed; the runs and that."""
    workdir = Path(tempfile.mkdtemp(prefix="flowker-bench-"))
    task = asyncio.current_task()
    assert task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    runs: list[dict[str, Any]] = []
    interrupted = False
    try:
        runs = await run(config, workdir)
    except (asyncio.CancelledError, KeyboardInterrupt):
        interrupted = True
        raise
    finally:
        stop_all()
        failed = any(run["failures"] for run in runs) or not runs
        if keep or (failed and not interrupted):
            note(f"logs kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return runs, failed


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["soak"]:
        from bench import soak

        return soak.main(argv[1:])
    config, json_file, keep = parse(argv)
    info = report.machine()
    try:
        runs, failed = asyncio.run(main_async(config, keep))
    except (KeyboardInterrupt, asyncio.CancelledError):
        with contextlib.suppress(Exception):
            stop_all()
        print("interrupted; every child process was stopped", file=sys.stderr)
        return 130
    rows = report.figures(config, runs)
    print(report.describe(info, config))
    print()
    print(report.table(rows))
    notes = report.log_notes(runs)
    if notes:
        print()
        print("\n".join(notes))
    if json_file:
        json_file.write_text(json.dumps(report.document(info, config, rows, runs), indent=2) + "\n")
        note(f"wrote {json_file}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
