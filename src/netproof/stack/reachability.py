"""The reachability a compose project relies on, derived from compose's own semantics, as a truth table: each cell
a source (a service, or the outside host), a target and the answer expected; observed by probes on a lab (jobs/
replay), then right or wrong, "N wrong" (as Cyclonus draws it). Pure: expectations, the table and its rendering.

The rules (Docker's, as compose users rely on them):
  - services sharing a network reach each other by service name and by alias, on every port the target serves;
  - a service never reaches another's address on a network it is not on (Docker isolates its bridges);
  - a service reaches the outside only through a network that is not `internal`;
  - a published port answers from the outside host at the docker host's address, and the service sees the client's
    own address; a port bound to another address, or only exposed, does not answer there.
A user's intent (x-netproof: intents:) replaces the derived answer for its cell, or adds a cell.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from netproof.stack.project import ANY_ADDRESS, OUTSIDE, Project

NAME, ADDRESS, EGRESS, PUBLISHED = "name", "address", "egress", "published"
STAND_IN_PORT = 8080  # what a service that serves no port of its own is probed on (its stand-in serves it)


@dataclass(frozen=True)
class Cell:
    source: str  # a service, or OUTSIDE
    target: str  # "db:5432" (by name), "db@private" (by address), "outside", "host:80" (published or not)
    kind: str
    expected: bool
    why: str
    service: str = ""  # the service that answers (name, address, published)
    port: int = 0  # the port it serves the probe on
    network: str = ""  # address cells: the target's network
    published: int | None = None  # published cells: the host port; None: Docker picks it (found on the lab)
    client_address: bool = False  # the service must see the client's own address


@dataclass
class Observed:
    """What one probe showed: connected or not (None: the probe could not be judged: `detail` says why), the
    address the answering stand-in saw the client as, and the probe's own words."""

    connected: bool | None
    detail: str
    seen: str | None = None
    client: str | None = None  # the client's own address, where a cell needs the service to see it


def expected_cells(project: Project, host_address: str) -> list[Cell]:
    cells: list[Cell] = []
    services = project.services
    for source, target in ((a, b) for a in services for b in services if a != b):
        shared = project.sharing(source, target)
        if shared:
            names = [target] + [
                alias for a in services[target].attachments if a.network in shared for alias in a.aliases
            ]
            for name in dict.fromkeys(names):
                for port in services[target].listens or ():
                    why = f"{source} and {target} share {', '.join(shared)}: {name} resolves there"
                    cells.append(Cell(source, f"{name}:{port}", NAME, True, why, target, port))
        for network in services[target].networks:
            if network not in services[source].networks:
                why = f"{source} is not on {network}: Docker isolates its networks"
                port = next(iter(services[target].listens), STAND_IN_PORT)
                cells.append(Cell(source, f"{target}@{network}", ADDRESS, False, why, target, port, network))
    for source, service in services.items():
        if not service.networks:
            continue
        outward = [n for n in service.networks if not project.networks[n].internal]
        why = (f"through {outward[0]}, not internal" if outward
               else f"only on internal {', '.join(service.networks)}")  # fmt: skip
        cells.append(Cell(source, OUTSIDE, EGRESS, bool(outward), why))
    for name, service in services.items():
        published = set()
        for port in (p for p in service.ports if p.protocol == "tcp"):
            published.add(port.target)
            on_host = port.host_ip in ANY_ADDRESS or port.host_ip == host_address
            why = f"{name} publishes {port}" + ("" if on_host else f": bound to {port.host_ip}, not {host_address}")
            label = f"host:{port.published}" if port.published else f"host:<{port.target}>"
            cells.append(
                Cell(
                    OUTSIDE,
                    label,
                    PUBLISHED,
                    on_host,
                    why,
                    name,
                    port.target,
                    published=port.published,
                    client_address=on_host,
                )  # fmt: skip
            )
        for port in (p for p in service.listens if p not in published):
            why = f"{name} exposes {port} without publishing it"
            cells.append(Cell(OUTSIDE, f"host:{port}", PUBLISHED, False, why, name, port, published=port))
    return _with_intents(cells, project)


def _with_intents(cells: list[Cell], project: Project) -> list[Cell]:
    for intent in project.intents:
        if intent.target == "host":
            key = (intent.source, f"host:{intent.port}")
            cell = Cell(OUTSIDE, key[1], PUBLISHED, intent.connects, f"intent: {intent.said}", published=intent.port)
            owner = _owner_of(project, intent.port)
            cell = Cell(**{**asdict(cell), "service": owner, "port": _target_port(project, owner, intent.port)})
        else:
            key = (intent.source, f"{intent.target}:{intent.port}")
            cell = Cell(*key, NAME, intent.connects, f"intent: {intent.said}", intent.target, intent.port)
        cells = [c for c in cells if (c.source, c.target) != key] + [cell]
    return cells


