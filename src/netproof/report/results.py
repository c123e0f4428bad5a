"""results.json: what a run proved, in a documented, versioned schema (see SCHEMA below).

Built by the process that owns a pytest run from the reports of every worker, so one file holds
the whole run: the lab, the versions on each host, and per check instance its outcome, message,
the mechanism it saw and its evidence.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from netproof import outcomes
from netproof.errors import ExitStatus
from netproof.system import write_atomically

SCHEMA = "netproof.results/2"
OLD_SCHEMAS = ("netproof.results/1",)  # still read (netproof diff of an older run)
# One vocabulary, the same in results.json, junit.xml, the HTML report, netproof diff and the terminal: outcomes.py
OUTCOMES = outcomes.NAMES

# The schema, field by field (kept here, next to the code that writes it):
#   schema                 "netproof.results/2" (netproof diff also reads /1, whose "expected-difference"
#                          is known-defect)
#   run                    id, started, finished (ISO 8601 UTC), duration (s), netproof_version, netproof_commit (its
#                          checkout's, or null), dependencies {package: version} (what drove Docker and the lab),
#                          command, strict (known defects counted as failures: --strict-defects; absent: false)
#   lab                    name, provider, control_plane, topology_file,
#                          subnets [{name, cidr, gateway}], hosts [{name, role, subnet, address, engine, daemon
#                          (its daemon.json settings from the topology, where it has any, secrets masked)}],
#                          pairs [[src, dst]] exercised by cross-host checks
#   environment            per docker host: host, engine (as asked), docker, api, containerd, runc, kernel, iptables,
#                          runtime (whose containerd and runc: "the engine's own" or "the system's"; netns only),
#                          configuration {"daemon.<key>": value (its daemon.json settings from the topology, a
#                          password in a URL or the value of a key naming a secret masked as ***),
#                          "swarm.<key>": value (the swarm's settings as its manager reports them, defaults
#                          included)}, values as strings (JSON for what is not a string)
#   doctor                 the lab doctor's findings before the checks ran: lab, control_plane, seconds, healthy,
#                          shared_hosts, findings [{requirement, subject, src, dst, ok (true|false|null), observed,
#                          cause}]; null when the run did not examine the lab
#   footprint              Docker's networking footprint taken after the checks (see netproof.footprint): hosts
#                          (whose footprint/<host>.json is beside results.json), seconds, error (why none was taken, or
#                          null), leftovers (what Docker would not remove), left_by_known_defects (what it would not
#                          remove because of a known defect, with the reference), retries (what Docker needed a
#                          second attempt for); null when not taken (--no-footprint, no report folder)
#   summary                count per outcome
#   known_defects          how often each known defect struck: [{reference, struck, of, control_plane}] ("struck
#                          of" the run's cases with that control plane)
#   checks                 per check instance: id, case (its label, as in the test ID), nodeid, promise, outcome (one of
#                          OUTCOMES), duration (s), message (why it failed, errored, was skipped, is a known defect or
#                          not promised; null when passed), defect (the known defect's reference, for known-defect;
#                          else null), hosts (involved), control_plane,
#                          engines {host: Docker version},
#                          mechanism {name: value} (stable facts, compared between runs),
#                          evidence [{title, kind: command|text|json|pcap|traceback, content, where,
#                          file (pcap, relative)}], timeline {kind: {calls, seconds}} (commands by program, Docker
#                          API calls by method and path, sleeps between a wait's looks; timeline.py)


@dataclass
class CheckResult:
    id: str
    case: str
    nodeid: str
    promise: str = ""
    outcome: str = "passed"
    duration: float = 0.0
    message: str | None = None
    defect: str | None = None  # a known-defect case's reference (moby/libnetwork#1838)
    hosts: list[str] = field(default_factory=list)
    control_plane: str = ""
    engines: dict = field(default_factory=dict)
    mechanism: dict = field(default_factory=dict)
    evidence: list[dict] = field(default_factory=list)
    timeline: dict = field(default_factory=dict)  # {kind: {calls, seconds}}: where the case's time went

    @property
    def key(self) -> tuple[str, str]:
        """What identifies the same check instance in another run (no engine in it)."""
        return self.id, self.case


@dataclass
class Results:
    run: dict
    lab: dict
    environment: list[dict]
    checks: list[CheckResult]
    schema: str = SCHEMA
    doctor: dict | None = None
    footprint: dict | None = None  # how the footprint was taken (footprint/<host>.json beside results.json)
    folder: Path | None = None  # where it was read from (not written)

    @property
    def summary(self) -> dict[str, int]:
        counts = dict.fromkeys(OUTCOMES, 0)
        for c in self.checks:
            counts[c.outcome] += 1
        return counts

    @property
    def strict(self) -> bool:
        """Known defects count as failures (--strict-defects): for a gate that must be defect-free."""
        return bool(self.run.get("strict"))

    @property
    def exit_status(self) -> ExitStatus:
        """Which party is at fault (outcomes.exit_status)."""
        return outcomes.exit_status(self.summary, self.strict)

    @property
    def verdict(self) -> str:
        s = self.summary
        if s["unjudged"] and not s["failed"]:
            return "netproof could not judge"
        if s["error"]:
            return "lab problems"
        return "fail" if s["failed"] or (self.strict and s["known-defect"]) else "pass"

    def known_defect_rates(self) -> list[dict]:
        """How often each known defect struck, of the run's cases on the control plane it struck on."""
        rates = []
        for reference in sorted({c.defect for c in self.checks if c.defect}):
            planes = sorted({c.control_plane for c in self.checks if c.defect == reference})
            of = [c for c in self.checks if c.control_plane in planes]
            struck = [c for c in of if c.defect == reference]
            rates.append(
                {"reference": reference, "struck": len(struck), "of": len(of), "control_plane": "/".join(planes)}
            )
        return rates

    def rate_lines(self) -> list[str]:
        """'moby/libnetwork#1838: 3 of 28 kv cases', one per known defect that struck."""
        return [
            f"{r['reference']}: {r['struck']} of {r['of']} {r['control_plane']} cases"
            for r in self.known_defect_rates()
        ]

    def summary_for_machines(self, folder: Path | None = None) -> dict:
        """`netproof run --json`: the verdict, the exit status, the counts and every case that was not a pass."""
        return {
            "verdict": self.verdict,
            "exit_status": int(self.exit_status),
            "lab": self.lab.get("name"),
            "summary": self.summary,
            "known_defects": self.known_defect_rates(),
            "report": str(folder / "index.html") if folder else None,
            "cases": [
                {"id": c.id, "case": c.case, "outcome": c.outcome, "message": c.message, "defect": c.defect}
                for c in sorted(self.checks, key=lambda c: (c.id, c.case))
                if c.outcome not in ("passed",)
            ],
        }

    def render_terminal(self, folder: Path) -> str:
        """`netproof run`'s one screen: the verdict and counts, each case that did not pass with why, the report."""
        engines_seen = ", ".join(sorted({e.get("docker") or "?" for e in self.environment}))
        lines = [
            f"netproof: {self.verdict.upper()} on lab {self.lab['name']} ({self.lab['control_plane']}, Docker "
            f"{engines_seen}): {self.counts()}"
        ]
        for c in self.checks:
            if c.outcome not in ("passed", "skipped"):
                why = next(
                    (line for line in (c.message or "").splitlines() if line.startswith("Observed")),
                    (c.message or "").strip()[:160],
                )
                lines.append(f"  {c.outcome:13} {c.id}[{c.case}]  {why}")
        strict = " (counted as failures: --strict)" if self.strict else ""
        lines += [f"known defect {line}{strict}" for line in self.rate_lines()]
        lines.append(f"report: {folder / 'index.html'}")
        return "\n".join(lines)

    def counts(self) -> str:
        """'26 passed, 2 known-defect': the summary in the run's own words."""
        return ", ".join(f"{n} {o}" for o, n in self.summary.items() if n) or "no checks"

    def to_dict(self) -> dict:
        return {
            "schema": self.schema,
            "run": self.run,
            "lab": self.lab,
            "environment": self.environment,
            "doctor": self.doctor,
            "footprint": self.footprint,
            "summary": self.summary,
            "known_defects": self.known_defect_rates(),
            "checks": [c.__dict__ for c in sorted(self.checks, key=lambda c: (c.id, c.case))],
        }

    def write(self, folder: Path) -> Path:
        """Write results.json, copying evidence files (pcaps) into folder/evidence/."""
        evidence_dir = folder / "evidence"
        for check in self.checks:
            for exhibit in check.evidence:
                source = exhibit.get("file") or (exhibit["content"] if exhibit.get("kind") == "pcap" else None)
                if source and Path(source).is_absolute() and Path(source).exists():
                    target = (
                        evidence_dir
                        / f"{check.id}[{check.case}]".replace("/", "_").replace(">", "")
                        / Path(source).name
                    )
                    target.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(source, target)
                    exhibit["file"] = str(target.relative_to(folder))
        return write_atomically(folder / "results.json", json.dumps(self.to_dict(), indent=1, sort_keys=False) + "\n")


