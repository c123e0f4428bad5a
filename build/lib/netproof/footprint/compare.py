"""What changed in Docker's footprint between two runs: one entry per change, with the hosts it holds on.

Two runs' footprints are compared host by host (by name), kind by kind, item by item. An item's change is
the lines it lost and gained (in Docker's order, and "another order" when only the order changed: in a
firewall chain the order is the behaviour); the same change on several hosts is one entry, "on 4 of 4
hosts". Nothing is filtered: whatever the normalizer left differs is a change.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from netproof.footprint import KINDS, SCHEMA


@dataclass
class FootprintChange:
    kind: str  # one of KINDS
    item: str  # "host: iptables filter", "container on internal-bridge: IPv4"
    lines: list[str]  # "- old line", "+ new line", or a note
    hosts: list[str] = field(default_factory=list)
    of: int = 0  # hosts compared

    @property
    def scope(self) -> str:
        return f"on {len(self.hosts)} of {self.of} hosts" + (
            f" ({', '.join(self.hosts)})" if len(self.hosts) < self.of else ""
        )


def load(folder: Path) -> dict[str, dict]:
    """The footprints of a run folder: host -> its normalized footprint; empty if the run has none."""
    found = {}
    for path in sorted((folder / "footprint").glob("*.json")):
        doc = json.loads(path.read_text())
        if doc.get("schema") == SCHEMA:
            found[doc["host"]] = doc
    return found


def compare(old: dict[str, dict], new: dict[str, dict]) -> list[FootprintChange]:
    hosts = sorted(old.keys() & new.keys())
    grouped: dict[tuple, FootprintChange] = {}
    for host in hosts:
        a, b = old[host]["kinds"], new[host]["kinds"]
        for kind in KINDS:
            before, after = a.get(kind, {}), b.get(kind, {})
            for item in sorted(before.keys() | after.keys()):
                lines = item_change(before.get(item), after.get(item))
                if not lines:
                    continue
                key = (kind, item, tuple(lines))
                grouped.setdefault(key, FootprintChange(kind, item, lines, of=len(hosts))).hosts.append(host)
    return sorted(grouped.values(), key=lambda c: (KINDS.index(c.kind), c.item, -len(c.hosts), c.lines))


def item_change(before: list[str] | None, after: list[str] | None) -> list[str]:
    """The lines an item lost and gained; [] if it is the same."""
    if before == after:
        return []
    if before is None:
        return ["(new)"] + [f"+ {line}" for line in after or []]
    if after is None:
        return ["(gone)"] + [f"- {line}" for line in before]
    lines = [f"- {line}" for line in _surplus(before, after)] + [f"+ {line}" for line in _surplus(after, before)]
    return lines or ["(the same lines, in another order)"] + [f"  {line}" for line in after]


def _surplus(these: list[str], those: list[str]) -> list[str]:
    """The lines of `these` that `those` lacks, in their order (a line twice in one and once in the other counts)."""
    extra = Counter(these) - Counter(those)
    out = []
    for line in these:
        if extra[line] > 0:
            extra[line] -= 1
            out.append(line)
    return out
