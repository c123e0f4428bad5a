"""What changed between two runs, as an upgrade's reviewer wants to read it: behaviour first (regressions,
fixes, checks added or removed, outcomes unchanged but mechanisms changed), then Docker's footprint on the
hosts (firewall, defaults, interfaces, routes, resolver, inspect, info: see netproof.footprint), and the
versions and the configuration (daemon.json, the swarm's settings) on each host."""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from pathlib import Path

from netproof import outcomes
from netproof.footprint import KINDS as FOOTPRINT_KINDS
from netproof.footprint import compare as footprint
from netproof.report.results import CheckResult, Results
from netproof.system import write_atomically

BAD = outcomes.BAD
# Only Docker's failure is a regression: a case that passed and now errs broke the lab (or netproof), not Docker.
REGRESSED = ("failed",)
VERSION_FIELDS = ("docker", "api", "containerd", "runc", "runtime", "kernel", "iptables")
KIND_ORDER = ("regression", "fix", "outcome changed", "known defect rate", "added", "removed", "mechanism changed")


@dataclass
class Change:
    kind: str
    check_id: str  # the first place it holds
    case: str
    old: str | None  # outcome
    new: str | None
    details: list[str] = field(default_factory=list)
    # Every (check, case) where this very change holds: identical mechanism changes are one entry.
    cases: list[tuple[str, str]] = field(default_factory=list)
    scope: str = ""  # where it holds, for people: "ISO-INT-001 on 4 of 4 hosts"

    def __post_init__(self) -> None:
        self.cases = self.cases or [(self.check_id, self.case)]

    @property
    def where(self) -> str:
        return self.scope or f"{self.check_id}[{self.case}]"


@dataclass
class RunDiff:
    old: Results
    new: Results
    changes: list[Change]
    versions: list[tuple[str, str, str | None, str | None]]  # host, field, old, new
    notes: list[str] = field(default_factory=list)  # what the upgrade itself showed (recovery times)
    problems: list[str] = field(default_factory=list)  # what the upgrade met that is a regression (a refusal)
    footprint: list[footprint.FootprintChange] = field(default_factory=list)
    footprint_note: str = ""  # why footprints were not compared, if they were not
    verdict: dict | None = None  # an upgrade's go / no-go (jobs/upgrade/verdict.py), shown first

    def footprint_of(self, kind: str) -> list[footprint.FootprintChange]:
        return [c for c in self.footprint if c.kind == kind]

    @property
    def folded_versions(self) -> list[tuple[str, str, str | None, str | None]]:
        """The version changes, hosts with the same change folded into one line ("docker1, docker2")."""
        hosts: dict[tuple, list[str]] = {}
        for host, what, old, new in self.versions:
            hosts.setdefault((what, old, new), []).append(host)
        return [(", ".join(dict.fromkeys(h)), what, old, new) for (what, old, new), h in hosts.items()]

    def of_kind(self, kind: str) -> list[Change]:
        return [c for c in self.changes if c.kind == kind]

    @property
    def regressed(self) -> bool:
        return bool(self.of_kind("regression") or self.problems)

    def to_dict(self) -> dict:
        """For machines (`netproof diff --json`): the runs compared, each change with where it holds, the versions."""
        return {
            "old": self.old.run.get("id"),
            "new": self.new.run.get("id"),
            "regressed": self.regressed,
            "changes": [
                {"kind": c.kind, "where": c.where, "old": c.old, "new": c.new, "details": c.details}
                for c in self.changes
            ],
            "versions": [{"host": h, "field": f, "old": o, "new": n} for h, f, o, n in self.versions],
            "footprint": [{"kind": c.kind, "item": c.item, "scope": c.scope} for c in self.footprint],
            "problems": self.problems,
            "notes": self.notes,
        }


