"""The verdict of a check's phase, every outcome from a table; and a reworded message changes no outcome."""

from __future__ import annotations

import json

import docker.errors
import pytest
import requests

from netproof.catalogue import Case, Check
from netproof.facts import defects
from netproof.kit import known_defects
from netproof.kit.evidence import CheckFailed, Proof
from netproof.kit.objects import EngineError
from netproof.runner.outcomes import symptoms_of, whose
from netproof.runner.verdict import LAB_BROKEN, Phase, judge
from netproof.system import CommandError, CommandResult
from netproof.wait import WaitTimeout
from tests.unit.test_known_defects import STUCK, HostRunning, RecordedHost

ALL = Check("OVL-PING-001", "containers on one overlay reach each other", "pair")
SINCE_28 = Check("PUB-002", "unpublished ports are not reached", "host", since="28.0", reference="moby/moby#48724")
ON_20 = Case("swarm-docker1", "swarm", ("docker1",), {"docker1": "20.10.24+dfsg1"})
ON_28 = Case("swarm-docker1", "swarm", ("docker1",), {"docker1": "28.5.2+dfsg4"})
FAILED = "OVL-PING-001 failed [swarm-docker1]\nExpected: 3 replies\nObserved: 0"


class Seen:
    """A recognition, as kit.known_defects gives it."""

    def __init__(self, known: bool):
        self.known = known
        self.defect = defects.KNOWN_DEFECTS[0]

    def __str__(self) -> str:
        return "known Docker defect moby/libnetwork#1838" if self.known else "the symptom of moby/libnetwork#1838, but"


# (check, case, phase, strict, doctor after, recognition) -> outcome, words in the message, pytest's report
TABLE = [
    ("passed", ALL, ON_28, Phase("call", passed=True), False, None, None, "passed", "", None),
    ("setup passed: nothing", ALL, ON_28, Phase("setup", passed=True), False, None, None, None, "", None),
    (
        "not promised, held",
        SINCE_28,
        ON_20,
        Phase("call", passed=True),
        False,
        None,
        None,
        "not-promised",
        "docker1 runs Docker 20.10.24+dfsg1",
        None,
    ),
    ("failed", ALL, ON_28, Phase("call", check_failed=FAILED), False, None, None, "failed", "Observed: 0", None),
    (
        "not promised, failed",
        SINCE_28,
        ON_20,
        Phase("call", check_failed=FAILED),
        False,
        None,
        None,
        "not-promised",
        "What was observed:",
        "xfail",
    ),
    (
        "not promised, failed with a known defect's symptom",  # IPV6-003 on 20.10 meeting moby/moby#43585
        SINCE_28,
        ON_20,
        Phase("call", check_failed=FAILED),
        False,
        None,
        Seen(True),
        "not-promised",
        "(known Docker defect moby/libnetwork#1838)",
        "xfail",
    ),
    (
        "skipped",
        ALL,
        ON_28,
        Phase("call", skipped="Skipped: the kernel lacks IPVS"),
        False,
        None,
        None,
        "skipped",
        "the kernel lacks IPVS",
        None,
    ),
    (
        "lab broken",
        ALL,
        ON_28,
        Phase("setup", lab_broken="router drops 4789/udp"),
        False,
        None,
        None,
        "error",
        f"{LAB_BROKEN}: router drops 4789/udp",
        None,
    ),
    (
        "doctor after the check",
        ALL,
        ON_28,
        Phase("call", check_failed=FAILED),
        False,
        "docker2 does not answer",
        None,
        "error",
        "the lab doctor, after the check: docker2 does not answer",
        None,
    ),
    (
        "an error in setup",
        ALL,
        ON_28,
        Phase("setup", error="APIError: conflict"),
        False,
        None,
        None,
        "error",
        "APIError: conflict",
        None,
    ),
    (
        "an error in teardown",
        ALL,
        ON_28,
        Phase("teardown", error="APIError: in use"),
        False,
        None,
        None,
        "error",
        "APIError: in use",
        None,
    ),
    (
        "known defect",
        ALL,
        ON_28,
        Phase("call", check_failed=FAILED),
        False,
        None,
        Seen(True),
        "known-defect",
        "known Docker defect moby/libnetwork#1838",
        "xfail",
    ),
    (
        "known defect, strict",
        ALL,
        ON_28,
        Phase("call", check_failed=FAILED),
        True,
        None,
        Seen(True),
        "known-defect",
        "--strict-defects: counted as a failure",
        None,
    ),
    (
        "symptom without mechanism",
        ALL,
        ON_28,
        Phase("call", check_failed=FAILED),
        False,
        None,
        Seen(False),
        "failed",
        "(the symptom of moby/libnetwork#1838, but",
        None,
    ),
    (
        "netproof's own exception",
        ALL,
        ON_28,
        Phase("call", netproof_fault="KeyError at checks/test_x.py:12 (found['eth0']): 'eth0'"),
        False,
        "the doctor is never asked",
        Seen(True),
        "unjudged",
        "netproof could not judge: KeyError",
        None,
    ),
    (
        "netproof's own exception where the promise is not made",
        SINCE_28,
        ON_20,
        Phase("call", netproof_fault="UnicodeDecodeError: 'utf-8' codec can't decode byte 0xff"),
        False,
        None,
        None,
        "unjudged",
        "netproof could not judge",
        None,
    ),
]


