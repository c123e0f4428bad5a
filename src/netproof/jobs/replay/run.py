"""`netproof replay compose.yaml`: a user's compose project on a lab, and its truth table (stack/reachability.py).
The doctor examines the lab first: a cell that a broken lab explains is not judged, never Docker's."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from netproof import outcomes
from netproof.doctor.examination import examine
from netproof.errors import ExitStatus, NetproofError
from netproof.jobs.base import one_lab
from netproof.lab import compose
from netproof.lab.lab import Lab
from netproof.lab.providers.base import LabHost
from netproof.progress import Progress
from netproof.report import stack as page
from netproof.stack.project import Project
from netproof.stack.reachability import Observed, Table
from netproof.system import write_atomically

from .observe import observe
from .stand_ins import Placement


def read_project(file: Path, progress: Progress, env_file: Path | None = None) -> Project:
    """The project as the real `docker compose config` normalises it (lab/compose.py)."""
    return Project.from_config(compose.config(file, progress, env_file), str(file))


def outside_of(lab: Lab) -> LabHost:
    host = lab.topology.role("outside")
    if host is None:
        raise NetproofError(f"lab {lab.name} has no host with role: outside; a replay probes from it")
    return lab.host(host.name)


def docker_host(lab: Lab, name: str | None) -> LabHost:
    if name is None:
        return lab.docker_hosts[0]
    if name not in {h.name for h in lab.docker_hosts}:
        known = ", ".join(h.name for h in lab.docker_hosts)
        raise NetproofError(f"--host {name}: not a docker host of lab {lab.name} ({known})")
    return lab.host(name)


@dataclass
class Replay:
    """One project placed on one host, observed as often as asked (after each step of an upgrade)."""

    placement: Placement
    outside: LabHost
    tables: list[Table] = field(default_factory=list)

    @classmethod
    def place(cls, lab: Lab, project: Project, host: LabHost, progress: Progress) -> Replay:
        services = len(project.services)
        with progress.step(f"replay: {project.name} on {host.name} ({services} services, stood in)"):
            placement = Placement.make(lab, host, project)
        return cls(placement, outside_of(lab))

    def observe(self, lab: Lab, where: str, progress: Progress) -> Table:
        hosts = [self.placement.host.name, self.outside.name]
        with progress.step(f"replay: the doctor on {', '.join(hosts)}"):
            diagnosis = examine(lab, hosts)
        with progress.step(f"replay: probing {self.placement.project.name}'s reachability ({where})"):
            table = observe(self.placement, self.outside, where)
        if not diagnosis.healthy:  # what a broken lab explains is not Docker's
            broken = "; ".join(f.said for f in diagnosis.failures)[:300]
            table.rows = [(c, o if table.right(c, o) is not False else Observed(None, f"{o.detail}; the doctor "
                           f"found the lab broken: {broken}")) for c, o in table.rows]  # fmt: skip
        self.tables.append(table)
        return table

    def remove(self) -> list[str]:
        return self.placement.remove()


def exit_status(table: Table) -> ExitStatus:
    """By the one rule (outcomes.exit_status): a wrong cell is Docker's, a cell not judged the lab's."""
    return outcomes.exit_status(counts(table))


def counts(table: Table) -> dict[str, int]:
    wrong, unjudged = len(table.wrong), len(table.unjudged)
    return {"passed": len(table.rows) - wrong - unjudged, "failed": wrong, "error": unjudged}


def write(folder: Path, tables: list[Table], notes: list[str]) -> Path:
    """replay.json (every table, every cell), replay.txt (as the terminal shows them) and replay.html (a grid each)."""
    folder.mkdir(parents=True, exist_ok=True)
    write_atomically(folder / "replay.json", json.dumps({"tables": [t.to_dict() for t in tables], "notes": notes},
                                                        indent=2))  # fmt: skip
    text = "\n\n".join(t.render_terminal() for t in tables) + "".join(f"\nnote: {n}" for n in notes) + "\n"
    write_atomically(folder / "replay.txt", text)
    page.write(tables, notes, folder / "replay.html")
    return folder


def replay(
    project: Project, topology, folder: Path, progress: Progress, *, lab_name: str | None = None,
    host: str | None = None, provider: str | None = None,
) -> Table:  # fmt: skip
    """The project on a lab of its own (or on the running lab `lab_name`, left up), observed once; the report
    written to `folder`; everything it made removed."""

    def on(lab: Lab) -> Table:
        replayed = Replay.place(lab, project, docker_host(lab, host), progress)
        try:
            engine = lab.engine_version(replayed.placement.host.name)
            table = replayed.observe(lab, f"{replayed.placement.host.name}, engine {engine}", progress)
        finally:
            left = replayed.remove()
            if left:
                progress.say(f"replay: could not remove {'; '.join(left)}")
        write(folder, [table], project.notes)
        return table

    if lab_name is not None:
        return on(Lab.attach(lab_name, progress))
    with one_lab(topology, progress, provider) as lab:
        return on(lab)
