"""`netproof matrix`: the same topology's checks on several engines, one lab per engine brought up and down in turn,
and one report of them all (report/matrix.py). Each column's own report (results.json, index.html) stays beside the
matrix, so every cell's evidence is one click away.

What a column costs is measured as it runs: its wall time, and the machine's CPU time meanwhile (every core's,
from /proc/stat), which on a netns lab includes the engines' own.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from netproof import catalogue
from netproof.jobs import checkrun
from netproof.lab.lab import Lab
from netproof.lab.model.topology import Topology
from netproof.progress import Progress
from netproof.report import matrix as page
from netproof.report.matrix import Column


def machine_cpu_seconds() -> float:
    """CPU time this machine has spent busy since boot, every core's summed (/proc/stat's first line)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle and iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def run_matrix(
    topology: Topology,
    engines: list[str],
    folder: Path,
    progress: Progress,
    *,
    provider: str | None = None,
    select: str | None = None,
) -> tuple[dict, Path]:
    """Each engine's column in turn, then the matrix written into folder; the matrix and its page."""
    checks = checkrun.checks_dir()
    columns = []
    for index, engine in enumerate(engines, 1):
        progress.say(f"matrix: column {index} of {len(engines)}, Docker {engine}")
        began, cpu = time.monotonic(), machine_cpu_seconds()
        lab = Lab.up(topology.with_overrides(engine=engine), provider=provider, progress=progress)
        try:
            results = checkrun.run(lab.name, folder / engine, checks=checks, select=select, footprint=False)
        finally:
            lab.down(progress)
        column = Column(engine, results, engine, time.monotonic() - began, machine_cpu_seconds() - cpu)
        progress.say(f"  Docker {engine}: {column.seconds:.0f} s, {column.cpu_seconds:.0f} CPU-s; {results.counts()}")
        columns.append(column)
    built = page.build(columns, catalogue.load(checks))
    return built, page.write(built, folder)
