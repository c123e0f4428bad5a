"""Records a pytest run of the checks, report by report, into Results (on the process that owns the run)."""

from __future__ import annotations

import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from netproof import __version__
from netproof.lab.lab import Lab
from netproof.report.results import CheckResult, Results, hosts_in

EVIDENCE_PROPERTY = "netproof.evidence"


class RunRecorder:
    """A pytest plugin object, registered for a run that writes a report folder."""

    def __init__(self, lab: Lab, pairs: list[tuple[str, str]], folder: Path):
        self.lab = lab
        self.pairs = pairs
        self.folder = folder
        self.started = datetime.now(UTC)
        self.clock = time.monotonic()
        self.checks: dict[str, CheckResult] = {}
        self.environment = environment_of(lab)

    # --- pytest hooks (on the process that owns the run; xdist relays the workers' reports) ---

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        self.record(report)

    def pytest_sessionfinish(self, session: pytest.Session) -> None:
        from netproof.report import html

        results = self.results()
        results.write(self.folder)
        html.write_report(results, self.folder / "index.html")

    def pytest_terminal_summary(self, terminalreporter) -> None:
        terminalreporter.write_line(f"netproof report: {self.folder / 'index.html'} (results.json and junit.xml beside it)")

    def record(self, report: pytest.TestReport) -> None:
        name = report.nodeid.rsplit("::", 1)[-1]
        check_id, _, case = name.partition("[")
        if not check_id[:3].isupper():
            return  # not a check
        result = self.checks.setdefault(report.nodeid, CheckResult(check_id, case.rstrip("]"), report.nodeid,
                                                                     hosts=hosts_in(case.rstrip("]"))))
        result.duration += report.duration
        for key, value in report.user_properties:
            if key == EVIDENCE_PROPERTY:
                proof = json.loads(value)
                result.promise, result.mechanism, result.evidence = proof["promise"], proof["mechanism"], proof["exhibits"]
        if hasattr(report, "wasxfail"):
            result.outcome, result.message = "expected-difference", report.wasxfail
        elif report.failed:
            result.outcome = "failed" if report.when == "call" else "error"
            # Without xdist's "[gw0] linux -- Python ..." line: the reader wants the check's own words.
            result.message = "\n".join(line for line in report.longreprtext.splitlines() if not line.startswith("[gw"))
        elif report.skipped and result.outcome == "passed":
            result.outcome = "skipped"
            result.message = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)

    def results(self) -> Results:
        topo = self.lab.topology
        lab = {
            "name": topo.name, "provider": self.lab.state["provider"], "control_plane": topo.control_plane,
            "topology_file": topo.source,
            "subnets": [{"name": s.name, "cidr": str(s.network), "gateway": str(s.gateway)} for s in topo.subnets.values()],
            "hosts": [{"name": h.name, "role": h.role, "subnet": h.subnet.name, "address": str(h.address), "engine": h.engine}
                      for h in topo.hosts.values()],
            "pairs": [list(p) for p in self.pairs],
        }
        finished = datetime.now(UTC)
        run = {"id": self.started.strftime("%Y%m%dT%H%M%SZ"), "started": self.started.isoformat(timespec="seconds"),
               "finished": finished.isoformat(timespec="seconds"), "duration": round(time.monotonic() - self.clock, 1),
               "netproof_version": __version__, "command": " ".join(["pytest", *sys.argv[1:]])}
        return Results(run, lab, self.environment, list(self.checks.values()))


def environment_of(lab: Lab) -> list[dict]:
    """What runs on each docker host: the versions a reader of the report needs."""
    rows = []
    for host in lab.docker_hosts:
        row = {"host": host.name, "engine": host.engine}
        try:
            version = host.docker().version()
            components = {c.get("Name", "").lower(): c.get("Version") for c in version.get("Components", [])}
            row.update(docker=version.get("Version"), api=version.get("ApiVersion"),
                       containerd=components.get("containerd"), runc=components.get("runc"))
        except Exception as e:  # noqa: BLE001 - a host that does not answer is a fact for the table
            row["docker"] = f"not answering ({type(e).__name__})"
        row["kernel"] = host.run(["uname", "-r"]).stdout.strip()
        row["iptables"] = host.run(["iptables", "--version"]).stdout.strip()
        rows.append(row)
    return rows