def compare(old: Results, new: Results) -> RunDiff:
    before = {c.key: c for c in old.checks}
    after = {c.key: c for c in new.checks}
    changes = []
    for key in sorted(before.keys() | after.keys()):
        o, n = before.get(key), after.get(key)
        if o is None:
            changes.append(Change("added", *key, None, n.outcome))
            continue
        if n is None:
            changes.append(Change("removed", *key, o.outcome, None))
            continue
        if o.outcome == "passed" and n.outcome in REGRESSED:
            changes.append(Change("regression", *key, o.outcome, n.outcome, _first_lines(n.message)))
        elif o.outcome in BAD and n.outcome == "passed":
            changes.append(Change("fix", *key, o.outcome, n.outcome))
        elif o.outcome != n.outcome:
            changes.append(Change("outcome changed", *key, o.outcome, n.outcome, _first_lines(n.message)))
        for block in mechanism_changes(o, n):
            changes.append(Change("mechanism changed", *key, o.outcome, n.outcome, block))
    changes = _grouped(changes, new) + defect_rate_changes(old, new)
    changes.sort(key=lambda c: (KIND_ORDER.index(c.kind), c.check_id, c.case))
    result = RunDiff(old, new, changes, version_changes(old, new))
    prints = [footprint.load(r.folder) if r.folder else {} for r in (old, new)]
    if all(prints):
        result.footprint = footprint.compare(*prints)
    else:
        missing = [
            f"the {label} run" + (f" ({r.footprint['error']})" if r.footprint and r.footprint.get("error") else "")
            for label, r, p in zip(("old", "new"), (old, new), prints, strict=True)
            if not p
        ]
        result.footprint_note = f"no footprint in {' and '.join(missing)}: footprints not compared"
    return result


def defect_rate_changes(old: Results, new: Results) -> list[Change]:
    """A known defect that struck more or less often (or started, or stopped): one entry each."""
    before = {r["reference"]: r for r in old.known_defect_rates()}
    after = {r["reference"]: r for r in new.known_defect_rates()}
    changes = []
    for reference in sorted(before.keys() | after.keys()):
        a, b = before.get(reference), after.get(reference)
        rate = lambda r: f"{r['struck']} of {r['of']} {r['control_plane']} cases" if r else "never"  # noqa: E731
        if rate(a) != rate(b):
            changes.append(Change("known defect rate", reference, "", rate(a), rate(b), scope=reference))
    return changes


def _grouped(changes: list[Change], new: Results) -> list[Change]:
    """One entry per identical mechanism change, saying where it holds ("ISO-INT-001 on 4 of 4 hosts")."""
    kept: list[Change] = []
    by_details: dict[tuple[str, ...], Change] = {}
    for change in changes:
        if change.kind != "mechanism changed":
            kept.append(change)
        elif tuple(change.details) in by_details:
            by_details[tuple(change.details)].cases.append((change.check_id, change.case))
        else:
            by_details[tuple(change.details)] = change
            kept.append(change)
    of_check: dict[str, list[CheckResult]] = {}
    for c in new.checks:
        of_check.setdefault(c.id, []).append(c)
    for change in by_details.values():
        if len(change.cases) > 1:
            change.scope = ", ".join(
                _extent(check_id, [case for cid, case in change.cases if cid == check_id], of_check[check_id])
                for check_id in dict.fromkeys(cid for cid, _ in change.cases)
            )
    return kept


def _extent(check_id: str, cases: list[str], all_cases: list[CheckResult]) -> str:
    if all(len(c.hosts) == 1 for c in all_cases):
        return f"{check_id} on {len(cases)} of {len(all_cases)} hosts"
    return f"{check_id} in {len(cases)} of {len(all_cases)} cases"


def mechanism_changes(old: CheckResult, new: CheckResult) -> list[list[str]]:
    """One block of lines per mechanism that changed (so that the same change in several checks is one entry)."""
    blocks = []
    for name in sorted(old.mechanism.keys() | new.mechanism.keys()):
        a, b = old.mechanism.get(name), new.mechanism.get(name)
        if a == b:
            continue
        if isinstance(a, list) and isinstance(b, list):
            lines = [f"{name}:"] + [f"  - {x}" for x in a if x not in b] + [f"  + {x}" for x in b if x not in a]
            if set(map(str, a)) == set(map(str, b)):
                lines.append("  (same entries, another order)")
        else:
            lines = [f"{name}: {a!r} -> {b!r}"]
        blocks.append(lines)
    return blocks