def _owner_of(project: Project, host_port: int) -> str:
    for name, service in project.services.items():
        if any(p.published == host_port for p in service.ports) or host_port in service.listens:
            return name
    return ""


def _target_port(project: Project, owner: str, host_port: int) -> int:
    if not owner:
        return host_port
    return next((p.target for p in project.services[owner].ports if p.published == host_port), host_port)


@dataclass
class Table:
    """Expected against observed, for one placement of the project (a host, an engine, a step of an upgrade)."""

    project: str
    where: str  # "docker1, engine 28.5" or "after docker1 28.5 -> 29.7"
    rows: list[tuple[Cell, Observed]] = field(default_factory=list)

    @staticmethod
    def right(cell: Cell, seen: Observed) -> bool | None:
        """None: not judged (the probe did not run)."""
        if seen.connected is None:
            return None
        if seen.connected != cell.expected:
            return False
        return not (cell.client_address and seen.connected and seen.client and seen.seen != seen.client)

    @property
    def wrong(self) -> list[tuple[Cell, Observed]]:
        return [(c, o) for c, o in self.rows if self.right(c, o) is False]

    @property
    def unjudged(self) -> list[tuple[Cell, Observed]]:
        return [(c, o) for c, o in self.rows if self.right(c, o) is None]

    def summary(self) -> str:
        parts = [f"{len(self.rows)} cells", f"{len(self.wrong)} wrong"]
        if self.unjudged:
            parts.append(f"{len(self.unjudged)} not judged")
        return ", ".join(parts)

    def to_dict(self) -> dict:
        return {
            "project": self.project,
            "where": self.where,
            "wrong": len(self.wrong),
            "not_judged": len(self.unjudged),
            "cells": [{**asdict(c), "observed": asdict(o), "right": self.right(c, o)} for c, o in self.rows],
        }

    @classmethod
    def from_dict(cls, data: dict) -> Table:
        rows = []
        for cell in data["cells"]:
            fields = {k: v for k, v in cell.items() if k not in ("observed", "right")}
            rows.append((Cell(**fields), Observed(**cell["observed"])))
        return cls(data["project"], data["where"], rows)

    def symbol(self, cell: Cell, seen: Observed) -> str:
        """`.` connects, `x` does not, as expected; `!.` `!x` the same, wrongly; `?` not judged."""
        right = self.right(cell, seen)
        if right is None:
            return "?"
        mark = "." if seen.connected else "x"
        return mark if right else "!" + mark

    def render_terminal(self) -> str:
        """A row per target, a column per source (a project has few sources and many targets)."""
        sources = list(dict.fromkeys(c.source for c, _ in self.rows))
        targets = list(dict.fromkeys(c.target for c, _ in self.rows))
        at = {(c.source, c.target): self.symbol(c, o) for c, o in self.rows}
        width = max(len(t) for t in [*targets, "to \\ from"]) + 2
        lines = [f"{self.project} on {self.where}: {self.summary()}"]
        lines.append("to \\ from".ljust(width) + "  ".join(sources))
        for target in targets:
            marks = [at.get((s, target), "").center(len(s)) for s in sources]
            lines.append(target.ljust(width) + "  ".join(marks).rstrip())
        lines.append("  . connects   x does not   ! wrong   ? not judged (the probe did not run)")
        for cell, seen in self.wrong + self.unjudged:
            expected = "should connect" if cell.expected else "should not connect"
            lines.append(f"  {self.symbol(cell, seen)} {cell.source} -> {cell.target}: {expected} ({cell.why}); "
                         f"{seen.detail}")  # fmt: skip
        return "\n".join(lines)


def changed(before: Table, after: Table) -> list[str]:
    """The cells whose answer changed between two tables of one project (a step of an upgrade): what a user would
    see change."""
    was = {(c.source, c.target): before.symbol(c, o) for c, o in before.rows}
    lines = []
    for cell, seen in after.rows:
        key = (cell.source, cell.target)
        now = after.symbol(cell, seen)
        if key in was and was[key] != now:
            lines.append(f"{cell.source} -> {cell.target}: {was[key]} -> {now} ({seen.detail})")
    return lines
