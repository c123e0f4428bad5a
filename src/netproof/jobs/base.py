"""What every job shares: its reports folder, named in one place, and the lifetime of its lab (brought up for the
job and down after it, whatever happened; or, for `netproof lab up`, left up for the user)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from netproof.lab.lab import Lab
from netproof.lab.model.topology import Topology
from netproof.progress import Progress


def reports_folder(root: str | Path, kind: str = "", detail: str = "") -> Path:
    """reports/<kind>-<detail>-<UTC stamp>: a job's folder, new for each run (a plain run's is the stamp alone)."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return Path(root).resolve() / "-".join(part for part in (kind, detail, stamp) if part)


@contextmanager
def one_lab(topology: Topology, progress: Progress, provider: str | None = None) -> Iterator[Lab]:
    """A lab for the job: up, and down however the job ends (Ctrl-C and a crash included)."""
    lab = Lab.up(topology, provider=provider, progress=progress)
    try:
        yield lab
    finally:
        lab.down(progress)


def lab_left_up(topology: Topology, progress: Progress, provider: str | None = None, keep: bool = False) -> Lab:
    """`netproof lab up`: a lab whose lifetime is the user's (netproof lab down ends it)."""
    return Lab.up(topology, provider=provider, progress=progress, keep=keep)
