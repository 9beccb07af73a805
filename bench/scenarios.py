"""The scenarios of one run, each against processes it starts and always stops.

* :func:`throughput` — baseline, W3, per-step overhead and start latency (probes under the W3 load, and a
  flood of starts), against one stub provider,
  one relay and one fresh ``flowker serve``, with the same load generator, one after the other; the
  CPU each kind of process spends per request of the baseline and W3 runs; then the CPU Flowker's and
  Ray's processes spend idle.
* :func:`audit` — the audit actor in a process of its own.
* :func:`waiting` — executions held by a slow provider, and the memory they take.
"""

from __future__ import annotations

import asyncio
import json
import re
import shutil
import tempfile
import time
from collections.abc import Callable
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import aiohttp

from bench import cpu, w3
from bench.config import BenchConfig, note
from bench.memory import TreeMemory, tree_pss
from bench.processes import Child, child_env, module
from bench.service import Api, Service, start_service
from bench.stats import median

#: Flowker waits this long for an execution to end before it answers 201 instead of the results.
PREFER_WAIT = 60
#: Seconds between two memory samples, of which the median is kept.
SAMPLE_GAP = 0.5
#: Seconds the load generator pauses after its warm-up, so that the CPU snapshot precedes the load.
MARK_PAUSE = 0.25
#: Seconds between two looks at the load generator's output for its phase lines.
MARK_POLL = 0.02
#: Seconds of quiet after the last load before Flowker's idle CPU is measured.
IDLE_SETTLE = 2.0
#: Seconds between two probe starts under the W3 load (20/s: few next to the load's own executions).
START_PROBE_INTERVAL = 0.05


async def start_http_child(name: str, argv: list[str], workdir: Path) -> tuple[Child, str]:
    """Start the stub or the relay; its URL once it listens."""
    child = Child(name, argv, child_env(), workdir / f"{name}.log")
    try:
        line = await child.line(lambda text: " listening on " in text, 60)
    except BaseException:
        child.stop()
        raise
    return child, line.split()[-1]


async def load(config: BenchConfig, workdir: Path, label: str, url: str, **options: Any) -> dict[str, Any]:
    """Run ``bench.load`` against ``url``; its JSON result.

    ``options``: ``count``, ``concurrency``, ``warmup``, ``prefer_wait``, ``expect_status``,
    ``expect_field``, ``interval`` and ``api_key``, as the load generator's command line names them;
    ``cpu``, a function taking a :func:`bench.cpu.snapshot`, to add the CPU each kind of process spent on
    the measured requests, per completed request, as ``result["cpu"]``; ``measuring``, an event set when
    the warm-up is over.
    """
    count = options.get("count", config.count)
    concurrency = options.get("concurrency", config.concurrency)
    argv = module(
        "bench.load",
        f"--url={url}",
        f"--count={count}",
        f"--concurrency={concurrency}",
        f"--warmup={options.get('warmup', config.warmup)}",
        f"--prefer-wait={options.get('prefer_wait', 0)}",
        f"--expect-status={options.get('expect_status', 200)}",
        f"--max-seconds={config.load_seconds}",
        f"--label={label}",
    )
    if options.get("expect_field"):
        argv.append(f"--expect-field={options['expect_field']}")
    if options.get("interval"):
        argv.append(f"--interval={options['interval']}")
    take: Callable[[], cpu.Snapshot] | None = options.get("cpu")
    measuring: asyncio.Event | None = options.get("measuring")
    if take:
        argv.append(f"--mark-pause={MARK_PAUSE}")
    extra = {"BENCH_API_KEY": options["api_key"]} if options.get("api_key") else {}
    note(f"{label}: {count} requests at concurrency {concurrency}")
    child = Child(label, argv, child_env(**extra), workdir / f"{label}.json", stderr=None)
    marks: asyncio.Task[tuple[cpu.Snapshot, cpu.Snapshot] | None] | None = None
    try:
        watched = take or measuring
        marks = asyncio.create_task(_snapshots_at_marks(child, take, measuring)) if watched else None
        result = await child.result(within=config.load_seconds + 120)
        snapshots = await marks if marks else None
    finally:
        if marks and not marks.done():
            marks.cancel()
        child.stop()
    if snapshots and take:
        spent = cpu.usage(*snapshots)
        result["cpu"] = cpu.summary(spent, result["completed"], result.get("cpuSeconds"))
        note(f"{label}: CPU per completed request {_cpu_line(result['cpu'])}")
    latency = result["latencyMs"]
    note(
        f"{label}: {result['completed']} completed, {result['errors']} errors, {result['rate']:.0f}/s,"
        f" p50 {_ms(latency['p50'])}, p99 {_ms(latency['p99'])}"
    )
    for message, times in result["errorMessages"].items():
        note(f"{label}: {times} x {message}")
    return result


