"""Each phase's report in netproof's words: the check, its case, its evidence and its outcome as properties
(what the recorder writes), the verdict from runner/verdict.py, and on a failure the involved hosts' dockerd
log lines from the check's own time window."""

from __future__ import annotations

import json
from pathlib import Path

import docker.errors
import pytest
import requests

from netproof import timeline
from netproof.catalogue import Case, Check
from netproof.errors import NetproofError
from netproof.facts.defects import symptoms_in
from netproof.kit import known_defects
from netproof.kit.evidence import CheckFailed, LabBroken, Proof
from netproof.kit.objects import EngineError
from netproof.lab.model.findings import REQUIREMENTS
from netproof.lab.providers.base import LabHost
from netproof.runner import needs
from netproof.runner.recorder import (
    CASE_PROPERTY,
    CHECK_PROPERTY,
    EVIDENCE_PROPERTY,
    OUTCOME_PROPERTY,
    TIMELINE_PROPERTY,
)
from netproof.runner.session import CASE, STARTED, check_of_item, lab_of
from netproof.runner.verdict import Phase, judge
from netproof.system import CommandError


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    outcome = yield
    report = outcome.get_result()
    declared = check_of_item(item)
    if declared is None or CASE not in item.stash:
        return
    case = item.stash[CASE]
    if call.when == "setup":
        item.stash[STARTED] = call.start
    if call.when == "teardown" and (spent := timeline.end()) is not None:
        report.user_properties.append((TIMELINE_PROPERTY, json.dumps(spent.summary())))
    report.user_properties += [
        (CHECK_PROPERTY, json.dumps({"id": declared.id, "promise": declared.promise})),
        (CASE_PROPERTY, json.dumps(case.to_dict())),
    ]
    phase = _phase(item, call, report)
    verdict = judge(
        declared,
        case,
        phase,
        strict=item.config.getoption("netproof_strict_defects"),
        examine_again=lambda: _examine_again(item, declared, case),
        recognise=lambda: known_defects.recognise(
            symptoms_of(item.funcargs.get("proof") if hasattr(item, "funcargs") else None, call.excinfo),
            _hosts_of(item),
            case.control_plane,
            _sightings_of(item),
        ),
    )
    if verdict is None:
        return
    if verdict.longrepr is not None:
        report.longrepr = verdict.longrepr
    if verdict.xfail is not None:
        report.outcome, report.wasxfail = "skipped", verdict.xfail
    netproof_outcome, message = verdict.outcome, verdict.message
    proof = item.funcargs.get("proof") if hasattr(item, "funcargs") else None
    evidence = proof.to_dict() if isinstance(proof, Proof) and call.when == "call" else None
    if (
        netproof_outcome in ("failed", "error", "unjudged", "known-defect", "not-promised")
        and report.when != "teardown"
        and call.excinfo
    ):
        evidence = evidence or {"mechanism": {}, "exhibits": []}
        if not call.excinfo.errisinstance((CheckFailed, LabBroken)):
            evidence["exhibits"].append(
                {"title": "traceback", "kind": "traceback", "content": str(call.excinfo.getrepr(style="short"))}
            )
        evidence["exhibits"] += _engine_logs(item, case, since=item.stash.get(STARTED, call.start), until=call.stop)
        if verdict.recognition is not None and verdict.recognition.known:
            evidence["exhibits"].append(
                {
                    "title": f"known defect {verdict.recognition.defect.reference}: its mechanism, found then",
                    "kind": "text",
                    "content": verdict.recognition.mechanism,
                }
            )
    if evidence is not None:
        report.user_properties.append((EVIDENCE_PROPERTY, json.dumps(evidence)))
    defect = verdict.recognition.defect.reference if netproof_outcome == "known-defect" else None
    report.user_properties.append((OUTCOME_PROPERTY, json.dumps([netproof_outcome, message, defect])))


def _phase(item: pytest.Item, call: pytest.CallInfo, report: pytest.TestReport) -> Phase:
    """What pytest saw of the phase, in the verdict's terms."""
    excinfo = call.excinfo
    if report.passed:
        return Phase(call.when, passed=True)
    if report.skipped:
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        return Phase(call.when, skipped=reason)
    if excinfo is not None and excinfo.errisinstance(LabBroken):
        return Phase(call.when, lab_broken=str(excinfo.value))
    if excinfo is not None and excinfo.errisinstance(CheckFailed):
        return Phase(call.when, check_failed=str(excinfo.value))
    if excinfo is not None:  # one line; the traceback goes to the evidence
        said = one_line(excinfo, item.config.rootpath)
        party = whose(excinfo.value)
        if party == "docker":
            return Phase(call.when, error=said)
        if party == "lab":
            return Phase(call.when, lab_broken=said)
        return Phase(call.when, netproof_fault=f"{said}\n{last_frames(excinfo)}")
    return Phase(call.when, text=report.longreprtext)