def version_changes(old: Results, new: Results) -> list[tuple[str, str, str | None, str | None]]:
    before = {e["host"]: e for e in old.environment}
    after = {e["host"]: e for e in new.environment}
    out = []
    for host in sorted(before.keys() | after.keys()):
        for f in VERSION_FIELDS:
            a, b = before.get(host, {}).get(f), after.get(host, {}).get(f)
            if a != b:
                out.append((host, f, a, b))
        # How Docker was configured changes as a version does (an older results.json has no configuration).
        old_config = before.get(host, {}).get("configuration") or {}
        new_config = after.get(host, {}).get("configuration") or {}
        for key in sorted(old_config.keys() | new_config.keys()):
            if old_config.get(key) != new_config.get(key):
                out.append((host, key, old_config.get(key), new_config.get(key)))
    return out


def _first_lines(message: str | None, n: int = 4) -> list[str]:
    return [line for line in (message or "").splitlines() if line.startswith(("Expected", "Observed", "Where"))][:n]


def _label(results: Results) -> str:
    engines = sorted({e.get("docker") or "?" for e in results.environment})
    return f"run {results.run['id']} (Docker {', '.join(engines)}, {results.lab['control_plane']})"


def render_terminal(diff: RunDiff) -> str:
    lines = [f"old: {_label(diff.old)}", f"new: {_label(diff.new)}", ""]
    counts = ", ".join(f"{len(diff.of_kind(k))} {k}" for k in KIND_ORDER if diff.of_kind(k))
    lines.append(("REGRESSIONS: " if diff.regressed else "no regression: ") + (counts or "no behaviour changed"))
    if diff.problems:
        lines += ["", "THE UPGRADE MET:"] + [f"  {n}" for n in diff.problems]
    if diff.notes:
        lines += ["", "during the upgrade:"] + [f"  {n}" for n in diff.notes]
    if diff.versions:
        lines += ["", "versions and configuration:"]
        lines += [f"  {host:10} {f:11} {a or '-'} -> {b or '-'}" for host, f, a, b in diff.folded_versions]
    for kind in KIND_ORDER:
        for c in diff.of_kind(kind):
            lines.append("")
            lines.append(f"{kind.upper():18} {c.where}  {c.old or '-'} -> {c.new or '-'}")
            lines += [f"    {d}" for d in c.details]
    lines += ["", _footprint_headline(diff)]
    for kind in FOOTPRINT_KINDS:
        for c in diff.footprint_of(kind):
            lines += ["", f"{kind.upper():11} {c.item}  ({c.scope})"] + [f"    {d}" for d in c.lines]
    return "\n".join(lines)


def _labels(verdict: dict) -> tuple[tuple[str, str], ...]:
    """Each list of the verdict and the word it is said with (a lab that broke is no Docker "no-go")."""
    reason = "lab broke" if verdict["verdict"].startswith("no verdict") else "no-go"
    return (("reasons", reason), ("caveats", "caveat"), ("notes", "note"))


def render_verdict(verdict: dict) -> str:
    """An upgrade's verdict, for the terminal: its word, then why."""
    lines = [f"VERDICT: {verdict['verdict'].upper()}"]
    for key, label in _labels(verdict):
        lines += [f"  {label}: {line}" for line in verdict.get(key, [])]
    return "\n".join(lines)


def _verdict_html(verdict: dict) -> str:
    e = html.escape
    colour = {"go": "#2e7d32", "no-go": "#c62828"}.get(verdict["verdict"], "#ef6c00")
    items = "".join(
        f"<li><b>{label}</b>: {e(line)}</li>" for key, label in _labels(verdict) for line in verdict.get(key, [])
    )
    return (
        f"<section id='verdict' style='border-left:6px solid {colour};padding:4px 12px;margin-top:16px'>"
        f"<h2 style='color:{colour}'>Verdict: {e(verdict['verdict'])}</h2><ul>{items}</ul></section>"
    )


def _footprint_headline(diff: RunDiff) -> str:
    if diff.footprint_note:
        return f"footprint: {diff.footprint_note}"
    if not diff.footprint:
        return "footprint: no change"
    counts = ", ".join(f"{len(diff.footprint_of(k))} {k}" for k in FOOTPRINT_KINDS if diff.footprint_of(k))
    return f"footprint changes: {counts}"


