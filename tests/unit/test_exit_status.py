"""A user's CI reads the exit status: which party is at fault, the same for netproof's commands and pytest
(errors.ExitStatus), and junit.xml agreeing with it in every mode."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from netproof import cli
from netproof.errors import ExitStatus
from netproof.report import junit, results

RECORDED = Path(__file__).parents[1] / "fixtures" / "results-20.10-swarm-isolation-broken.json"


def run_with(*outcomes: str, strict: bool = False) -> results.Results:
    run = results.load(RECORDED)
    for case, outcome in zip(run.checks, outcomes, strict=False):
        case.outcome = outcome
    for case in run.checks[len(outcomes) :]:
        case.outcome = "passed"
    run.run["strict"] = strict
    return run


@pytest.mark.parametrize(
    "outcomes,strict,status",
    [
        ((), False, ExitStatus.PASSED),
        (("skipped", "not-promised", "known-defect"), False, ExitStatus.PASSED),
        (("known-defect",), True, ExitStatus.DOCKER_FAILED),
        (("failed",), False, ExitStatus.DOCKER_FAILED),
        (("error",), False, ExitStatus.LAB_BROKEN),
        (("error", "failed"), False, ExitStatus.DOCKER_FAILED),  # Docker's failures stand whatever else broke
        (("unjudged",), False, ExitStatus.CRASHED),  # netproof's own fault: never a pass, never Docker's
        (("unjudged", "error"), False, ExitStatus.CRASHED),
        (("unjudged", "failed"), False, ExitStatus.DOCKER_FAILED),
    ],
)
def test_the_exit_status_names_the_party_at_fault(outcomes, strict, status):
    assert run_with(*outcomes, strict=strict).exit_status == status


@pytest.mark.parametrize("strict", [False, True])
def test_junit_agrees_with_the_exit_status(tmp_path, strict):
    run = run_with("known-defect", strict=strict)
    suite = ET.parse(junit.write(run, tmp_path / "junit.xml")).getroot().find("testsuite")
    assert (int(suite.get("failures")) > 0) == (run.exit_status == ExitStatus.DOCKER_FAILED)
    assert len(suite.findall(".//failure")) == int(suite.get("failures"))


def test_bad_input_is_a_usage_error(tmp_path, capsys):
    assert cli.main(["checks", "list", "--checks", str(tmp_path / "no-such-folder")]) == ExitStatus.USAGE
    assert "no such checks folder" in capsys.readouterr().err


def test_netproofs_own_failure_is_a_crash_said_as_one(monkeypatch, capsys):
    def broken(args):
        raise KeyError("a bug")

    monkeypatch.setattr(cli, "cmd_checks_list", broken)  # build_parser binds the command as main() runs
    assert cli.main(["checks", "list"]) == ExitStatus.CRASHED
    err = capsys.readouterr().err
    assert "Traceback" in err and "crashed (a bug in netproof, not in Docker or the lab)" in err


def test_diff_json_is_json_alone_on_stdout(tmp_path):
    import json
    import subprocess
    import sys

    fixtures = Path(__file__).parents[1] / "fixtures"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "netproof.cli",
            "diff",
            str(fixtures / "results-20.10-swarm.json"),
            str(fixtures / "results-28.5-swarm-after-upgrade.json"),
            "--json",
            "--html",
            str(tmp_path / "d.html"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == ExitStatus.PASSED, done.stderr
    said = json.loads(done.stdout)
    assert said["regressed"] is False and said["report"] == str(tmp_path / "d.html")
    assert {"kind", "where", "old", "new", "details"} <= set(said["changes"][0])
