"""``python -m bench soak``: does memory come back after tens of thousands of executions?

One stub provider and one fresh ``flowker serve``. A warm-up of W3 executions puts caches, connection
pools and lazily imported modules in place; then each process's RSS, USS and PSS is taken ("before"),
``--count`` W3 executions run at ``--concurrency`` (``Prefer: wait``, counted by the stub's ``/decide``
calls) with a progress line every few seconds, the last sample under load is "during", the service
sits idle for ``--idle`` seconds and is measured again ("after"). A process passes when its RSS and
its USS after are both within ``--tolerance`` (10 %) of before.

The Flowker processes are the front door (``flowker serve``), each supervisor, each executor actor and
the audit actor; Ray's own processes (GCS, raylet, dashboard, idle workers…) are listed under them for
information and have no verdict. The exit code is 0 when the soak ran (whatever the verdicts), 1 when
it failed, 130 when interrupted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import shutil
import signal
import sys
import tempfile
import time
import traceback
from contextlib import AsyncExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from bench import report, w3
from bench.config import BenchConfig, note
from bench.memory import ProcessMemory, process_tree
from bench.processes import module, stop_all
from bench.scenarios import PREFER_WAIT, _service, _stats, load, log_problems, start_http_child
from bench.service import Api, Service
from bench.stats import median

MIB = 2**20
#: Flowker's actors, by the class Ray titles their process after.
ROLES = {"ray::SupervisorActor": "supervisor", "ray::ExecutorActor": "executor", "ray::AuditActor": "audit"}
ORDER = ("front door", "supervisor", "executor", "audit")


@dataclass(frozen=True)
class SoakConfig:
    """One soak run."""

    count: int
    concurrency: int
    warmup: int
    #: Seconds between the end of the warm-up and "before".
    settle: float
    #: Seconds the service sits idle between the end of the load and "after".
    idle: float
    progress: float
    tolerance: float
    #: The load run is cut short after this long.
    max_seconds: float
    #: Added to the environment of ``flowker serve`` (``RAY_…`` settings to try, for instance).
    env: dict[str, str] = dataclasses.field(default_factory=dict)

    @classmethod
    def make(cls, *, quick: bool, **given: Any) -> SoakConfig:
        defaults = {
            "count": 3_000 if quick else 50_000,
            "concurrency": 64,
            "warmup": 500 if quick else 3_000,
            "settle": 5.0 if quick else 10.0,
            "idle": 15.0 if quick else 45.0,
            "progress": 5.0,
            "tolerance": 0.10,
        }
        values = {**defaults, **{k: v for k, v in given.items() if v is not None}}
        # At least 40 executions/s, or the load run is cut short (it stops by itself either way).
        values.setdefault("max_seconds", values["count"] / 40 + 120)
        return cls(**values)


Sample = dict[int, ProcessMemory]


def role(pid: int, memory: ProcessMemory, front_door: int) -> str:
    """``front door``, ``supervisor``, ``executor``, ``audit``, or ``ray`` for Ray's own processes."""
    if pid == front_door:
        return "front door"
    return ROLES.get(memory.name, "ray")


async def sample(service: Service, times: int = 3, gap: float = 0.5) -> Sample:
    """Each process's median RSS, USS and PSS over ``times`` samples ``gap`` seconds apart."""
    samples: list[Sample] = []
    for index in range(times):
        samples.append(await asyncio.to_thread(process_tree, service.child.pid))
        if index < times - 1:
            await asyncio.sleep(gap)
    out: Sample = {}
    for pid, last in samples[-1].items():
        seen = [s[pid] for s in samples if pid in s]
        out[pid] = dataclasses.replace(
            last,
            rss=int(median([m.rss for m in seen]) or 0),
            uss=int(median([m.uss for m in seen]) or 0),
            pss=int(median([m.pss for m in seen]) or 0),
        )
    return out


def ray_name(name: str) -> str:
    """A short name for one of Ray's processes: ``gcs_server``, ``raylet``, ``dashboard.py``, …"""
    words = [w for w in name.split() if not w.startswith("-") and w != "logs"]
    if words and words[0] == "python" and len(words) > 1:
        words = words[1:]
    return words[0] if words else name


