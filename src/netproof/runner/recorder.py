"""Records a pytest run of the checks, report by report, into Results (on the process that owns the
run; xdist relays the workers' reports). The plugin puts on each check's reports what the recorder
needs as structured properties: the check, its case, its evidence and its outcome in netproof's own
words. Nothing is parsed back out of test IDs.
"""

from __future__ import annotations

import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from netproof import __version__, outcomes, system
from netproof.errors import NetproofError
from netproof.lab import controlplane, engines
from netproof.lab.lab import Lab
from netproof.report.redact import redact
from netproof.report.results import CheckResult, Results

CHECK_PROPERTY = "netproof.check"  # {id, promise}
CASE_PROPERTY = "netproof.case"  # Case.to_dict()
EVIDENCE_PROPERTY = "netproof.evidence"  # Proof.to_dict()
TIMELINE_PROPERTY = "netproof.timeline"  # timeline.Timeline.summary(): where the case's time went
OUTCOME_PROPERTY = "netproof.outcome"  # [outcome, message, known defect's reference or null]


class RunRecorder:
    """A pytest plugin object on the process that owns a checks run; writes the report folder if given one."""

    def __init__(
        self,
        lab: Lab,
        pairs: list[tuple[str, str]],
        folder: Path | None,
        doctor: dict | None = None,
        strict: bool = False,
        footprint: bool = True,
    ):
        self.lab = lab
        self.take_footprint = footprint
        self.footprint: dict | None = None
        self.strict = strict
        self.doctor = doctor
        self.pairs = pairs
        self.folder = folder
        self.started = datetime.now(UTC)
        self.clock = time.monotonic()
        self.checks: dict[str, CheckResult] = {}
        self.environment = environment_of(lab)

    # --- pytest hooks -------------------------------------------------------------------------

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self.record(report)

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        if session.exitstatus in (pytest.ExitCode.OK, pytest.ExitCode.TESTS_FAILED) and self.checks:
            session.exitstatus = int(self.results().exit_status)  # which party is at fault (errors.ExitStatus)
        if self.folder is None:
            return
        from netproof.report import html, junit

        results = self.results()
        if self.take_footprint and results.checks:
            if results.summary["error"]:
                self.footprint = {"hosts": [], "seconds": 0, "error": "not taken: the lab is broken (see the errors)"}
            else:
                from netproof.runner import footprint as take

                self.footprint = take.take(self.lab, self.folder / "footprint")
            results.footprint = self.footprint
        results.write(self.folder)
        junit.write(results, self.folder / "junit.xml")
        html.write_report(results, self.folder / "index.html")

    def pytest_terminal_summary(self, terminalreporter) -> None:
        if not self.checks:
            return
        results = self.results()
        terminalreporter.write_line(f"netproof: {results.counts()}")
        for line in results.rate_lines():
            terminalreporter.write_line(
                f"netproof: known defect {line}" + (" (counted as failures)" if self.strict else "")
            )
        if self.footprint is not None:
            fp = self.footprint
            terminalreporter.write_line(
                f"netproof footprint: {fp['error']}"
                if fp["error"]
                else f"netproof footprint: {self.folder / 'footprint'} ({len(fp['hosts'])} hosts, {fp['seconds']} s)"
            )
        if self.folder is not None:
            terminalreporter.write_line(
                f"netproof report: {self.folder / 'index.html'} (results.json and junit.xml beside it)"
            )

    # --- recording ----------------------------------------------------------------------------

    def record(self, report: pytest.TestReport) -> None:
        props = dict(report.user_properties)
        if CHECK_PROPERTY not in props:
            return  # not a check
        check, case = json.loads(props[CHECK_PROPERTY]), json.loads(props[CASE_PROPERTY])
        result = self.checks.get(report.nodeid)
        if result is None:
            result = self.checks[report.nodeid] = CheckResult(
                check["id"],
                case["label"],
                report.nodeid,
                check["promise"],
                hosts=case["hosts"],
                control_plane=case["control_plane"],
                engines=case["engines"],
            )
        result.duration += report.duration
        # When a case's phases say different things, the gravest stands with its own message and evidence: Docker's
        # failure in the call is not overwritten by a teardown's error (outcomes.GRAVITY).
        stands = False
        if OUTCOME_PROPERTY in props:
            outcome, message, defect = json.loads(props[OUTCOME_PROPERTY])
            stands = outcomes.GRAVITY[outcome] > outcomes.GRAVITY[result.outcome] or bool(
                outcome == result.outcome and message and not result.message
            )
            if stands:
                result.outcome, result.message, result.defect = outcome, message, defect
        if TIMELINE_PROPERTY in props:
            result.timeline = json.loads(props[TIMELINE_PROPERTY])
        if EVIDENCE_PROPERTY in props and (stands or not result.evidence):
            proof = json.loads(props[EVIDENCE_PROPERTY])
            result.mechanism, result.evidence = proof["mechanism"], proof["exhibits"]

    def results(self) -> Results:
        topo = self.lab.topology
        lab = {
            "name": topo.name,
            "provider": self.lab.state["provider"],
            "control_plane": topo.control_plane,
            "topology_file": topo.source,
            "subnets": [
                {"name": s.name, "cidr": str(s.network), "gateway": str(s.gateway)} for s in topo.subnets.values()
            ],
            "hosts": [
                {
                    "name": h.name,
                    "role": h.role,
                    "subnet": h.subnet.name,
                    "address": str(h.address),
                    "engine": h.engine,
                    **({"daemon": redact(h.daemon)} if h.daemon else {}),
                }
                for h in topo.hosts.values()
            ],
            "pairs": [list(p) for p in self.pairs],
        }
        finished = datetime.now(UTC)
        run = {
            "id": self.started.strftime("%Y%m%dT%H%M%SZ"),
            "started": self.started.isoformat(timespec="seconds"),
            "finished": finished.isoformat(timespec="seconds"),
            "duration": round(time.monotonic() - self.clock, 1),
            "netproof_version": __version__,
            **provenance(),
            "command": " ".join(["pytest", *sys.argv[1:]]),
            "strict": self.strict,
        }
        return Results(run, lab, self.environment, list(self.checks.values()), doctor=self.doctor)


