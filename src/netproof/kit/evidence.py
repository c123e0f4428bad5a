"""What a check saw, and how it says so when Docker does not keep a promise.

Every check has a Proof: it records evidence as it goes (commands and their output,
interfaces, fdb entries, firewall rules, packet captures) and states its requirements with
`require`. A requirement that does not hold fails the check with one message that names the
check, what Docker promises, what was expected, what was observed, where, and the evidence.
The evidence of passing checks is kept too: it is the mechanism the report shows.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from netproof.errors import LabBroken  # noqa: F401 - checks and probes raise it from here
from netproof.facts.defects import symptoms_in
from netproof.facts.docker import USER_BRIDGE
from netproof.kit.known_defects import look_for
from netproof.lab.providers.base import LabHost
from netproof.system import CommandResult


class CheckFailed(AssertionError):
    """Docker did not do what it promises (the lab itself was fine)."""


@dataclass
class Exhibit:
    title: str
    kind: str  # "command", "text", "json" or "pcap"
    content: str  # for a pcap, the file's path
    where: str = ""

    def render(self, limit: int = 2000) -> str:
        body = (
            self.content
            if len(self.content) <= limit
            else self.content[:limit] + f"\n... ({len(self.content) - limit} more characters)"
        )
        head = f"-- {self.title}" + (f" [{self.where}]" if self.where else "")
        return f"{head}\n{body}" if self.kind != "pcap" else f"{head}\npcap file: {body}"


@dataclass
class Proof:
    check_id: str
    promise: str
    case: str  # the parameters, as in the test ID: "swarm-docker1->docker4"
    exhibits: list[Exhibit] = field(default_factory=list)
    mechanisms: dict[str, Any] = field(default_factory=dict)
    symptoms: set[str] = field(default_factory=set)  # tags of facts/defects.py, seen by the check or in words
    sightings: dict[str, str] = field(default_factory=dict)  # known defects' mechanisms seen while a symptom showed
    died: str = ""  # where a failed probe's packet died, as its trace said (kit/trace.py)

    # --- recording ---------------------------------------------------------------------------

    def command(self, title: str, result: CommandResult) -> CommandResult:
        output = (result.stdout + result.stderr).strip()
        if not result.ok:  # what Docker or a tool said when it failed: a known defect may speak so
            self.symptoms |= symptoms_in(output)
        self.exhibits.append(
            Exhibit(title, "command", f"$ {result.command}\n(exit {result.returncode})\n{output}", result.where)
        )
        return result

    def text(self, title: str, text: str, where: str = "") -> None:
        self.exhibits.append(Exhibit(title, "text", text, where))

    def data(self, title: str, data: Any, where: str = "") -> Any:
        self.exhibits.append(Exhibit(title, "json", json.dumps(data, indent=1, sort_keys=True, default=str), where))
        return data

    def pcap(self, title: str, path: Path, where: str = "") -> None:
        self.exhibits.append(Exhibit(title, "pcap", str(path), where))

    def symptom(self, tag: str, on: LabHost | None = None) -> None:
        """Something the check saw that may be a known Docker defect's symptom (a tag of facts/defects.py). With
        the host it showed on, the mechanisms of the defects it points to are looked for there at once."""
        self.symptoms.add(tag)
        if on is not None:
            seen = look_for(tag, on)
            self.sightings.update(seen)
            if seen:
                self.text(f"known defects' mechanisms when {tag} showed", "\n".join(seen.values()), on.name)

    def sighted(self, mechanism: str, said: str, where: str = "") -> None:
        """A known defect's mechanism the check itself saw (one only it can see: a conntrack entry of its own
        flow), counted at the verdict as kit.known_defects' looks are."""
        self.sightings[mechanism] = said
        self.text(f"a known defect's mechanism: {mechanism}", said, where)

    def mechanism(self, name: str, value: Any) -> Any:
        """A stable fact about how Docker did it (no random names or addresses): compared between runs. A user
        bridge's interface name (br-<network ID>) is new in every run: it is recorded as <bridge>."""
        self.mechanisms[name] = _without_bridge_ids(value)
        return value

    # --- judging -----------------------------------------------------------------------------

    def require(self, holds: bool, *, expected: str, observed: str, where: str) -> None:
        if not holds:
            raise CheckFailed(self.failure(expected, observed, where))

    def failure(self, expected: str, observed: str, where: str) -> str:
        lines = [
            f"{self.check_id} failed [{self.case}]",
            f"Docker promises: {self.promise}",
            f"Expected: {expected}",
            f"Observed: {observed}",
            f"Where: {where}",
        ]
        if self.died:
            lines.append(f"Packet: {self.died}")
        if self.exhibits:
            lines.append("Evidence:")
            lines += ["  " + line for exhibit in self.exhibits[-6:] for line in exhibit.render().splitlines()]
        return "\n".join(lines)

    def to_dict(self) -> dict:
        return {
            "check_id": self.check_id,
            "promise": self.promise,
            "case": self.case,
            "mechanism": self.mechanisms,
            "symptoms": sorted(self.symptoms),
            "sightings": self.sightings,
            "died": self.died,
            "exhibits": [asdict(e) for e in self.exhibits],
        }


def _without_bridge_ids(value: Any) -> Any:
    if isinstance(value, str):
        return USER_BRIDGE.sub("<bridge>", value)
    if isinstance(value, list):
        return [_without_bridge_ids(v) for v in value]
    if isinstance(value, dict):
        return {k: _without_bridge_ids(v) for k, v in value.items()}
    return value