def labels(before: Sample, front_door: int) -> dict[int, str]:
    """A label per process of ``before``: its role, numbered when there are several of it."""
    by_role: dict[str, list[int]] = {}
    for pid, memory in sorted(before.items()):
        by_role.setdefault(role(pid, memory, front_door), []).append(pid)
    out: dict[int, str] = {}
    for name, pids in by_role.items():
        for number, pid in enumerate(pids, 1):
            if name == "ray":
                out[pid] = f"ray: {ray_name(before[pid].name)}"
            else:
                out[pid] = name if len(pids) == 1 else f"{name} {number}"
    return out


def brief(current: Sample, names: dict[int, str]) -> str:
    """The RSS of each Flowker process, in one line."""
    parts = [
        f"{names[pid]} {memory.rss / MIB:.0f}"
        for pid, memory in sorted(current.items(), key=lambda item: names.get(item[0], "~"))
        if pid in names and not names[pid].startswith("ray:")
    ]
    return "RSS MiB: " + ", ".join(parts)


async def decided(http: aiohttp.ClientSession, stub_url: str) -> int:
    """How many W3 executions reached their last provider call."""
    return int((await _stats(http, stub_url))["answered"].get("/decide", 0))


async def soak(config: SoakConfig, workdir: Path) -> dict[str, Any]:
    """Warm up, measure, run ``config.count`` executions while sampling, idle, measure again."""
    bench_config = dataclasses.replace(
        BenchConfig.make(quick=False, count=config.count, concurrency=config.concurrency),
        load_seconds=config.max_seconds,
    )
    async with AsyncExitStack() as stack:
        note("starting the stub provider")
        stub, stub_url = await start_http_child("stub", module("bench.stub", "--delay=0"), workdir)
        stack.callback(stub.stop)
        service = await _service(stack, workdir, "flowker-soak", config.env)
        api = await stack.enter_async_context(Api(service))
        http = await stack.enter_async_context(aiohttp.ClientSession())
        workflow_id = await w3.create(api, stub_url)
        await w3.check_once(api, workflow_id)
        url = f"{service.url}/v1/workflows/{workflow_id}/executions"
        waited = {
            "api_key": service.api_key,
            "prefer_wait": PREFER_WAIT,
            "expect_field": "status=completed",
            "warmup": 0,
        }
        warm = await load(bench_config, workdir, "soak-warmup", url, count=config.warmup, **waited)
        note(f"soak: warm-up done; settling for {config.settle:.0f} s")
        await asyncio.sleep(config.settle)
        front_door = service.child.pid
        before = await sample(service)
        names = labels(before, front_door)
        note(f"soak: before — {brief(before, names)}")

        start_count = await decided(http, stub_url)
        started = time.monotonic()
        run = asyncio.create_task(load(bench_config, workdir, "soak", url, count=config.count, **waited))
        during: Sample = before
        peaks: dict[int, int] = {pid: m.rss for pid, m in before.items()}
        timeline: list[dict[str, Any]] = []
        last_done, last_time = 0, started
        while not run.done():
            await asyncio.wait([run], timeout=config.progress)
            now = time.monotonic()
            done = await decided(http, stub_url) - start_count
            current = await asyncio.to_thread(process_tree, front_door)
            if not run.done():
                during = current
            for pid, memory in current.items():
                peaks[pid] = max(peaks.get(pid, 0), memory.rss)
            rate, recent = done / (now - started), (done - last_done) / max(now - last_time, 1e-9)
            timeline.append(_point("load", now - started, done, current))
            note(
                f"soak: {done:,}/{config.count:,} executions, {rate:.0f}/s ({recent:.0f}/s lately);"
                f" {brief(current, names)}"
            )
            last_done, last_time = done, now
        result = run.result()

        note(f"soak: load done; idle for {config.idle:.0f} s")
        idle_start = await asyncio.to_thread(process_tree, front_door)
        idle_from = time.monotonic()
        while (left := config.idle - (time.monotonic() - idle_from)) > 0:
            await asyncio.sleep(min(config.progress, left))
            current = await asyncio.to_thread(process_tree, front_door)
            timeline.append(_point("idle", time.monotonic() - started, None, current))
            note(f"soak: idle {time.monotonic() - idle_from:.0f} s; {brief(current, names)}")
        after = await sample(service)
        idle_seconds = time.monotonic() - idle_from
        unfinished = await api.unfinished()
        problems = log_problems(service.child.output())
    return {
        "config": dataclasses.asdict(config),
        "warmup": warm,
        "load": result,
        "rows": rows(before, during, after, idle_start, idle_seconds, peaks, names, front_door, config),
        "timeline": timeline,
        "unfinished": unfinished,
        "serviceLog": problems,
    }


