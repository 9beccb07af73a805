"""Memory of a process tree: the PSS of a process and all its descendants, summed; or each one's.

PSS (proportional set size) counts a page shared by several processes once in total, split between
them, so the sum over Flowker's and Ray's processes is what they really take together. USS (unique
set size) counts only the pages no other process maps: what a process would give back if it exited.
"""

from __future__ import annotations

import contextlib
import importlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

try:
    import psutil
except ModuleNotFoundError:
    # Ray bundles psutil and puts it on sys.path when it is imported.
    importlib.import_module("ray")
    import psutil

__all__ = ["ProcessMemory", "TreeMemory", "process_tree", "psutil", "short_name", "tree_pss"]


@dataclass(frozen=True)
class TreeMemory:
    """PSS of each process of a tree, in bytes, by pid (with a short name for each)."""

    pss_by_pid: dict[int, int]
    names: dict[int, str]

    @property
    def pss(self) -> int:
        """The PSS of the whole tree."""
        return sum(self.pss_by_pid.values())

    @property
    def processes(self) -> int:
        return len(self.pss_by_pid)

    def growth(self, later: TreeMemory, top: int = 5) -> list[dict[str, Any]]:
        """The processes whose PSS grew most from this sample to ``later`` (new processes included)."""
        changes = []
        for pid, pss in later.pss_by_pid.items():
            before = self.pss_by_pid.get(pid)
            grown = (pss - (before or 0)) / 1024
            changes.append({"pid": pid, "name": later.names[pid], "kb": grown, "new": before is None})
        changes.sort(key=lambda change: change["kb"], reverse=True)
        return changes[:top]


def tree_pss(pid: int) -> TreeMemory:
    """The PSS of process ``pid`` and every descendant of it that can still be read."""
    tree = process_tree(pid)
    return TreeMemory({p: m.pss for p, m in tree.items()}, {p: m.name for p, m in tree.items()})


@dataclass(frozen=True)
class ProcessMemory:
    """One process of a tree: its short name and its RSS, USS and PSS in bytes."""

    pid: int
    name: str
    rss: int
    uss: int
    pss: int


def process_tree(pid: int) -> dict[int, ProcessMemory]:
    """RSS, USS and PSS of process ``pid`` and of every descendant of it that can still be read."""
    root = psutil.Process(pid)
    out: dict[int, ProcessMemory] = {}
    for process in [root, *root.children(recursive=True)]:
        with contextlib.suppress(psutil.NoSuchProcess, psutil.ZombieProcess, psutil.AccessDenied):
            info = process.memory_full_info()
            out[process.pid] = ProcessMemory(process.pid, short_name(process), info.rss, info.uss, info.pss)
    return out


def short_name(process: psutil.Process) -> str:
    """A process's short name: its Ray title (``ray::ExecutorActor``) or its first words."""
    # Ray titles a worker after its actor or its current task ("ray::ExecutorActor.call").
    cmdline = process.cmdline()
    if cmdline and cmdline[0].startswith("ray::"):
        return cmdline[0].split(".")[0]
    return " ".join(Path(part).name for part in cmdline[:3])[:60] or process.name()
