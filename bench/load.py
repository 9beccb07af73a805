"""The load generator, a process of its own: N POSTs at concurrency C after a warm-up; JSON on stdout.

::

    BENCH_API_KEY=… python -m bench.load --url URL --count 3000 --concurrency 64 --warmup 300 \\
        [--prefer-wait 60] [--expect-status 200] [--expect-field status=completed] [--interval 0.05]

Every request carries ``{"inputData": {"txn": "T-<n>"}}``, a unique ``Idempotency-Key`` and, when
``BENCH_API_KEY`` is set, ``X-API-Key``. A request counts as completed when it answers the expected status
(and field); anything else is an error, counted by message. The warm-up requests are sent the same way
and left out of every figure. With ``--interval S`` each worker sends a request at most every S seconds
(paced: a probe that measures latency under another load without adding much to it). Progress goes to
stderr every few seconds. On stdout, ``{"phase": "measured"}`` when the warm-up is over (then
``--mark-pause`` seconds before the first measured request) and ``{"phase": "done"}`` after the last
measured answer, so that the harness can read the other processes' CPU times around the measured
requests; the last stdout line is::

    {"completed": …, "errors": …, "errorMessages": {message: count}, "elapsed": s, "rate": per_s,
     "latencyMs": {"p50", "p95", "p99", "mean", "max"}, "timedOut": bool,
     "cpuSeconds": the load generator's own CPU over the measured requests, …}
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import sys
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from bench.stats import summary

PROGRESS_SECONDS = 5.0


@dataclass
class Tally:
    """What one phase (warm-up or measured) saw."""

    latencies_ms: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    done: int = 0


@dataclass(frozen=True)
class Plan:
    """One load run, as the command line describes it."""

    url: str
    count: int
    concurrency: int
    warmup: int
    prefer_wait: float
    expect_status: int
    expect_field: tuple[str, str] | None
    timeout: float
    max_seconds: float
    label: str
    #: Seconds between the ``measured`` line and the first measured request.
    mark_pause: float = 0.0
    #: Least seconds between two requests of one worker (0: each sent as soon as the last answered).
    interval: float = 0.0


async def run(plan: Plan) -> dict[str, Any]:
    """Warm up, then send ``plan.count`` requests; the figures of the measured requests."""
    headers = {"Content-Type": "application/json"}
    if key := os.environ.get("BENCH_API_KEY"):
        headers["X-API-Key"] = key
    if plan.prefer_wait:
        headers["Prefer"] = f"wait={plan.prefer_wait:g}"
    run_id = uuid.uuid4().hex[:12]
    connector = aiohttp.TCPConnector(limit=plan.concurrency)
    timeout = aiohttp.ClientTimeout(total=plan.timeout)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout, headers=headers) as session:
        deadline = time.monotonic() + plan.max_seconds
        if plan.warmup:
            await _phase(session, plan, Tally(), f"{run_id}-w", plan.warmup, deadline, "warm-up")
        measured = Tally()
        # The harness reads the CPU times of the other processes when it sees these lines; the pause
        # gives it time to do so before the measured requests begin.
        _mark("measured")
        await asyncio.sleep(plan.mark_pause)
        cpu_started = time.process_time()
        started = time.perf_counter()
        timed_out = await _phase(session, plan, measured, f"{run_id}-m", plan.count, deadline, "measured")
        elapsed = time.perf_counter() - started
        cpu_seconds = time.process_time() - cpu_started
        _mark("done")
    completed = len(measured.latencies_ms)
    return {
        "label": plan.label,
        "count": plan.count,
        "concurrency": plan.concurrency,
        "warmup": plan.warmup,
        "completed": completed,
        "errors": sum(measured.errors.values()),
        "errorMessages": dict(measured.errors.most_common(10)),
        "elapsed": elapsed,
        "rate": completed / elapsed if elapsed > 0 else 0.0,
        "latencyMs": summary(measured.latencies_ms),
        "timedOut": timed_out,
        "cpuSeconds": cpu_seconds,
    }


def _mark(phase: str) -> None:
    """A line on stdout saying where the run is (the harness takes CPU snapshots at these)."""
    print(json.dumps({"phase": phase}), flush=True)


async def _phase(
    session: aiohttp.ClientSession,
    plan: Plan,
    tally: Tally,
    prefix: str,
    count: int,
    deadline: float,
    name: str,
) -> bool:
    """Send ``count`` requests from ``plan.concurrency`` workers; ``True`` if the deadline cut it short."""
    numbers = iter(range(count))
    timed_out = False

    async def worker() -> None:
        nonlocal timed_out
        due = time.monotonic()
        for n in numbers:
            if plan.interval:
                await asyncio.sleep(max(0.0, due - time.monotonic()))
                due = max(due + plan.interval, time.monotonic())
            if time.monotonic() > deadline:
                timed_out = True
                return
            await _one(session, plan, tally, f"{prefix}-{n}")

    progress = asyncio.create_task(_report(plan.label, name, tally, count))
    try:
        await asyncio.gather(*(worker() for _ in range(min(plan.concurrency, count))))
    finally:
        progress.cancel()
    return timed_out


async def _one(session: aiohttp.ClientSession, plan: Plan, tally: Tally, key: str) -> None:
    body = {"inputData": {"txn": f"T-{key}"}}
    started = time.perf_counter()
    try:
        async with session.post(plan.url, json=body, headers={"Idempotency-Key": key}) as response:
            raw = await response.read()
            status = response.status
    except (aiohttp.ClientError, TimeoutError) as exc:
        tally.errors[f"{type(exc).__name__}: {exc}"[:200]] += 1
        tally.done += 1
        return
    latency_ms = (time.perf_counter() - started) * 1000
    tally.done += 1
    problem = _problem(plan, status, raw)
    if problem:
        tally.errors[problem] += 1
    else:
        tally.latencies_ms.append(latency_ms)


def _problem(plan: Plan, status: int, raw: bytes) -> str | None:
    """Why an answer does not count as completed, or ``None`` when it does."""
    if status != plan.expect_status:
        return f"HTTP {status}: {raw[:200].decode(errors='replace')}"
    if plan.expect_field is None:
        return None
    name, wanted = plan.expect_field
    try:
        found = json.loads(raw).get(name)
    except (ValueError, AttributeError):
        return f"HTTP {status}: body is not a JSON object"
    if str(found) != wanted:
        return f"HTTP {status}: {name} is {found!r}, not {wanted!r}"
    return None


async def _report(label: str, phase: str, tally: Tally, count: int) -> None:
    for tick in itertools.count(1):
        await asyncio.sleep(PROGRESS_SECONDS)
        errors = sum(tally.errors.values())
        seconds = tick * PROGRESS_SECONDS
        line = f"  [{label}] {phase}: {tally.done}/{count} answered, {errors} errors ({seconds:.0f} s)"
        print(line, file=sys.stderr, flush=True)


def parse(argv: list[str] | None = None) -> Plan:
    """The :class:`Plan` the command line asks for."""
    parser = argparse.ArgumentParser(prog="python -m bench.load", description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True, help="where to POST")
    parser.add_argument("--count", type=int, default=1000, help="measured requests")
    parser.add_argument("--concurrency", type=int, default=64, help="requests in flight at once")
    parser.add_argument("--warmup", type=int, default=0, help="requests sent first and not measured")
    parser.add_argument("--prefer-wait", type=float, default=0.0, help="send Prefer: wait=N when N > 0")
    parser.add_argument("--expect-status", type=int, default=200, help="the status of a completed request")
    parser.add_argument("--expect-field", help="NAME=VALUE the JSON answer must also hold")
    parser.add_argument("--timeout", type=float, default=90.0, help="seconds one request may take")
    parser.add_argument("--max-seconds", type=float, default=600.0, help="stop sending after this long")
    parser.add_argument("--label", default="load", help="name shown in progress lines")
    parser.add_argument(
        "--mark-pause", type=float, default=0.0, help="seconds from the 'measured' line to the first request"
    )
    parser.add_argument(
        "--interval", type=float, default=0.0, help="least seconds between two requests of one worker"
    )
    args = parser.parse_args(argv)
    expect_field = None
    if args.expect_field:
        name, _, value = args.expect_field.partition("=")
        expect_field = (name, value)
    return Plan(
        url=args.url,
        count=max(args.count, 1),
        concurrency=max(args.concurrency, 1),
        warmup=max(args.warmup, 0),
        prefer_wait=args.prefer_wait,
        expect_status=args.expect_status,
        expect_field=expect_field,
        timeout=args.timeout,
        max_seconds=args.max_seconds,
        label=args.label,
        mark_pause=max(args.mark_pause, 0.0),
        interval=max(args.interval, 0.0),
    )


def main(argv: list[str] | None = None) -> None:
    print(json.dumps(asyncio.run(run(parse(argv)))), flush=True)


if __name__ == "__main__":
    main()