def _ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f} ms"


async def _snapshots_at_marks(
    child: Child, take: Callable[[], cpu.Snapshot] | None, measuring: asyncio.Event | None = None
) -> tuple[cpu.Snapshot, cpu.Snapshot] | None:
    """CPU snapshots when the load generator says ``measured`` and ``done``; ``None`` if it did not.
    ``measuring`` is set at the first of these lines."""
    taken: dict[str, cpu.Snapshot | None] = {}
    while True:
        exited = child.process.poll() is not None
        for phase in _phases(child.output()):
            if phase not in taken:
                taken[phase] = take() if take else None
                if measuring is not None:
                    measuring.set()
        if "measured" in taken and "done" in taken:
            before, after = taken["measured"], taken["done"]
            return (before, after) if before is not None and after is not None else None
        if exited:
            return None
        await asyncio.sleep(MARK_POLL)


def _phases(text: str) -> list[str]:
    """The phase lines (``{"phase": …}``) the load generator printed so far, in order."""
    found = []
    for line in text.splitlines():
        if line.startswith('{"phase"'):
            try:
                found.append(str(json.loads(line)["phase"]))
            except (ValueError, KeyError):
                continue
    return found


def _cpu_line(figures: dict[str, Any]) -> str:
    shown = {name: value for name, value in figures["ms"].items() if value}
    return ", ".join(f"{name} {value:.2f} ms" for name, value in shown.items())


async def idle_cpu(service: Service, seconds: float) -> dict[str, Any]:
    """The CPU ms per second each kind of the service's processes spends over ``seconds`` of no traffic."""
    note(f"idle: {IDLE_SETTLE:.0f} s to settle, then {seconds:.0f} s without traffic")
    await asyncio.sleep(IDLE_SETTLE)
    before = cpu.snapshot(service.child.pid, {})
    started = time.monotonic()
    await asyncio.sleep(seconds)
    after = cpu.snapshot(service.child.pid, {})
    figures = cpu.summary(cpu.usage(before, after), time.monotonic() - started)
    note(f"idle: CPU per second {_cpu_line(figures)}")
    return figures


async def throughput(config: BenchConfig, workdir: Path) -> dict[str, Any]:
    """Baseline and W3 at ``concurrency`` and at 1, then starts without waiting; one service for all."""
    out: dict[str, Any] = {}
    async with AsyncExitStack() as stack:
        note("starting the stub provider and the relay")
        stub, stub_url = await start_http_child("stub", module("bench.stub", "--delay=0"), workdir)
        stack.callback(stub.stop)
        relay, relay_url = await start_http_child(
            "relay", module("bench.relay", f"--provider={stub_url}"), workdir
        )
        stack.callback(relay.stop)
        service: Service | None = None
        if config.wants("w3", "overhead", "start"):
            service = await _service(stack, workdir, "flowker")
            api = await stack.enter_async_context(Api(service))
            workflow_id = await w3.create(api, stub_url)
            await w3.check_once(api, workflow_id)
            url = f"{service.url}/v1/workflows/{workflow_id}/executions"
            key = service.api_key
            waited = {"api_key": key, "prefer_wait": PREFER_WAIT, "expect_field": "status=completed"}
        # The CPU of the relay (and its stub), and of Flowker's and Ray's processes (and their stub).
        relayed = {"cpu": lambda: cpu.snapshot(None, {relay.pid: cpu.RELAY, stub.pid: cpu.STUB})}
        served = {"cpu": lambda: cpu.snapshot(service.child.pid if service else None, {stub.pid: cpu.STUB})}
        if config.wants("baseline", "w3"):
            out["baseline"] = await load(config, workdir, "baseline", relay_url, **relayed)
        if service and config.wants("w3"):
            out["w3"] = await load(config, workdir, "w3", url, **waited, **served)
        if config.wants("overhead"):
            serial = {"concurrency": 1, "count": config.serial_count, "warmup": 10}
            out["baselineSerial"] = await load(config, workdir, "baseline-c1", relay_url, **serial, **relayed)
            if service:
                out["w3Serial"] = await load(config, workdir, "w3-c1", url, **waited, **serial, **served)
        if service and config.wants("start"):
            out["start"] = await starts_under_load(config, workdir, url, waited)
            flood = {"api_key": key, "expect_status": 201}
            out["startFlood"] = await load(config, workdir, "start-flood", url, **flood)
            note("start: waiting for the started executions to end")
            out["startDrained"] = await api.drain(config.load_seconds, note)
        if service:
            out["idleCpu"] = await idle_cpu(service, config.idle_seconds)
            out["serviceLog"] = log_problems(service.child.output())
    return out