def _point(phase: str, seconds: float, done: int | None, current: Sample) -> dict[str, Any]:
    return {
        "phase": phase,
        "seconds": round(seconds, 1),
        "done": done,
        "rss": {str(pid): m.rss for pid, m in current.items()},
        "uss": {str(pid): m.uss for pid, m in current.items()},
    }


def rows(
    before: Sample,
    during: Sample,
    after: Sample,
    idle_start: Sample,
    idle_seconds: float,
    peaks: dict[int, int],
    names: dict[int, str],
    front_door: int,
    config: SoakConfig,
) -> list[dict[str, Any]]:
    """One row per process seen before or after: its figures, ratios and verdict."""
    out = []
    for pid in sorted(set(before) | set(after)):
        memory = before.get(pid) or after[pid]
        kind = role(pid, memory, front_door)
        name = names.get(pid) or (f"ray: {ray_name(memory.name)}" if kind == "ray" else f"{kind} (new)")

        def figure(sample: Sample, field: str, pid: int = pid) -> int | None:
            found = sample.get(pid)
            return getattr(found, field) if found else None

        row: dict[str, Any] = {"process": name, "pid": pid, "role": kind, "peakRss": peaks.get(pid)}
        for field in ("rss", "uss", "pss"):
            b, a = figure(before, field), figure(after, field)
            row[field] = {"before": b, "during": figure(during, field), "after": a}
            row[field]["ratio"] = a / b if a is not None and b else None
        start, end = figure(idle_start, "rss"), figure(after, "rss")
        row["idleRssKbPerS"] = (end - start) / 1024 / idle_seconds if start and end and idle_seconds else None
        if kind == "ray":
            row["verdict"] = ""
        elif row["rss"]["ratio"] is None or row["uss"]["ratio"] is None:
            row["verdict"] = "FAIL (gone)" if pid not in after else "FAIL (new)"
        else:
            ok = max(row["rss"]["ratio"], row["uss"]["ratio"]) <= 1 + config.tolerance
            row["verdict"] = "pass" if ok else "FAIL"
        out.append(row)
    out.sort(key=lambda r: (r["role"] == "ray", _rank(r["role"]), r["process"]))
    return out


def _rank(kind: str) -> int:
    return ORDER.index(kind) if kind in ORDER else len(ORDER)


def table(found: list[dict[str, Any]]) -> str:
    """The rows as a Markdown table, MiB."""
    header = [
        "process", "pid",
        "RSS before", "during", "after", "after/before",
        "USS before", "during", "after", "after/before",
        "idle RSS KB/s", "verdict",
    ]  # fmt: skip

    def mib(value: int | None) -> str:
        return "n/a" if value is None else f"{value / MIB:.1f}"

    def ratio(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.3f}"

    lines = [header]
    for row in found:
        cells = [row["process"], str(row["pid"])]
        for field in ("rss", "uss"):
            figures = row[field]
            cells += [mib(figures["before"]), mib(figures["during"]), mib(figures["after"])]
            cells.append(ratio(figures["ratio"]))
        slope = row["idleRssKbPerS"]
        cells += ["n/a" if slope is None else f"{slope:+.1f}", row["verdict"]]
        lines.append(cells)
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    text = ["| " + " | ".join(c.ljust(w) for c, w in zip(line, widths, strict=True)) + " |" for line in lines]
    text.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(text)


def summary(outcome: dict[str, Any], config: SoakConfig) -> str:
    """The lines above the table: what ran, how fast, with how many errors."""
    load_result = outcome["load"]
    flowker = [r for r in outcome["rows"] if r["role"] != "ray"]
    failed = [r["process"] for r in flowker if r["verdict"] != "pass"]
    verdict = "pass" if not failed else f"FAIL ({', '.join(failed)})"
    return "\n".join(
        [
            f"soak: {load_result['completed']:,}/{config.count:,} W3 executions completed at concurrency"
            f" {config.concurrency}, {load_result['errors']} errors, {load_result['rate']:.0f}/s over"
            f" {load_result['elapsed']:.0f} s; after {config.warmup:,} warm-up executions; idle"
            f" {config.idle:.0f} s before 'after'",
            *([f"flowker serve's environment also had {config.env}"] if config.env else []),
            *(["some executions were still pending or running at 'after'"] if outcome["unfinished"] else []),
            f"memory in MiB; a Flowker process passes when its RSS and USS after are <= "
            f"{1 + config.tolerance:.2f} x before. Verdict: {verdict}",
        ]
    )


