"""The upgrade's verdict (runner/upgrade/verdict.py) on recorded runs: the seed lab's GW-MODE-001, DNS-005 and
PUB-002 cases on 26.1 as "before" and on 28.5 as "after" (tests/unit/fixtures/matrix): go, go with caveats, or
no-go, each with reasons a person can act on."""

from __future__ import annotations

from pathlib import Path

import pytest

from netproof import catalogue
from netproof.errors import ExitStatus
from netproof.jobs.upgrade.outcome import Finding, Upgrade, lab_broke
from netproof.jobs.upgrade.verdict import judge
from netproof.lab.model.findings import Diagnosis
from netproof.lab.model.findings import Finding as DoctorFinding
from netproof.report import diff, results

RECORDED = Path(__file__).parent / "fixtures" / "matrix"
CHECKS = catalogue.load(Path(__file__).parents[2] / "checks")


def upgrade(findings: list[Finding] = ()) -> Upgrade:
    done = Upgrade(["26.1", "28.5"], RECORDED, findings=list(findings))
    done.overall = diff.compare(results.load(RECORDED / "26.1"), results.load(RECORDED / "28.5"))
    return done


def test_promises_newly_kept_are_notes_grouped_per_check_with_why():
    said = judge(upgrade(), CHECKS, "swarm")
    assert said.go == "go" and not said.reasons and not said.caveats
    assert "PUB-002 on 4 of 4 hosts: not-promised -> passed (the promise holds from 28.0: moby/moby#48724" in (
        "\n".join(said.notes)
    )
    assert any(n.startswith("GW-MODE-001 on 16 of 16 cases: not-promised -> passed") for n in said.notes), said.notes


def test_what_the_upgrade_met_is_a_no_go_with_its_reason():
    met = Finding("docker2", "flow paused 1.2 s while docker1 restarting on 28.5: a host that was not being restarted")
    said = judge(upgrade([met]), CHECKS, "swarm")
    assert said.go == "no-go" and said.reasons == [str(met)]


def test_a_step_after_which_the_doctor_found_the_lab_broken_is_the_labs_not_a_no_go():
    # Issue 36: 20.10 -> 28.5 --rolling allocated a bridge over dc2's underlay on docker1, and was judged no-go
    stuck = Finding("docker3", "swarm nodes not ready after 60 s", engine="28.5")
    done = upgrade([stuck])
    over = (
        "docker1 holds a Docker network over lab addresses (br-15ea29cb432a at 192.168.48.0/20 covers docker3 "
        "192.168.50.101): it sends their traffic into that bridge"
    )
    doctor = Diagnosis(
        "seed", "swarm", [DoctorFinding("host", "docker-networks", "docker1", None, False, "x", cause=over)]
    )
    broke = lab_broke(done.findings, "28.5", doctor)
    assert broke == f"the lab broke at the step to 28.5, not Docker: the doctor found {over}"
    done.lab_broken.append(broke)
    said = judge(done, CHECKS, "swarm")
    assert said.go == "no verdict: the lab broke" and said.reasons == [broke], said
    assert not stuck.bad and "not counted: the lab broke at this step" in stuck.text
    assert done.exit_status({"passed": 3}) == ExitStatus.LAB_BROKEN
    assert diff.render_verdict(said.to_dict()).splitlines()[:2] == [
        "VERDICT: NO VERDICT: THE LAB BROKE",
        f"  lab broke: {broke}",
    ]


def test_a_step_whose_lab_the_doctor_finds_whole_keeps_what_it_met_as_dockers():
    stuck = Finding("docker3", "swarm nodes not ready after 60 s", engine="28.5")
    gossip = DoctorFinding("control-plane", "gossip", "docker1", "docker3", False, "not a peer", cause="no gossip")
    assert lab_broke([stuck], "28.5", Diagnosis("seed", "swarm", [gossip])) is None  # Docker's own, not the lab's
    assert stuck.bad


def test_a_host_far_slower_to_carry_overlay_traffic_again_is_a_caveat():
    times = {"docker1": 2.1, "docker2": 3.9, "docker3": 27.0, "docker4": 2.5}
    findings = [Finding(h, f"came back {s} s", bad=False, seconds=s) for h, s in times.items()]
    said = judge(upgrade(findings), CHECKS, "swarm")
    assert said.go == "go, with caveats"
    assert said.caveats == [
        "docker3's overlay traffic took 27 s to come back after its restart, the other hosts' 2 to 4 s: look at its "
        "dockerd log before upgrading such hosts"
    ]


def test_a_known_defect_of_the_target_engine_is_a_caveat_even_unmet():
    done = upgrade()
    done.path = ["28.5", "29.7"]
    said = judge(done, CHECKS, "none")
    assert said.go == "go, with caveats"
    assert any(c.startswith("known Docker defect moby/moby#53384 on 29.7") for c in said.caveats), said.caveats


@pytest.mark.parametrize(
    "counts,bad_finding,status",
    [
        ({"passed": 30}, False, ExitStatus.PASSED),
        ({"passed": 20, "error": 10}, False, ExitStatus.LAB_BROKEN),  # the lab broke mid-upgrade: never 0
        ({"passed": 29, "unjudged": 1}, False, ExitStatus.CRASHED),
        ({"passed": 20, "error": 10}, True, ExitStatus.DOCKER_FAILED),  # a regression stands whatever else broke
    ],
)
def test_an_upgrade_exits_by_the_one_rule(counts, bad_finding, status, tmp_path):
    """Issue 34: an upgrade whose lab broke exited 0 (it looked only for regressions)."""
    done = Upgrade(["28.5", "29.7"], tmp_path)
    if bad_finding:
        done.findings.append(Finding("docker1", "dockerd 29.7 did not start", bad=True))
    assert done.exit_status(counts) == status


def test_a_case_that_passed_and_now_errs_is_no_regression_of_dockers():
    """The lab broke (or netproof did), not Docker: the diff says the outcome changed, and the upgrade exits 10."""
    old, new = results.load(RECORDED / "28.5"), results.load(RECORDED / "28.5")
    case = next(c for c in new.checks if c.outcome == "passed")
    case.outcome, case.message = "error", "LAB BROKEN, not a Docker failure: docker3 does not forward IPv4"
    changes = diff.compare(old, new)
    assert not changes.regressed and changes.of_kind("outcome changed")
