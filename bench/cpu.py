"""CPU time per process kind: snapshots of each process's user + system seconds, and their differences.

A snapshot reads ``cpu_times()`` of the processes the harness started (the stub, the relay) and of
``flowker serve`` with every descendant (Ray's processes and Flowker's actors). Two snapshots around a
load run give the CPU seconds each kind of process spent on it; divided by the executions completed,
the CPU per execution; around an idle pause, divided by its length, the CPU spent doing nothing.

A process that appears between two snapshots is counted from zero (it was started inside the window);
one that ended inside the window cannot be read any more: its share is lost, and :func:`usage` says how
many there were.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from bench.memory import psutil, short_name

FRONT_DOOR = "front door"
SUPERVISORS = "supervisors"
EXECUTORS = "executors"
AUDIT = "audit"
#: An actor of a class this harness does not know yet (so that a new one shows up rather than hides).
OTHER_ACTORS = "other actors"
RAYLET = "ray: raylet"
GCS = "ray: gcs_server"
RAY_OTHERS = "ray: others"
STUB = "stub provider"
RELAY = "relay"
LOAD = "load generator"

#: Flowker's processes, in the order the table lists them.
FLOWKER_KINDS = (FRONT_DOOR, SUPERVISORS, EXECUTORS, AUDIT, OTHER_ACTORS)
#: Ray's own processes.
RAY_KINDS = (RAYLET, GCS, RAY_OTHERS)
SERVICE_KINDS = FLOWKER_KINDS + RAY_KINDS

#: Flowker's actors, by the class Ray titles their process after.
ACTORS = {"ray::SupervisorActor": SUPERVISORS, "ray::ExecutorActor": EXECUTORS, "ray::AuditActor": AUDIT}


def kind_of(name: str) -> str:
    """The kind of a descendant of ``flowker serve``, from its :func:`~bench.memory.short_name`."""
    if name in ACTORS:
        return ACTORS[name]
    # Flowker's actor classes are all named "…Actor"; Ray's own workers are not ("ray::IDLE",
    # "ray::DashboardAgent", "ray::RuntimeEnvAgent", "ray::JobSupervisor") or are private ("ray::_…").
    if name.startswith("ray::") and name.endswith("Actor") and not name.startswith("ray::_"):
        return OTHER_ACTORS
    first = name.split()[0] if name.split() else ""
    if first == "raylet":
        return RAYLET
    if first == "gcs_server":
        return GCS
    return RAY_OTHERS


@dataclass(frozen=True)
class Seen:
    """One process in a snapshot: its kind, the CPU seconds (user + system) it had spent, its name."""

    kind: str
    seconds: float
    name: str = ""


@dataclass(frozen=True)
class Usage:
    """CPU seconds per kind between two snapshots, and how many processes came and went meanwhile."""

    seconds: dict[str, float]
    started: int = 0
    ended: int = 0
    processes: dict[str, int] = field(default_factory=dict)
    #: The names of the "other actors" seen (an actor class this harness does not classify yet).
    others: tuple[str, ...] = ()

    def total(self, kinds: Iterable[str]) -> float:
        return sum(self.seconds.get(kind, 0.0) for kind in kinds)


Snapshot = dict[int, Seen]


def usage(before: Snapshot, after: Snapshot) -> Usage:
    """What each kind spent from ``before`` to ``after`` (a pid reused for another kind counts anew)."""
    seconds: dict[str, float] = {}
    processes: dict[str, int] = {}
    started = 0
    for pid, now in after.items():
        then = before.get(pid)
        if then is None or then.kind != now.kind or then.seconds > now.seconds:
            started += 1
            spent = now.seconds
        else:
            spent = now.seconds - then.seconds
        seconds[now.kind] = seconds.get(now.kind, 0.0) + spent
        processes[now.kind] = processes.get(now.kind, 0) + 1
    ended = sum(1 for pid, then in before.items() if pid not in after or after[pid].kind != then.kind)
    others = tuple(sorted({seen.name for seen in after.values() if seen.kind == OTHER_ACTORS}))
    return Usage(seconds, started, ended, processes, others)


def per_unit_ms(spent: Usage, units: float, kinds: Iterable[str]) -> dict[str, float | None]:
    """Milliseconds of CPU per unit (execution, request or second) for each of ``kinds``."""
    return {kind: (spent.seconds.get(kind, 0.0) * 1000 / units if units > 0 else None) for kind in kinds}


def snapshot(service: int | None, named: Mapping[int, str]) -> Snapshot:
    """CPU seconds of ``service`` and its descendants (kind by name) and of ``named`` (kind by pid, first)."""
    out: Snapshot = {}
    for pid, kind in named.items():
        with contextlib.suppress(psutil.Error):
            out[pid] = Seen(kind, _seconds(psutil.Process(pid)))
    if service is None:
        return out
    with contextlib.suppress(psutil.Error):
        root = psutil.Process(service)
        out[service] = Seen(FRONT_DOOR, _seconds(root))
        for process in root.children(recursive=True):
            if process.pid in named:
                continue
            with contextlib.suppress(psutil.Error):
                name = short_name(process)
                out[process.pid] = Seen(kind_of(name), _seconds(process), name)
    return out


def _seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return float(times.user + times.system)


def summary(spent: Usage, units: float, load_seconds: float | None = None) -> dict[str, object]:
    """CPU ms per unit for each kind seen, Flowker's, Ray's, the service's and everything's; as JSON.

    ``load_seconds``: the load generator's own CPU over the same window, which it measures itself
    (it has ended by the time the harness could read it).
    """
    seconds = dict(spent.seconds)
    if load_seconds is not None:
        seconds[LOAD] = load_seconds
    totals = {
        "flowker": FLOWKER_KINDS,
        "ray": RAY_KINDS,
        "service": SERVICE_KINDS,
        "total": (*SERVICE_KINDS, STUB, RELAY, LOAD),
    }
    for name, kinds in totals.items():
        seconds[name] = sum(seconds.get(kind, 0.0) for kind in kinds)
    every = Usage(seconds)
    return {
        "units": units,
        "seconds": seconds,
        "ms": per_unit_ms(every, units, seconds),
        "processes": spent.processes,
        "started": spent.started,
        "ended": spent.ended,
        "otherActors": list(spent.others),
    }