def parse(argv: list[str] | None) -> tuple[SoakConfig, Path | None, bool]:
    parser = argparse.ArgumentParser(prog="python -m bench soak", description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="3,000 executions, shorter waits")
    parser.add_argument("--count", type=int, help="measured executions (default 50,000; quick 3,000)")
    parser.add_argument("--concurrency", type=int, help="executions in flight (default 64)")
    parser.add_argument("--warmup", type=int, help="executions before 'before' (default 3,000; quick 500)")
    parser.add_argument("--settle", type=float, help="seconds between warm-up and 'before' (default 10)")
    parser.add_argument("--idle", type=float, help="seconds idle before 'after' (default 45; quick 15)")
    parser.add_argument("--progress", type=float, help="seconds between progress lines (default 5)")
    parser.add_argument("--tolerance", type=float, help="allowed growth after/before - 1 (default 0.10)")
    parser.add_argument("--max-seconds", type=float, help="cut the load run short after this long")
    parser.add_argument(
        "--env", action="append", default=[], metavar="NAME=VALUE", help="add to flowker serve's environment"
    )
    parser.add_argument("--json", type=Path, help="also write every figure and the timeline to this file")
    parser.add_argument("--keep", action="store_true", help="keep the logs and data directory of the run")
    args = parser.parse_args(argv)
    for name in ("count", "concurrency", "warmup"):
        value = getattr(args, name)
        if value is not None and value < 1:
            parser.error(f"--{name} must be at least 1")
    env = {}
    for setting in args.env:
        name, equals, value = setting.partition("=")
        if not equals or not name:
            parser.error(f"--env wants NAME=VALUE, not {setting!r}")
        env[name] = value
    config = SoakConfig.make(
        quick=args.quick,
        count=args.count,
        concurrency=args.concurrency,
        warmup=args.warmup,
        settle=args.settle,
        idle=args.idle,
        progress=args.progress,
        tolerance=args.tolerance,
        max_seconds=args.max_seconds,
        env=env,
    )
    return config, args.json, args.keep


async def main_async(config: SoakConfig, keep: bool) -> dict[str, Any] | None:
    workdir = Path(tempfile.mkdtemp(prefix="flowker-soak-"))
    task = asyncio.current_task()
    assert task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    outcome: dict[str, Any] | None = None
    interrupted = False
    try:
        outcome = await soak(config, workdir)
    except (asyncio.CancelledError, KeyboardInterrupt):
        interrupted = True
        raise
    except Exception as exc:
        note(f"soak failed: {exc}")
        traceback.print_exc(file=sys.stderr)
    finally:
        stop_all()
        if keep or (outcome is None and not interrupted):
            note(f"logs kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return outcome


def main(argv: list[str] | None = None) -> int:
    config, json_file, keep = parse(argv)
    info = report.machine()
    try:
        outcome = asyncio.run(main_async(config, keep))
    except (KeyboardInterrupt, asyncio.CancelledError):
        with contextlib.suppress(Exception):
            stop_all()
        print("interrupted; every child process was stopped", file=sys.stderr)
        return 130
    if outcome is None:
        return 1
    print(
        f"{info['cores']} cores, {info['cpu']}, {info['memoryBytes'] / 2**30:.1f} GiB,"
        f" load {info['loadAverage']}; Python {info['python']}, Ray {info['ray']},"
        f" aiohttp {info['aiohttp']}, Flowker {info['flowker']}"
    )
    print(summary(outcome, config))
    print()
    print(table(outcome["rows"]))
    log = outcome["serviceLog"]
    if log["count"]:
        print()
        print(f"flowker serve logged {log['count']} error line(s), e.g.:")
        print("\n".join(f"  {line}" for line in log["samples"]))
    if json_file:
        json_file.write_text(json.dumps({"machine": info, **outcome}, indent=2) + "\n")
        note(f"wrote {json_file}")
    return 0