async def starts_under_load(
    config: BenchConfig, workdir: Path, url: str, waited: dict[str, Any]
) -> dict[str, Any]:
    """Starts without waiting (201), one every :data:`START_PROBE_INTERVAL`, while W3 runs at the
    configured concurrency: the latency a client sees when it starts an execution on a busy service.

    (A flood of starts at concurrency C measures their throughput instead: by Little's law its latency is
    at least C over the starts per second, whatever one start costs. ``start-flood`` keeps that figure.)
    """
    measuring = asyncio.Event()
    background = asyncio.create_task(load(config, workdir, "start-w3", url, **waited, measuring=measuring))
    warmed = asyncio.create_task(measuring.wait())
    probes = max(20, min(200, config.count // 15))
    try:
        await asyncio.wait([background, warmed], return_when=asyncio.FIRST_COMPLETED)
        result = await load(
            config,
            workdir,
            "start",
            url,
            api_key=waited["api_key"],
            expect_status=201,
            concurrency=1,
            count=probes,
            warmup=0,
            interval=START_PROBE_INTERVAL,
        )
        result["underLoad"] = measuring.is_set() and not background.done()
    finally:
        warmed.cancel()
        loaded = await background
    result["load"] = {key: loaded[key] for key in ("completed", "errors", "rate")}
    return result


async def _service(
    stack: AsyncExitStack, workdir: Path, name: str, extra_env: dict[str, str] | None = None
) -> Service:
    note(f"starting flowker serve ({name}); Ray takes a few seconds")
    service = await start_service(workdir, name, extra_env)
    stack.callback(_stop_service, service)
    note(f"{name} listening on {service.url}")
    return service


def _stop_service(service: Service) -> None:
    note("stopping flowker serve (SIGTERM)")
    code = service.stop()
    note(f"flowker serve exited with {code}")


def log_problems(text: str, samples: int = 5) -> dict[str, Any]:
    """Error lines and tracebacks in a service log: how many, and the first few distinct ones."""
    problems = [
        line.strip()
        for line in text.splitlines()
        if re.search(r"\b(ERROR|CRITICAL)\b|Traceback|Error:", line) and "Token authentication" not in line
    ]
    distinct = list(dict.fromkeys(re.sub(r"[0-9a-f-]{36}", "<id>", p)[:300] for p in problems))
    return {"count": len(problems), "samples": distinct[:samples]}


async def audit(config: BenchConfig, workdir: Path) -> list[dict[str, Any]]:
    """Events/s through the audit actor per call size, and whether the chain verified (own process)."""
    ray_tmp = tempfile.mkdtemp(prefix="fkb-", dir="/tmp")
    sizes = ",".join(str(s) for s in config.audit_sizes)
    argv = module(
        "bench.audit",
        f"--events={config.audit_events}",
        f"--sizes={sizes}",
        f"--callers={config.audit_callers}",
        f"--workdir={workdir / 'audit'}",
    )
    note(f"audit: {config.audit_events} events in calls of {sizes} from {config.audit_callers} callers")
    child = Child("audit", argv, child_env(ray_tmp), workdir / "audit.json", stderr=None)
    try:
        results: list[dict[str, Any]] = await child.result(within=config.load_seconds + 180)
    finally:
        child.stop()
        shutil.rmtree(ray_tmp, ignore_errors=True)
    for r in results:
        state = "valid" if r["valid"] else f"INVALID ({r['message']})"
        note(f"audit: {r['size']}/call: {r['eventsPerSecond']:.0f} events/s; chain {state}, {r['checked']}")
    return results


async def waiting(config: BenchConfig, workdir: Path) -> dict[str, Any]:
    """Memory of executions waiting on a slow provider, then how many of them completed."""
    count, delay = config.waiting, config.waiting_delay
    async with AsyncExitStack() as stack:
        stub, stub_url = await start_http_child("slow-stub", module("bench.stub", "--delay=0"), workdir)
        stack.callback(stub.stop)
        service = await _service(stack, workdir, "flowker-waiting")
        api = await stack.enter_async_context(Api(service))
        http = await stack.enter_async_context(aiohttp.ClientSession())
        workflow_id = await w3.create(api, stub_url, call_seconds=int(delay * 3) + 10)
        # Warm up with a fast provider: the executor actor and its pool exist before "before" is taken.
        warm = 8
        await asyncio.gather(*(w3.check_once(api, workflow_id) for _ in range(warm)))
        await _post(http, f"{stub_url}/_delay", {"seconds": delay})
        await asyncio.sleep(2)
        before, before_tree = await _sample(service)
        note(f"waiting: {before / 2**20:.0f} MiB PSS in {before_tree.processes} processes before")
        url = f"{service.url}/v1/workflows/{workflow_id}/executions"
        starts = {"api_key": service.api_key, "count": count, "warmup": 0, "expect_status": 201}
        started = await load(config, workdir, "waiting-start", url, **starts)
        accepted = started["completed"]
        stats = await _settle(http, stub_url, accepted + warm, delay)
        during, during_tree = await _sample(service)
        decided = stats["answered"].get("/decide", 0) - warm
        held = accepted - decided
        note(
            f"waiting: {held} held ({stats['inflight']} at the provider), {during / 2**20:.0f} MiB PSS"
            f" in {during_tree.processes} processes"
        )
        growth = before_tree.growth(during_tree)
        for change in growth[:3]:
            note(f"waiting: {change['name']} (pid {change['pid']}) grew {change['kb']:,.0f} KB")
        ended = await _wait_for_end(http, stub_url, accepted + warm, delay, count)
        drained = await api.drain(60, note)
        completed = await api.count("completed", workflow_id) - warm
        failed = await api.count("failed", workflow_id)
        note(f"waiting: {completed}/{count} completed, {failed} failed")
        out = {
            "count": count,
            "delay": delay,
            "accepted": accepted,
            "acceptRate": started["rate"],
            "startErrors": started["errors"],
            "startErrorMessages": started["errorMessages"],
            "pssBefore": before,
            "pssDuring": during,
            "processesBefore": before_tree.processes,
            "processesDuring": during_tree.processes,
            "growth": growth,
            "held": held,
            "atProvider": stats["inflight"],
            "kbPerExecution": (during - before) / held / 1024 if held > 0 else None,
            "allEnded": ended and drained,
            "completed": completed,
            "failed": failed,
            "serviceLog": log_problems(service.child.output()),
        }
    return out


async def _sample(service: Service) -> tuple[int, TreeMemory]:
    """The median of three samples of the service's tree PSS in bytes, and the last sample."""
    samples = []
    for _ in range(3):
        samples.append(tree_pss(service.child.pid))
        await asyncio.sleep(SAMPLE_GAP)
    return int(median([s.pss for s in samples]) or 0), samples[-1]


async def _post(http: aiohttp.ClientSession, url: str, body: Any) -> Any:
    async with http.post(url, json=body) as response:
        response.raise_for_status()
        return await response.json()


async def _stats(http: aiohttp.ClientSession, stub_url: str) -> dict[str, Any]:
    async with http.get(f"{stub_url}/_stats") as response:
        return await response.json()


async def _settle(http: aiohttp.ClientSession, stub_url: str, accepted: int, delay: float) -> dict[str, Any]:
    """The stub's counts once ``accepted`` executions have reached it (or a third of the delay passed)."""
    deadline = time.monotonic() + delay / 3
    while True:
        stats = await _stats(http, stub_url)
        reached = stats["inflight"] + stats["answered"].get("/decide", 0)
        if reached >= accepted or time.monotonic() > deadline:
            return stats
        await asyncio.sleep(0.1)


async def _wait_for_end(
    http: aiohttp.ClientSession, stub_url: str, expected: int, delay: float, count: int
) -> bool:
    """Wait until the provider answered ``expected`` decide calls; ``False`` if that took too long."""
    deadline = time.monotonic() + 2 * delay + count / 20 + 120
    last_note = time.monotonic()
    while time.monotonic() < deadline:
        stats = await _stats(http, stub_url)
        decided = stats["answered"].get("/decide", 0)
        if decided >= expected:
            return True
        if time.monotonic() - last_note > 5:
            note(f"waiting: {decided}/{expected} decided, {stats['inflight']} calls at the provider")
            last_note = time.monotonic()
        await asyncio.sleep(0.5)
    return False