def whose(error: BaseException) -> str:
    """Whose exception it is. Only Docker's own answers can fail a case: its API's errors, a request it failed (the
    kit's EngineError), its CLI's "Error response from daemon". A daemon not answering, a tool or a command of a lab
    host failing, a wait running out (netproof's NetproofError family): the lab's. Anything else is netproof's own
    code (a check's included): "netproof could not judge", never Docker's failure nor a pass."""
    if isinstance(error, EngineError | docker.errors.APIError):
        return "docker"
    if isinstance(error, CommandError):
        said = error.result.stderr + error.result.stdout
        return "docker" if "docker" in error.result.argv and "Error response from daemon" in said else "lab"
    if isinstance(error, NetproofError | docker.errors.DockerException | requests.exceptions.RequestException):
        return "lab"
    return "netproof"


def last_frames(excinfo: pytest.ExceptionInfo, count: int = 3) -> str:
    """The traceback's last frames, one line each: where netproof's own code went wrong."""
    frames = [
        f"  {Path(str(e.path)).name}:{e.lineno + 1} {' '.join(str(e.statement).split())[:120]}"
        for e in excinfo.traceback[-count:]
    ]
    return "\n".join(frames)


def _sightings_of(item: pytest.Item) -> dict[str, str]:
    proof = item.funcargs.get("proof") if hasattr(item, "funcargs") else None
    return dict(proof.sightings) if isinstance(proof, Proof) else {}


def symptoms_of(proof: Proof | None, excinfo: pytest.ExceptionInfo | None) -> frozenset[str]:
    """What the failure shows of known defects: the symptoms the check recorded, those the kit raised with, and
    those in Docker's own words when it refused (never netproof's prose: rewording a message changes nothing)."""
    seen = set(proof.symptoms) if isinstance(proof, Proof) else set()
    error = excinfo.value if excinfo is not None else None
    seen |= set(getattr(error, "symptoms", ()))
    said = getattr(error, "explanation", None)  # docker-py's APIError: Docker's own words
    return frozenset(seen | symptoms_in(str(said or "")))


def one_line(excinfo: pytest.ExceptionInfo, root: Path) -> str:
    """An exception as one line: what was being done (the last line of netproof's or the check's own code it
    passed through) and the error in its own words (Docker's explanation when Docker refused)."""
    error = excinfo.value
    words = getattr(error, "explanation", None) or str(error)
    words = " ".join(str(words).split())[:400]
    doing = ""
    for entry in reversed(excinfo.traceback):
        path = Path(str(entry.path))
        if "netproof" in path.parts or path.is_relative_to(root):
            where = path.relative_to(root) if path.is_relative_to(root) else path.name
            statement = " ".join(str(entry.statement).split())
            doing = f" at {where}:{entry.lineno + 1} ({statement[:100]})"
            break
    return f"{type(error).__name__}{doing}: {words}"


def _examine_again(item: pytest.Item, declared: Check, case: Case) -> str | None:
    """When a check fails or errors, the doctor looks again at its hosts: a fault that appeared mid-run is the cause."""
    others = needs.examined_after(declared, len(case.hosts), tuple(REQUIREMENTS))
    if not others:
        return None
    from netproof import doctor

    try:
        found = doctor.examine(lab_of(item.config), hosts=case.hosts)
        leaned_on = (*case.hosts, *found.outside_hosts) if "outside" in item.fixturenames else case.hosts
        causes = found.causes_for(leaned_on, others)
    except Exception:  # noqa: BLE001 - the doctor's own trouble must not hide the check's verdict
        return None
    return "; ".join(causes) or None


def _engine_logs(item: pytest.Item, case: Case, since: float, until: float) -> list[dict]:
    """The involved hosts' dockerd log lines from the check's own time window, as exhibits."""
    lab = lab_of(item.config)
    exhibits = []
    for name in case.hosts:
        try:
            text = lab.provider.engine_log(lab.host(name), since, until) or "(no lines in this window)"
        except Exception as e:  # noqa: BLE001 - the log is evidence, its absence a fact
            text = f"(could not read it: {type(e).__name__}: {e})"
        exhibits.append(
            {"title": f"dockerd log on {name} during the check", "kind": "text", "content": text, "where": name}
        )
    return exhibits


def _hosts_of(item: pytest.Item) -> list[LabHost]:
    lab = lab_of(item.config)
    return [lab.host(h) for h in item.stash[CASE].hosts]