def load(path: str | Path) -> Results:
    """Results from a results.json, or from a run folder holding one."""
    path = Path(path)
    if path.is_dir():
        path = path / "results.json"
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        from netproof.errors import NetproofError

        raise NetproofError(f"{path}: not a readable netproof results file ({e})") from None
    if doc.get("schema") in OLD_SCHEMAS:
        doc = _from_schema_1(doc)
    if doc.get("schema") != SCHEMA:
        from netproof.errors import NetproofError

        raise NetproofError(
            f"{path}: schema {doc.get('schema')!r}, this netproof reads {SCHEMA!r} and {', '.join(OLD_SCHEMAS)}"
        )
    checks = [CheckResult(**c) for c in doc["checks"]]
    return Results(
        doc["run"],
        doc["lab"],
        doc["environment"],
        checks,
        doc["schema"],
        doc.get("doctor"),
        doc.get("footprint"),
        path.parent,
    )


def _from_schema_1(doc: dict) -> dict:
    """Schema 1 called a known defect "expected-difference" and had no control_plane or engines per check."""
    engines = {e["host"]: e.get("docker") for e in doc.get("environment", [])}
    for c in doc["checks"]:
        if c["outcome"] == "expected-difference":
            c["outcome"] = "known-defect"
        c.setdefault("control_plane", doc["lab"].get("control_plane", ""))
        c.setdefault("engines", {h: engines.get(h) for h in c.get("hosts", [])})
    return {**doc, "schema": SCHEMA}
