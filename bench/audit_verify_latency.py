"""Does verifying a long audit log through the API slow other requests? Latency measured, not assumed.

::

    .venv/bin/python -m bench.audit_verify_latency                 # 200,000 events
    .venv/bin/python -m bench.audit_verify_latency --events 50000 --probes 2000

It fills an embedded store (in a temporary directory) with ``--events`` sealed events and a signed
checkpoint every 1000, starts an aiohttp server on 127.0.0.1 with one trivial route, and has a client
on the same event loop request it one request at a time — the latency of "another request". It
measures that latency

* **idle**: no verification running;
* **slices**: while :func:`flowker.usecases.audit_verification.verify_stored` verifies the whole log
  the way the endpoint does (batches of ``AUDIT_VERIFY_BATCH`` = 100 events read from the store,
  hashed on the event loop ``AUDIT_VERIFY_SLICE`` at a time, yielding between slices);
* **thread**: the same, each batch hashed on a worker thread (``asyncio.to_thread``);
* **thread-1000**, **slices-1000**: the same two with batches of 1000 events read at a time;
* **batch-1000**: batches of 1000, each hashed whole on the loop, yielding between batches.

and prints p50 / p99 / max latency and the verification's duration for each; the last stdout line is
JSON. The probes run for as long as the verification does.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from flowker.domain.audit import AuditAction, AuditEvent, ResourceType, seal
from flowker.domain.audit_verify import LogVerifier
from flowker.domain.checkpoint import Checkpoint, sign_checkpoint
from flowker.domain.merkle import Frontier, entry_leaf_hash
from flowker.domain.signed_note import SignerKey, generate_key
from flowker.store.embedded import EmbeddedStore
from flowker.store.ports import StoredCheckpoint, StoredRecord
from flowker.tunables import AUDIT_VERIFY_BATCH
from flowker.usecases.audit_verification import feed, on_thread, verify_stored

ORIGIN = "bench.flowker/audit"


async def fill(store: EmbeddedStore, count: int, key: SignerKey) -> None:
    frontier, previous, batch = Frontier(), None, []
    for sequence in range(1, count + 1):
        event = AuditEvent(
            event_type="PROVIDER_CALL_COMPLETED",
            action=AuditAction.EXECUTE,
            resource_type=ResourceType.EXECUTION,
            resource_id=str(uuid.uuid4()),
            metadata={"workflowId": "bench", "stepNumber": sequence % 4},
        )
        record = seal(event.body("2026-12-01T12:00:00.000000Z", sequence), previous)
        previous = record["hash"]
        frontier.append(entry_leaf_hash(previous))
        batch.append(record)
        if len(batch) == 2000 or sequence == count:
            await store.audit.append(batch)
            batch = []
        if sequence % 1000 == 0:
            note = sign_checkpoint(Checkpoint(ORIGIN, sequence, frontier.root()), key)
            await store.checkpoints.add(
                StoredCheckpoint(sequence, frontier.root(), "2026-12-01T12:00:00Z", note)
            )


async def whole(verifier: LogVerifier, rows: list[StoredRecord]) -> bool:
    result = feed(verifier, rows)
    await asyncio.sleep(0)
    return result


async def probe_while(
    work: Awaitable[Any], url: str, session: aiohttp.ClientSession
) -> tuple[list[float], float]:
    task = asyncio.ensure_future(work)
    started = time.perf_counter()
    latencies: list[float] = []
    while not task.done():
        sent = time.perf_counter()
        async with session.get(url) as reply:
            await reply.read()
        latencies.append((time.perf_counter() - sent) * 1000)
    result = await task
    assert result is None or getattr(result, "is_valid", True), result
    return latencies, time.perf_counter() - started


def summary(latencies: list[float]) -> dict[str, float]:
    ordered = sorted(latencies)
    return {
        "probes": len(ordered),
        "p50Ms": round(statistics.median(ordered), 3),
        "p99Ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))], 3),
        "maxMs": round(ordered[-1], 3),
    }


async def run(events: int, idle_seconds: float) -> list[dict[str, Any]]:
    key = generate_key(ORIGIN)
    with tempfile.TemporaryDirectory(prefix="flowker-bench-") as tmp:
        store = await EmbeddedStore(Path(tmp)).open()
        app = web.Application()
        app.router.add_get("/ping", lambda _: web.Response(text="ok"))
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        try:
            started = time.perf_counter()
            await fill(store, events, key)
            print(f"filled {events:,} events in {time.perf_counter() - started:.1f} s", file=sys.stderr)
            site = web.TCPSite(runner, "127.0.0.1", 0)
            await site.start()
            url = f"http://127.0.0.1:{runner.addresses[0][1]}/ping"
            verifier = key.verifier()
            modes: list[tuple[str, Callable[[], Awaitable[Any]]]] = [
                ("idle", lambda: asyncio.sleep(idle_seconds)),
                ("slices", lambda: verify_stored(store, verifier, events)),
                ("thread", lambda: verify_stored(store, verifier, events, offload=on_thread)),
                (
                    "thread-1000",
                    lambda: verify_stored(store, verifier, events, batch=1000, offload=on_thread),
                ),
                ("slices-1000", lambda: verify_stored(store, verifier, events, batch=1000)),
                (
                    "batch-1000",
                    lambda: verify_stored(store, verifier, events, batch=1000, offload=whole),
                ),
            ]
            rows = []
            async with aiohttp.ClientSession() as session:
                for name, work in modes:
                    latencies, seconds = await probe_while(work(), url, session)
                    row = {"mode": name, "seconds": round(seconds, 2), **summary(latencies)}
                    print(f"{name}: {row}", file=sys.stderr)
                    rows.append(row)
            return rows
        finally:
            await runner.cleanup()
            await store.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.audit_verify_latency")
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--idle-seconds", type=float, default=3.0)
    args = parser.parse_args(argv)
    rows = asyncio.run(run(args.events, args.idle_seconds))
    print(f"{'mode':12} {'verify s':>9} {'probes':>7} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    for row in rows:
        print(
            f"{row['mode']:12} {row['seconds']:9.2f} {row['probes']:7d} {row['p50Ms']:8.3f} "
            f"{row['p99Ms']:8.3f} {row['maxMs']:8.3f}"
        )
    print(json.dumps({"events": args.events, "batch": AUDIT_VERIFY_BATCH, "modes": rows}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