def render_html(diff: RunDiff) -> str:
    e = html.escape
    colour = "#c62828" if diff.regressed else "#2e7d32"
    title = ("Regressions" if diff.regressed else "No regression") + f": {_label(diff.old)} → {_label(diff.new)}"
    parts = [
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>netproof diff: {e(title)}</title>",
        "<style>body{font:14px/1.45 system-ui,sans-serif;margin:0} header{padding:16px 24px;color:#fff} "
        "main{padding:0 24px 32px}"
        "table{border-collapse:collapse} "
        "td,th{border:1px solid #ddd;padding:4px 8px;text-align:left;vertical-align:top}"
        "pre{background:#f4f4f4;padding:6px;margin:0;white-space:pre-wrap}</style></head><body>",
        f"<header style='background:{colour}'><h1 style='margin:0'>{e(title)}</h1></header><main>",
        _verdict_html(diff.verdict) if diff.verdict else "",
        _contents(diff),
    ]
    if diff.problems:
        parts.append(
            "<h2 id='problems'>What the upgrade met</h2><ul>"
            + "".join(f"<li style='color:#c62828'>{e(n)}</li>" for n in diff.problems)
            + "</ul>"
        )
    if diff.notes:
        parts.append("<h2>During the upgrade</h2><ul>" + "".join(f"<li>{e(n)}</li>" for n in diff.notes) + "</ul>")
    parts.append("<h2>Versions and configuration</h2>")
    if diff.versions:
        rows = "".join(
            f"<tr><td>{e(h)}</td><td>{e(f)}</td><td>{e(a or '-')}</td><td>{e(b or '-')}</td></tr>"
            for h, f, a, b in diff.folded_versions
        )
        parts.append(f"<table id='versions'><tr><th>host</th><th>what</th><th>old</th><th>new</th></tr>{rows}</table>")
    else:
        parts.append("<p>The same on every host.</p>")
    for kind in KIND_ORDER:
        changes = diff.of_kind(kind)
        parts.append(f"<h2 id='{kind.replace(' ', '-')}'>{e(kind.capitalize())} ({len(changes)})</h2>")
        if not changes:
            parts.append("<p>None.</p>")
            continue
        rows = "".join(
            f"<tr><td>{e(c.where)}</td><td>{e(c.old or '-')}</td><td>{e(c.new or '-')}</td>"
            f"<td><pre>{e(chr(10).join(c.details))}</pre></td></tr>"
            for c in changes
        )
        parts.append(f"<table><tr><th>check</th><th>old</th><th>new</th><th>what changed</th></tr>{rows}</table>")
    parts.append(f"<h2 id='footprint'>Footprint</h2><p>{e(_footprint_headline(diff))}</p>")
    for kind in FOOTPRINT_KINDS:
        changes = diff.footprint_of(kind)
        if not changes:
            continue
        rows = "".join(
            f"<tr><td>{e(c.item)}</td><td>{e(c.scope)}</td><td><pre>{e(chr(10).join(c.lines))}</pre></td></tr>"
            for c in changes
        )
        parts.append(
            f"<section class='footprint-kind' id='footprint-{kind}'><h3>{e(kind.capitalize())} ({len(changes)})</h3>"
            f"<table><tr><th>what</th><th>where</th><th>what changed</th></tr>{rows}</table></section>"
        )
    parts.append("</main></body></html>")
    return "\n".join(parts)


def _contents(diff: RunDiff) -> str:
    """The table of contents: behaviour by kind, then the footprint by kind, each with its count."""
    e = html.escape
    behaviour = "".join(
        f"<li><a href='#{k.replace(' ', '-')}'>{e(k)}</a> ({len(diff.of_kind(k))})</li>" for k in KIND_ORDER
    )
    prints = "".join(
        f"<li><a href='#footprint-{k}'>{e(k)}</a> ({len(diff.footprint_of(k))})</li>"
        for k in FOOTPRINT_KINDS
        if diff.footprint_of(k)
    )
    return (
        f"<nav id='contents'><h2>Contents</h2><ul><li>Behaviour<ul>{behaviour}</ul></li>"
        f"<li><a href='#footprint'>Footprint</a><ul>{prints or '<li>no change</li>'}</ul></li></ul></nav>"
    )


def write(diff: RunDiff, path: Path) -> Path:
    write_atomically(path, render_html(diff))
    return path
