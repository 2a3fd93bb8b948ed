"""Memory and CPU time of this process and the processes it started (the render pool's
forkserver and workers), read from Linux's /proc: the figures a benchmark prints beside its
wall time, since on a shared machine wall time alone says little."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class ProcessFigures:
    pid: int
    name: str
    peak_rss_mb: float  # VmHWM: the most resident memory the process ever had
    rss_mb: float  # VmRSS now
    cpu_seconds: float  # user + system, all its threads, since it started


def _status(pid: int) -> dict[str, str]:
    fields: dict[str, str] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        fields[key] = value.strip()
    return fields


def _kb(value: str) -> float:
    return float(value.split()[0]) / 1024.0 if value else 0.0


def figures(pid: int, depth: int = 0) -> ProcessFigures | None:
    try:
        status = _status(pid)
        stat = Path(f"/proc/{pid}/stat").read_text()
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except (FileNotFoundError, ProcessLookupError):
        return None  # it ended meanwhile
    # Fields after the command name (which may hold spaces) in parentheses.
    rest = stat[stat.rindex(")") + 2 :].split()
    cpu = (int(rest[11]) + int(rest[12])) / TICKS  # utime, stime
    return ProcessFigures(
        pid=pid,
        name=_role(cmdline, depth),
        peak_rss_mb=_kb(status.get("VmHWM", "")),
        rss_mb=_kb(status.get("VmRSS", "")),
        cpu_seconds=cpu,
    )


def _role(cmdline: str, depth: int) -> str:
    if "resource_tracker" in cmdline:
        return "resource tracker"
    if "forkserver" in cmdline:
        # The pool's workers fork from the forkserver without exec: the same command line,
        # one level further down.
        return "forkserver" if depth == 1 else "render worker"
    if depth == 0:
        return "this process"
    return cmdline.split(" ")[0].rsplit("/", 1)[-1] or "?"


def descendants(pid: int | None = None) -> list[tuple[int, int]]:
    """(pid, depth) of every process below `pid` (default this one), children first."""
    root = pid or os.getpid()
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
        parents[int(entry.name)] = int(stat[stat.rindex(")") + 2 :].split()[1])
    found: list[tuple[int, int]] = []
    frontier = [root]
    depth = 0
    while frontier:
        depth += 1
        children = sorted(p for p, parent in parents.items() if parent in frontier)
        found += [(child, depth) for child in children]
        frontier = children
    return found


def family() -> list[ProcessFigures]:
    """This process and every process below it."""
    found = [figures(pid, depth) for pid, depth in [(os.getpid(), 0), *descendants()]]
    return [f for f in found if f is not None]