def environment_of(lab: Lab) -> list[dict]:
    """What runs on each docker host: the versions a reader of the report needs, and how Docker is configured."""
    rows = []
    swarm = swarm_configuration(lab)
    for host in lab.docker_hosts:
        row = {"host": host.name, "engine": host.engine}
        try:
            version = host.engine_answer()  # within seconds: a hung daemon must not hold the report a minute
            components = {c.get("Name", "").lower(): c.get("Version") for c in version.get("Components", [])}
            row.update(
                docker=version.get("Version"),
                api=version.get("ApiVersion"),
                containerd=components.get("containerd"),
                runc=components.get("runc"),
            )
        except Exception as e:  # noqa: BLE001 - a host that does not answer is a fact for the table
            row["docker"] = f"not answering ({type(e).__name__})"
        row["runtime"] = runtime_of(lab, host)
        row["kernel"] = host.run(["uname", "-r"]).stdout.strip()
        row["iptables"] = host.run(["iptables", "--version"]).stdout.strip()
        declared = lab.topology.hosts[host.name].daemon
        configured = {f"daemon.{k}": _said(v) for k, v in sorted(redact(declared).items())}
        row["configuration"] = {**configured, **swarm}
        rows.append(row)
    return rows


def swarm_configuration(lab: Lab) -> dict[str, str]:
    """The swarm's settings as its manager reports them ("swarm.<key>" as the topology's swarm: says them), Docker's
    defaults included: what the overlays ran with, whether the topology set it or not."""
    if lab.topology.control_plane != "swarm":
        return {}
    try:
        lab.manager.engine_answer()  # a hung manager is found in seconds, not after the API's timeout
        settings = controlplane.swarm_settings(lab.manager)
    except Exception as e:  # noqa: BLE001 - a manager that does not answer is a fact for the table
        return {"swarm": f"not read ({type(e).__name__})"}
    return {f"swarm.{k}": _said(v) for k, v in settings.items() if v is not None}


def _said(value) -> str:
    """A setting's value as a reader (and the diff) compares it: strings as written, the rest as JSON."""
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def runtime_of(lab: Lab, host) -> str | None:
    """Whose containerd and runc the host's dockerd runs with, where netproof started it from its cache (netns):
    the engine's own (a static build's) or the system's. Elsewhere the host's own set-up decides: not said."""
    if lab.provider.name != "netns":
        return None
    if host.engine == engines.SYSTEM:
        return "the system's"
    try:
        return engines.resolve(host.engine).runtime
    except NetproofError:  # uncached since the lab came up: the versions beside it still say what ran
        return None


DEPENDENCIES = ("docker", "pytest", "pytest-xdist", "pytest-testinfra", "scapy", "PyYAML", "python-vagrant", "requests")


def provenance() -> dict:
    """What made the report, for whoever reads it later: netproof's commit where it runs from a checkout, and the
    versions of the libraries it drives Docker and the lab with (each host's kernel is in the environment table)."""
    from importlib import metadata

    here = Path(__file__).resolve().parent
    commit = system.run(["git", "-C", str(here), "rev-parse", "--short=12", "HEAD"], check=False)
    versions = {}
    for name in DEPENDENCIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return {"netproof_commit": commit.stdout.strip() if commit.ok else None, "dependencies": versions}
