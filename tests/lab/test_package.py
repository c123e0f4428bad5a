"""netproof as a user installs it: the wheel, in a fresh virtual environment, run from a folder that is not the
checkout, lists its checks and runs them against a lab (issue 25: it ran only from its checkout)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import yaml

from netproof import catalogue
from netproof.report import results

from .conftest import ROOT, assert_nothing_left, claim

NAME = "t-wheel"


def test_the_wheel_runs_the_checks_outside_the_checkout(machine, tmp_path):
    dist, venv, elsewhere = tmp_path / "dist", tmp_path / "venv", tmp_path / "elsewhere"
    elsewhere.mkdir()
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(dist), str(ROOT)], check=True, timeout=300
    )
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    [wheel] = dist.glob("netproof-*.whl")
    pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check", str(wheel)]
    subprocess.run(pip, check=True, timeout=600, env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"})

    alone = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}  # no checkout in sight

    def installed(*argv: str) -> subprocess.CompletedProcess:
        return subprocess.run(argv, cwd=elsewhere, capture_output=True, text=True, timeout=600, env=alone)

    listed = installed(str(venv / "bin" / "netproof"), "checks", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    assert {c["id"] for c in json.loads(listed.stdout)} == {c.id for c in catalogue.load(ROOT / "checks")}

    # The seed lab as the package carries it, under a name of this test's.
    shipped = installed(
        str(venv / "bin" / "python"),
        "-c",
        "import netproof.labs, pathlib; print(pathlib.Path(netproof.labs.__file__).parent / 'seed.yml')",
    )
    doc = yaml.safe_load(Path(shipped.stdout.strip()).read_text())
    assert Path(shipped.stdout.strip()).is_relative_to(venv), shipped.stdout  # not the checkout's
    assert (Path(shipped.stdout.strip()).parent / "Vagrantfile").is_file(), "the vagrant provider's file travels too"
    doc["name"] = claim(NAME)
    (elsewhere / "wheel.yml").write_text(yaml.safe_dump(doc))
    run = installed(
        str(venv / "bin" / "python"),
        "-m",
        "pytest",
        "--pyargs",
        "netproof.checks",
        "--lab=wheel.yml",
        "-k",
        "OVL-PING-001 and docker1-to-docker2",
        "-p",
        "no:cacheprovider",
        "--report-dir=report",
        "--no-footprint",
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-2000:]
    [case] = results.load(elsewhere / "report").checks
    assert (case.id, case.case, case.outcome) == ("OVL-PING-001", "swarm-docker1-to-docker2", "passed")
    assert_nothing_left(NAME, machine)
