"""What an upgrade met: its findings outside the checks, its runs, their diffs."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from netproof import outcomes
from netproof.errors import ExitStatus
from netproof.facts import versions
from netproof.jobs.upgrade.mesh_watch import Restart
from netproof.report import diff

SWARM_LOG_WORDS = re.compile(r"level=(error|warning)|swarm|agent|dispatcher|heartbeat|node", re.IGNORECASE)
SWARM_LOG_LINES = 6
AFTER_SECOND_RESTART = "back in the swarm after its engine was restarted once more"
CROSS_HOST_CHECKS = "OVL-PING-001 or OVL-VXLAN-001"
KV_FLAGS = ("--cluster-store", "--cluster-advertise")
# A container on a swarm overlay restarted by its daemon gets its attachment from the manager, 20 s at most; past
# that it stays down, restart policy or not. A known Docker defect, reported with its reference and not counted
# as a regression of the upgrade (as known defects in checks are not, without --strict-defects).
ATTACH_DEFECT = (
    "known Docker defect moby/moby#41841 (the manager did not allocate the attachment in time): the container "
    "stays down until it is started again"
)
SWARM_MIGRATION = (
    "migrate to swarm before this upgrade: `docker swarm init` on one host, `docker swarm join` on the others, "
    "and recreate the overlays with `docker network create -d overlay --attachable` (the key-value store was "
    f"removed in Docker {versions.KV_STORE_REMOVED_IN})"
)


@dataclass
class Finding:
    """What the upgrade met on a host, outside the checks."""

    host: str
    text: str
    bad: bool = True  # counts as a regression (exit status 1)
    engine: str = ""  # the engine being moved to when it was met
    seconds: float | None = None  # what it measured, where it is a time (overlay traffic's recovery)

    def __str__(self) -> str:
        return f"{self.host}: {self.text}"


# The doctor's requirements that are the lab's, not Docker's: the underlay, its router, the hosts' own settings and
# addresses, the outside host. A step after which one of them fails broke the lab: what it met is not Docker's doing.
LAB_REQUIREMENTS = ("reachability", "routing", "host", "mtu", "outside")


def lab_broke(findings: list[Finding], engine: str, diagnosis) -> str | None:
    """After a step whose findings include bad ones, the doctor's look at the lab: if it found the lab itself broken
    (LAB_REQUIREMENTS), those findings are not counted as Docker's (they stay, as notes) and a line says where and why
    the lab broke; None if the lab is whole (the findings stand)."""
    causes = [f.said for f in diagnosis.failures if f.requirement in LAB_REQUIREMENTS]
    if not causes:
        return None
    for finding in findings:
        if finding.engine == engine and finding.bad:
            finding.bad, finding.text = False, f"{finding.text} (not counted: the lab broke at this step)"
    return f"the lab broke at the step to {engine}, not Docker: the doctor found {'; '.join(causes[:3])}" + (
        f" (and {len(causes) - 3} more)" if len(causes) > 3 else ""
    )


@dataclass
class Upgrade:
    path: list[str]
    folder: Path
    runs: list[tuple[str, str]] = field(default_factory=list)  # (engine, run folder name), in order
    steps: list[diff.RunDiff] = field(default_factory=list)  # one per pair of consecutive runs
    overall: diff.RunDiff | None = None
    findings: list[Finding] = field(default_factory=list)
    restarts: list[Restart] = field(default_factory=list)  # each host's engine change, in order
    verdict: dict | None = None  # go / no-go with reasons (verdict.py), set once the runs are compared
    workload: list[str] = field(default_factory=list)  # the carried stack's truth tables, one line each, in order
    lab_broken: list[str] = field(default_factory=list)  # steps after which the doctor found the lab itself broken

    @property
    def regressed(self) -> bool:
        return any(f.bad for f in self.findings) or any(d.regressed for d in [*self.steps, self.overall] if d)

    def exit_status(self, counts: dict[str, int]) -> ExitStatus:
        """The one rule (outcomes.exit_status) over every run of the path, a regression counting as Docker's failure:
        an upgrade whose lab broke (errors, and no regression) exits 10, never 0."""
        if self.regressed:
            return ExitStatus.DOCKER_FAILED
        if self.lab_broken:
            return ExitStatus.LAB_BROKEN
        return outcomes.exit_status(counts)

    def counts(self) -> dict[str, int]:
        """Each outcome's count over every run of the path."""
        from netproof.report import results

        total: dict[str, int] = {}
        for _, name in self.runs:
            if (self.folder / name / "results.json").exists():
                for outcome, n in results.load(self.folder / name).summary.items():
                    total[outcome] = total.get(outcome, 0) + n
        return total

    def to_dict(self) -> dict:
        """`netproof upgrade --json`: the path, its runs, what it met, each step's diff and the whole path's."""
        return {
            "path": self.path,
            "folder": str(self.folder),
            "regressed": self.regressed,
            "runs": [{"engine": e, "folder": str(self.folder / name)} for e, name in self.runs],
            "findings": [{"host": f.host, "text": f.text, "bad": f.bad, "engine": f.engine} for f in self.findings],
            "steps": [d.to_dict() for d in self.steps],
            "overall": self.overall.to_dict() if self.overall else None,
            "verdict": self.verdict,
            "workload": self.workload,
            "lab_broken": self.lab_broken,
        }

    def render_terminal(self) -> str:
        """Each step's diff when there are several, then the whole path's."""
        parts = []
        if len(self.steps) > 1:
            for (a, _), (b, _), step in zip(self.runs, self.runs[1:], self.steps, strict=False):
                parts += [f"=== step {a} -> {b} ===", diff.render_terminal(step), ""]
            parts.append(f"=== the whole path {' -> '.join(e for e, _ in self.runs)} ===")
        if self.overall is not None:
            parts.append(diff.render_terminal(self.overall))
        if self.workload:
            parts += ["", f"=== the workload's truth tables ({self.folder / 'workload' / 'replay.html'}) ===",
                      *self.workload]  # fmt: skip
        return "\n".join(parts + ([diff.render_verdict(self.verdict)] if self.verdict else []))

    @property
    def diffs(self) -> list[tuple[str, diff.RunDiff]]:
        """(file name, diff) of what was written: diff.html first against last, and each step's."""
        named = [("diff.html", self.overall)] if self.overall else []
        if len(self.steps) > 1:
            named += [
                (f"diff-{a}-to-{b}.html", d)
                for (a, _), (b, _), d in zip(self.runs, self.runs[1:], self.steps, strict=False)
            ]
        return named


def compare_runs(result: Upgrade) -> None:
    """Each step's diff and the first against the last (write_diffs puts them beside the runs); the findings as
    notes."""
    from netproof.report import results

    loaded = [results.load(result.folder / name) for _, name in result.runs]
    result.steps = [diff.compare(a, b) for a, b in zip(loaded, loaded[1:], strict=False)]
    if len(loaded) > 1:
        result.overall = diff.compare(loaded[0], loaded[-1])
    elif loaded:
        result.overall = diff.compare(loaded[0], loaded[0])  # stopped before any engine changed
    if result.overall is not None:
        result.overall.problems = [str(f) for f in result.findings if f.bad]
        result.overall.notes = [str(f) for f in result.findings if not f.bad]
    for (target, _), step in zip(result.runs[1:], result.steps, strict=False):
        step.problems = [str(f) for f in result.findings if f.engine == target and f.bad]
        step.notes = [str(f) for f in result.findings if f.engine == target and not f.bad]


def write_diffs(result: Upgrade) -> None:
    """Each diff beside the runs, the upgrade's verdict at the top of the whole path's."""
    if result.overall is not None:
        result.overall.verdict = result.verdict
    for name, d in result.diffs:
        diff.write(d, result.folder / name)
