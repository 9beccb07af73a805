"""The audit benchmark, a process of its own: events/s through the audit actor, then the chain verified.

::

    RAY_TMPDIR=/tmp/fkb-… python -m bench.audit --events 100000 --sizes 1,50 --callers 64 --workdir DIR

For each call size it creates a fresh audit actor (own data directory) with
``flowker.actors.factory.audit``, appends one event to open its store, then sends ``--events`` events
from ``--callers`` concurrent callers, ``size`` events per ``append`` call, and measures events/s. It
then reads the whole chain back with ``EmbeddedStore(dir).audit.up_to(last)`` and checks it with
``flowker.domain.audit_verify.verify_records``. The last stdout line is a JSON list, one object per size.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import ray

from flowker.actors import factory
from flowker.actors.config import RuntimeConfig
from flowker.domain.audit import AuditAction, AuditEvent, ResourceType
from flowker.domain.audit_verify import verify_records
from flowker.settings import Settings
from flowker.store.embedded import EmbeddedStore

PROGRESS_SECONDS = 3.0


def events(count: int) -> list[AuditEvent]:
    """``count`` events shaped like an execution's: started, provider call, completed."""
    kinds = ("EXECUTION_STARTED", "PROVIDER_CALL_STARTED", "PROVIDER_CALL_COMPLETED", "EXECUTION_COMPLETED")
    return [
        AuditEvent(
            event_type=kinds[n % len(kinds)],
            action=AuditAction.EXECUTE,
            resource_type=ResourceType.EXECUTION,
            resource_id=str(uuid.uuid4()),
            metadata={"workflowId": "bench", "step": n % len(kinds)},
        )
        for n in range(count)
    ]


async def measure(workdir: Path, count: int, size: int, callers: int) -> dict[str, Any]:
    """Append ``count`` events in calls of ``size`` from ``callers`` callers, then verify the chain."""
    data_dir = workdir / f"audit-{size}"
    data_dir.mkdir(parents=True)
    config = RuntimeConfig.from_settings(Settings(data_dir=data_dir), prefix=f"bench-{uuid.uuid4().hex[:8]}-")
    actor = factory.audit(config)
    try:
        # Creating the actor and opening its store are not what is measured.
        last = max(await actor.append.remote(events(1)))
        pending = events(count)
        calls = [pending[i : i + size] for i in range(0, count, size)]
        sent = 0
        progress = asyncio.create_task(_report(size, count, lambda: sent))

        async def caller() -> int:
            nonlocal sent
            highest = 0
            while calls:
                batch = calls.pop()
                highest = max(highest, *await actor.append.remote(batch))
                sent += len(batch)
            return highest

        started = time.perf_counter()
        try:
            highest = await asyncio.gather(*(caller() for _ in range(min(callers, len(calls)))))
        finally:
            progress.cancel()
        elapsed = time.perf_counter() - started
        last = max(last, *highest)
    finally:
        ray.kill(actor)
    measured = {"size": size, "events": count, "callers": callers, "elapsed": elapsed}
    return {**measured, "eventsPerSecond": count / elapsed, **await check(data_dir, last, count + 1)}


async def check(data_dir: Path, last: int, expected: int) -> dict[str, Any]:
    """Verify the chain from the first event to ``last``; it must hold ``expected`` events."""
    store = await EmbeddedStore(data_dir).open()
    try:
        started = time.perf_counter()
        records = await store.audit.up_to(last)
        verification = verify_records(records)
        seconds = time.perf_counter() - started
    finally:
        await store.close()
    complete = verification.total_checked == expected == last
    message = verification.message if complete else f"{verification.message}; expected {expected} events"
    return {
        "valid": verification.is_valid and complete,
        "checked": verification.total_checked,
        "expected": expected,
        "message": message,
        "verifySeconds": seconds,
    }


async def _report(size: int, count: int, sent: Any) -> None:
    while True:
        await asyncio.sleep(PROGRESS_SECONDS)
        print(f"  [audit] {size}/call: {sent()}/{count} events", file=sys.stderr, flush=True)


async def run(args: argparse.Namespace) -> list[dict[str, Any]]:
    """Every call size in turn."""
    return [await measure(args.workdir, args.events, size, args.callers) for size in args.sizes]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.audit", description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000, help="events per call size")
    parser.add_argument("--sizes", default="1,50", help="events per append call, comma-separated")
    parser.add_argument("--callers", type=int, default=64, help="concurrent callers")
    parser.add_argument("--workdir", type=Path, required=True, help="where the data directories go")
    args = parser.parse_args(argv)
    args.sizes = [int(s) for s in args.sizes.split(",") if s.strip()]
    quiet = {"logging_level": logging.WARNING, "log_to_driver": False}
    ray.init(address="local", num_cpus=2, include_dashboard=False, **quiet)
    try:
        results = asyncio.run(run(args))
    finally:
        ray.shutdown()
    print(json.dumps(results), flush=True)


if __name__ == "__main__":
    main()
