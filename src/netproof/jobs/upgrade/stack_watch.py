"""A compose project carried across the upgrade (issue 35): made by the *old* engine before the first step, on every
docker host (netproof's own labs/stacks/shop.compose.yaml), or on the first for a user's own (`--workload`); after
each step, the same containers, networks and published ports (never made again) observed by packets: the truth table
of jobs/replay against the one before the upgrade. A cell right before and wrong after is a regression of the
restore path (the new dockerd adopting what the old one made); a container restarted under live-restore is one too.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from netproof import system
from netproof.jobs.replay import Replay, write
from netproof.jobs.upgrade.outcome import Finding, Upgrade
from netproof.lab.lab import Lab
from netproof.lab.model.loader import SHIPPED
from netproof.progress import QUIET, Progress
from netproof.stack.project import Project
from netproof.stack.reachability import Table, changed

SHOP = SHIPPED / "stacks" / "shop.compose.yaml"  # netproof's own workload, carried with the topology files
RESTORE = "a regression of the restore path (the new engine adopting what the old one made)"


@dataclass
class StackWatch:
    project: Project
    replays: list[Replay] = field(default_factory=list)
    before: dict[str, Table] = field(default_factory=dict)  # per host, before the first step
    started_at: dict[str, dict[str, str]] = field(default_factory=dict)  # per host, per container: State.StartedAt
    tables: list[Table] = field(default_factory=list)  # every table, in order

    @classmethod
    def start(cls, lab: Lab, project: Project, everywhere: bool, result: Upgrade, progress: Progress) -> StackWatch:
        """The project on every docker host (`everywhere`) or the first, and its table before the upgrade; where it
        cannot be placed, a finding that says why (the upgrade still says the rest)."""
        watch = cls(project)
        hosts = lab.docker_hosts if everywhere else lab.docker_hosts[:1]

        def place(host) -> Replay | Exception:
            try:
                return Replay.place(lab, project, host, QUIET)
            except Exception as e:  # noqa: BLE001 - said as a finding
                return e

        with progress.step(f"workload: {project.name} on {', '.join(h.name for h in hosts)}, stood in"):
            placed_on = system.parallel(place, hosts)
        for host, placed in zip(hosts, placed_on, strict=True):
            if isinstance(placed, Exception):
                text = f"the workload {project.name} could not be made before the upgrade: {placed}"
                result.findings.append(Finding(host.name, text, bad=False))
            else:
                watch.replays.append(placed)
        engine = lab.topology.docker_hosts[0].engine
        tables = watch._observe(lab, watch.replays, f"before, on {engine}", progress)
        for replay, table in zip(watch.replays, tables, strict=True):
            watch.before[replay.placement.host.name] = table
            watch.started_at[replay.placement.host.name] = replay.placement.started_at()
        return watch

    def _observe(self, lab: Lab, replays: list[Replay], when: str, progress: Progress) -> list[Table]:
        with progress.step(f"workload: {self.project.name}'s truth table on {len(replays)} hosts ({when})"):
            tables = system.parallel(lambda r: r.observe(lab, f"{r.placement.host.name}, {when}", QUIET), replays)
        for table in tables:
            progress.say(f"  {table.project} on {table.where}: {table.summary()}")
        self.tables += tables
        return tables

    def after_step(self, lab: Lab, engine: str, progress: Progress) -> list[Finding]:
        """The same stand-ins after the step: started again where their restart policy left them stopped (as
        `docker compose up -d` would), then every cell probed again; each cell that broke is a finding."""
        found = []
        live_restore = {h.name for h in lab.topology.docker_hosts if h.daemon.get("live-restore")}
        for replay in self.replays:
            host = replay.placement.host.name
            try:
                was_started = replay.placement.started_at()
                again = replay.placement.restarted()
            except Exception as e:  # noqa: BLE001 - the engine does not answer, or a stand-in is gone: a finding
                found.append(Finding(host, f"the workload {self.project.name} is not whole on {engine}: {e}"))
                continue
            if again:
                found.append(Finding(host, f"{self.project.name}: started again after the engine change, as "
                                     f"`docker compose up -d` would: {', '.join(again)}", bad=False))  # fmt: skip
            if host in live_restore:
                moved = [c for c, t in was_started.items() if self.started_at[host].get(c) != t]
                if moved:
                    found.append(Finding(host, f"{self.project.name}: with live-restore, containers restarted on "
                                         f"{engine}: {', '.join(moved)}; {RESTORE}"))  # fmt: skip
        alive = [r for r in self.replays if r.placement.host.name not in {f.host for f in found if f.bad}]
        for replay, table in zip(alive, self._observe(lab, alive, f"after {engine}", progress), strict=True):
            found += self._compared(replay.placement.host.name, table, engine)
        return found

    def _compared(self, host: str, table: Table, engine: str) -> list[Finding]:
        before = self.before.get(host)
        if before is None:
            return []
        was = {(c.source, c.target): before.right(c, o) for c, o in before.rows}
        found = []
        for cell, seen in table.rows:
            right = table.right(cell, seen)
            if was.get((cell.source, cell.target)) is True and right is False:
                expected = "should connect" if cell.expected else "should not connect"
                text = (f"{self.project.name}: {cell.source} -> {cell.target} {expected} ({cell.why}), as it did "
                        f"before the upgrade; on {engine}: {seen.detail}; {RESTORE}")  # fmt: skip
                found.append(Finding(host, text))
            elif was.get((cell.source, cell.target)) is True and right is None:
                found.append(Finding(host, f"{self.project.name}: {cell.source} -> {cell.target} could not be "
                                     f"judged on {engine}: {seen.detail}", bad=False))  # fmt: skip
        if not found and changed(before, table):
            found.append(Finding(host, f"{self.project.name}: " + "; ".join(changed(before, table)), bad=False))
        return found

    def write(self, folder: Path) -> None:
        if self.tables:
            write(folder / "workload", self.tables, self.project.notes)

    def remove(self) -> list[str]:
        return [problem for r in self.replays for problem in r.remove()]