@pytest.mark.parametrize(
    "check,case,phase,strict,doctor,recognition,outcome,words,pytest_says",
    [row[1:] for row in TABLE],
    ids=[row[0] for row in TABLE],
)
def test_the_verdict(check, case, phase, strict, doctor, recognition, outcome, words, pytest_says):
    verdict = judge(check, case, phase, strict=strict, examine_again=lambda: doctor, recognise=lambda: recognition)
    if outcome is None:
        assert verdict is None
        return
    assert verdict.outcome == outcome
    assert words in (verdict.message or "")
    assert (verdict.xfail is not None) == (pytest_says == "xfail")


def test_a_lab_broken_verdict_never_asks_the_doctor_or_the_defects():
    def never():
        raise AssertionError("asked")

    verdict = judge(ALL, ON_28, Phase("call", lab_broken="x"), examine_again=never, recognise=never)
    assert verdict.outcome == "error"


def _failure(prose: str) -> tuple[Proof, pytest.ExceptionInfo]:
    """FW-USER-001 as it fails on 20.10 while other checks create networks, its words chosen by `prose`."""
    proof = Proof("FW-USER-001", "a DROP in DOCKER-USER stops traffic", "swarm-docker1")
    proof.command("GET :32768 from outside", CommandResult("wget ...", 0, "netproof", "", "outside"))
    proof.symptom(defects.BYPASSED_WHILE_CREATING)
    try:
        proof.require(False, expected="every probe stopped", observed=prose, where="docker1")
    except CheckFailed:
        return proof, pytest.ExceptionInfo.from_current()
    raise AssertionError("require did not fail")


@pytest.mark.parametrize(
    "prose",
    [
        "got through; while Docker created 2 other network(s) on docker1",
        "2 probes answered while two more networks were being made on docker1",
        "connected (network is unreachable, has active endpoints: words of netproof's own)",
    ],
)
def test_rewording_a_checks_message_changes_no_outcome(prose):
    proof, excinfo = _failure(prose)
    symptoms = symptoms_of(proof, excinfo)
    assert symptoms == {defects.BYPASSED_WHILE_CREATING}  # the check's tag alone; its prose is not read
    found = known_defects.recognise(symptoms, [HostRunning("docker1", "20.10.24+dfsg1")], "swarm")
    verdict = judge(ALL, ON_20, Phase("call", check_failed=str(excinfo.value)), recognise=lambda: found)
    assert verdict.outcome == "known-defect" and verdict.recognition.defect.reference == "moby/moby#43585"


def test_dockers_own_words_in_a_refusal_are_symptoms():
    try:
        raise EngineError("docker3: Docker would not start container c: ...", said="network n1 not found")
    except EngineError:
        excinfo = pytest.ExceptionInfo.from_current()
    assert symptoms_of(None, excinfo) == {defects.NETWORK_NOT_FOUND}
    found = known_defects.recognise(symptoms_of(None, excinfo), [RecordedHost("docker3", STUCK)], "kv")
    assert found.known


@pytest.mark.parametrize(
    "error,party",
    [
        (EngineError("docker1: network create refused", said="Pool overlaps"), "docker"),
        (docker.errors.APIError("500 Server Error", explanation="failed to set up container networking"), "docker"),
        (
            CommandError(CommandResult(["docker", "exec", "c", "x"], 1, "", "Error response from daemon: x", "d1")),
            "docker",
        ),
        (CommandError(CommandResult(["ip", "link", "del", "x"], 1, "", "Cannot find device", "docker1")), "lab"),
        (CommandError(CommandResult(["docker", "ps"], 1, "", "Cannot connect to the Docker daemon", "docker1")), "lab"),
        (WaitTimeout("timed out after 10 s waiting for a server to listen"), "lab"),
        (docker.errors.DockerException("Error while fetching server API version"), "lab"),
        (requests.exceptions.ConnectionError("Connection aborted"), "lab"),
        (KeyError("eth0"), "netproof"),
        (UnicodeDecodeError("utf-8", b"\xff", 0, 1, "invalid start byte"), "netproof"),
        (FileNotFoundError("evidence/at-outside.pcap"), "netproof"),
        (AssertionError("a bare assert"), "netproof"),
        (TypeError("unsupported operand"), "netproof"),
    ],
)
def test_only_dockers_own_answers_can_fail_a_case(error, party):
    assert whose(error) == party


def _phase_report(when: str, outcome: str, message: str | None, evidence: str):
    from types import SimpleNamespace

    from netproof.runner import recorder

    props = [
        (recorder.CHECK_PROPERTY, json.dumps({"id": "ICC-001", "promise": "p"})),
        (recorder.CASE_PROPERTY, json.dumps(ON_28.to_dict())),
        (recorder.EVIDENCE_PROPERTY, json.dumps({"mechanism": {}, "exhibits": [{"title": evidence}]})),
        (recorder.OUTCOME_PROPERTY, json.dumps([outcome, message, None])),
    ]
    return SimpleNamespace(user_properties=props, nodeid="checks/test_icc.py::ICC-001[swarm-docker1]", duration=1.0)


def test_the_recorder_keeps_dockers_failure_when_teardown_also_errs():
    """Issue 34: the recorder ranked error above failed, so a teardown's error overwrote Docker's failure."""
    from netproof.runner.recorder import RunRecorder

    recorded = object.__new__(RunRecorder)
    recorded.checks = {}
    recorded.record(_phase_report("call", "failed", "ICC-001 failed: got through", "the probes"))
    recorded.record(_phase_report("teardown", "error", "LAB BROKEN: a network would not go", "dockerd log"))
    (case,) = recorded.checks.values()
    assert (case.outcome, case.message) == ("failed", "ICC-001 failed: got through")
    assert case.evidence == [{"title": "the probes"}]
