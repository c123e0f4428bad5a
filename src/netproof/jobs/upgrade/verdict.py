"""An upgrade's verdict for the one who signs it off: go, go with caveats, or no-go, with the reasons, for this
topology and its daemon settings. Pure: it reads the upgrade's runs, their diff, what the upgrade met, the
catalogue and the known defects.

    no-go      a promise that held before broke after (a regression), or the upgrade itself met a problem
               (a refusal, a flow of an untouched host paused, a name gone across a patch release)
    no verdict the lab broke at a step (the doctor found its underlay or a host's own settings broken), and nothing
               else counts against Docker: where and why the lab broke
    caveats    a known Docker defect on the way (met by the checks, or known for the target engine on this
               control plane), a promise no longer made, footprint changes a user's own rules or scripts may
               depend on, a host much slower than the others to carry overlay traffic again
    notes      behaviour that changed for the better, grouped ("DNS-002 on 4 of 4 hosts: not-promised -> passed")
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field

from netproof.catalogue import Check
from netproof.facts.defects import KNOWN_DEFECTS
from netproof.jobs.upgrade.outcome import Upgrade
from netproof.report.diff import Change

LAB_BROKE = "no verdict: the lab broke"  # a step after which the doctor found the lab itself broken (outcome.lab_broke)
SLOW_RECOVERY = 3.0  # times the other hosts' median: a host this much slower to carry overlay traffic is a caveat
SLOW_FLOOR = 10.0  # seconds under which no recovery is called slow


@dataclass
class UpgradeVerdict:
    go: str  # "go", "go, with caveats", "no-go"
    reasons: list[str] = field(default_factory=list)
    caveats: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        """As `netproof upgrade --json` says it, and report/diff.py renders it (render_verdict)."""
        return {"verdict": self.go, "reasons": self.reasons, "caveats": self.caveats, "notes": self.notes}


def judge(
    result: Upgrade, catalogue: list[Check], control_plane: str, settings: frozenset[str] = frozenset()
) -> UpgradeVerdict:
    """`settings`: the daemon.json settings the lab's hosts turn on (a known defect that needs one is a caveat
    only where it is on)."""
    overall = result.overall
    reasons = [str(f) for f in result.findings if f.bad]
    caveats, notes = [], []
    if overall is not None:
        reasons = [outcome_change(c, overall.old, catalogue) for c in grouped(overall.of_kind("regression"))] + reasons
        for change in grouped(overall.of_kind("outcome changed") + overall.of_kind("fix")):
            said = outcome_change(change, overall.old, catalogue)
            (caveats if change.new in ("not-promised", "known-defect", "skipped", "error") else notes).append(said)
        caveats += defects_on_the_way(overall.new, result.path[-1], control_plane, settings)
        if overall.footprint:
            kinds = sorted({c.kind for c in overall.footprint})
            caveats.append(
                f"{len(overall.footprint)} change(s) in Docker's footprint ({', '.join(kinds)}): rules, defaults "
                "or inspect fields a user's own firewall rules or scripts may depend on (the diff lists each)"
            )
    caveats += slow_recoveries(result)
    if result.lab_broken and not reasons:  # what the broken steps met is the lab's: no verdict on Docker from them
        return UpgradeVerdict(LAB_BROKE, list(result.lab_broken), caveats, notes)
    go = "no-go" if reasons else "go, with caveats" if caveats else "go"
    return UpgradeVerdict(go, reasons + list(result.lab_broken), caveats, notes)


def grouped(changes: list[Change]) -> list[Change]:
    """One change per check and outcome pair, with every case it holds in."""
    by: dict[tuple, Change] = {}
    for c in changes:
        key = (c.check_id, c.old, c.new)
        if key in by:
            by[key].cases += [case for case in c.cases if case not in by[key].cases]
        else:
            by[key] = Change(c.kind, c.check_id, c.case, c.old, c.new, list(c.details), list(c.cases))
    return list(by.values())


def outcome_change(change: Change, old_run, catalogue: list[Check]) -> str:
    """'DNS-002 on 4 of 4 hosts: not-promised -> passed (the promise holds from 26.0: CVE-2024-29018 ...)'."""
    of_check = [c for c in old_run.checks if c.id == change.check_id]
    hosts = {h for c in of_check for h in c.hosts}
    one_per_host = all(len(c.hosts) == 1 for c in of_check) and len(hosts) == len(of_check)
    extent = f"{len(change.cases)} of {len(of_check) or len(change.cases)} {'hosts' if one_per_host else 'cases'}"
    said = f"{change.check_id} on {extent}: {change.old or '-'} -> {change.new or '-'}"
    check = next((c for c in catalogue if c.id == change.check_id), None)
    why = ""
    if check and change.old == "not-promised" and check.since:
        why = f"the promise holds from {check.since}" + (f": {check.reference}" if check.reference else "")
    elif check and change.new == "not-promised" and check.until:
        why = f"the promise is not made from {check.until}" + (f": {check.reference}" if check.reference else "")
    elif change.details:
        why = next((d for d in change.details if d.startswith("Observed")), change.details[0])[:200]
    return f"{said} ({why})" if why else said


def defects_on_the_way(new_run, target: str, control_plane: str, settings: frozenset[str]) -> list[str]:
    """The known defects the checks met on the target engine, and those known for it on this control plane with
    these daemon settings."""
    met = {r["reference"]: r for r in new_run.known_defect_rates()}
    said = []
    for defect in KNOWN_DEFECTS:
        if defect.reference in met:
            rate = met[defect.reference]
            said.append(
                f"known Docker defect {defect.reference} met in {rate['struck']} of {rate['of']} cases: "
                f"{defect.summary}" + (f" (workaround: {defect.workaround})" if defect.workaround else "")
            )
        elif (
            defect.affects(target)
            and control_plane in defect.control_planes
            and defect.since
            and (not defect.needs_setting or defect.needs_setting in settings)
        ):
            said.append(
                f"known Docker defect {defect.reference} on {target} ({defect.versions}), not met by these checks: "
                f"{defect.summary}"
            )
    return said


def slow_recoveries(result: Upgrade) -> list[str]:
    """A host that took far longer than the others to carry overlay traffic again after its restart."""
    timed = [(f.host, f.seconds) for f in result.findings if f.seconds is not None]
    said = []
    for host, seconds in timed:
        others = [s for h, s in timed if h != host]
        if not others:
            continue
        typical = statistics.median(others)
        if seconds > SLOW_FLOOR and seconds > SLOW_RECOVERY * typical:
            said.append(
                f"{host}'s overlay traffic took {seconds:.0f} s to come back after its restart, the other hosts' "
                f"{min(others):.0f} to {max(others):.0f} s: look at its dockerd log before upgrading such hosts"
            )
    return said
