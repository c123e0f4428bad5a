"""What the doctor found: one finding per requirement, subject and host pair, and the tables and
one-line causes made from them. Pure data: the doctor makes it, the CLI prints it, the pytest
plugin carries it to its workers and attributes checks' failures with it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

# The requirements, in the order the doctor reports them: what Docker needs of the network under it.
REQUIREMENTS = {
    "engine": "dockerd answers on every docker host",
    "host": "each docker host's own settings Docker relies on: IPv4 forwarding, its underlay interface up at its MTU",
    "ipv6": "IPv6 forwarding on each docker host whose Docker leaves it to the host (the nftables backend)",
    "reachability": "IP reachability between docker hosts' underlay addresses (ICMP echo, both ways)",
    "routing": "routes and forwarding on the path",
    "ports": "the control plane's ports between nodes (a packet sent, seen arriving at the far end)",
    "mtu": "path MTU between docker hosts (largest don't-fragment packet that arrives)",
    "control-plane": "the control plane's own state",
    "outside": "the outside host (the lab's external network) and its web and DNS servers, from every docker host",
}


@dataclass(frozen=True)
class Finding:
    requirement: str  # a key of REQUIREMENTS
    subject: str  # the table's column: "ping", "7946/udp", "path MTU", "node"
    src: str  # the host it was proven from (or about, for one-host findings)
    dst: str | None  # the far end, for a pair
    ok: bool | None  # None: could not tell (a tool missing): neither proven nor disproven
    observed: str  # the table's cell: "ok", "not received", "1400", ...
    cause: str | None = None  # one line for a failure: what, between which hosts, what Docker needs

    @property
    def hosts(self) -> tuple[str, ...]:
        return (self.src, self.dst) if self.dst else (self.src,)

    @property
    def said(self) -> str:
        """Its cause; a failure without one (a service not asked for when the way to it is broken) in its cells."""
        return self.cause or f"{self.row}: {self.subject} {self.observed}"

    @property
    def row(self) -> str:
        return f"{self.src} -> {self.dst}" if self.dst else self.src


@dataclass
class Diagnosis:
    lab: str
    control_plane: str
    findings: list[Finding] = field(default_factory=list)
    seconds: float = 0.0
    # Hosts every check leans on whatever its own hosts are: the swarm manager, the kv store.
    shared_hosts: tuple[str, ...] = ()

    @property
    def healthy(self) -> bool:
        return not self.failures

    @property
    def outside_hosts(self) -> tuple[str, ...]:
        """The hosts that stand for the external network, as the doctor examined them (the checks that probe it lean
        on them)."""
        return tuple(sorted({f.dst for f in self.findings if f.requirement == "outside" and f.dst}))

    @property
    def failures(self) -> list[Finding]:
        return [f for f in self.findings if f.ok is False]

    def causes_for(self, hosts: tuple[str, ...] | list[str], requirements: tuple[str, ...] | None = None) -> list[str]:
        """The causes of failures, of those requirements (default all), that a check on these hosts depends on:
        between its own hosts and, for a case that needs the control plane, the hosts every overlay leans on (a worker
        cut from the manager cannot attach to an overlay; a bridge on it does not need the manager)."""
        leans = requirements is None or "control-plane" in requirements
        involved = set(hosts) | (set(self.shared_hosts) if leans else set())
        return [
            f.said
            for f in self.failures
            if set(f.hosts) <= involved and (requirements is None or f.requirement in requirements)
        ]

    def tables(self) -> list[tuple[str, list[str], list[list[str]]]]:
        """Per requirement: its title, its columns and one row per host or pair."""
        tables = []
        for requirement, title in REQUIREMENTS.items():
            found = [f for f in self.findings if f.requirement == requirement]
            if not found:
                continue
            subjects = list(dict.fromkeys(f.subject for f in found))
            rows: dict[str, dict[str, str]] = {}
            for f in found:
                mark = {True: "", False: "FAIL ", None: "? "}[f.ok]
                rows.setdefault(f.row, {})[f.subject] = mark + f.observed
            table = [[row, *(cells.get(s, "-") for s in subjects)] for row, cells in rows.items()]
            tables.append((title, ["host" if all(f.dst is None for f in found) else "pair", *subjects], table))
        return tables

    def render(self) -> str:
        """The doctor's terminal output: a table per requirement, then one line per failure."""
        lines = [f"lab {self.lab}: doctor ({self.control_plane}), {self.seconds:.1f}s"]
        for title, columns, rows in self.tables():
            widths = [max(len(str(r[i])) for r in [columns, *rows]) for i in range(len(columns))]
            lines += ["", title]
            for r in [columns, *rows]:
                lines.append("  " + "  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
        unknown = [f for f in self.findings if f.ok is None]
        if self.failures:
            lines += ["", f"{len(self.failures)} requirement(s) not met:"]
            lines += [f"  FAIL {f.said}" for f in self.failures]
        if unknown:
            lines += ["", "could not tell:"] + [f"  ? {f.row}: {f.subject}: {f.observed}" for f in unknown]
        lines += [
            "",
            "every requirement holds" if self.healthy else "the lab's network does not give Docker what it needs",
        ]
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return {
            "lab": self.lab,
            "control_plane": self.control_plane,
            "seconds": round(self.seconds, 2),
            "healthy": self.healthy,
            "shared_hosts": list(self.shared_hosts),
            "findings": [asdict(f) for f in self.findings],
        }

    @classmethod
    def from_dict(cls, data: dict) -> Diagnosis:
        return cls(
            data["lab"],
            data["control_plane"],
            [Finding(**f) for f in data["findings"]],
            data.get("seconds", 0.0),
            tuple(data.get("shared_hosts", ())),
        )
