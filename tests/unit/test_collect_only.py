"""Listing the checks needs no lab: `pytest --collect-only` names every case in seconds, case IDs are safe for -k,
and a check's tags are markers for -m (issue 25)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from netproof import catalogue
from netproof.lab.model import loader

ROOT = Path(__file__).parents[2]


def collect(*args: str) -> list[str]:
    argv = [sys.executable, "-m", "pytest", "checks", "--collect-only", "-q", "-p", "no:cacheprovider"]
    done = subprocess.run(argv + ["--lab=labs/seed.yml", *args], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    return [line for line in done.stdout.splitlines() if "::" in line]


def test_every_case_is_listed_without_a_lab():
    started = time.monotonic()
    cases = collect()
    assert time.monotonic() - started < 30
    seed = loader.load(ROOT / "labs" / "seed.yml")
    per_scope = {"host": len(seed.docker_hosts), "pair": len(seed.host_pairs()), "lab": 1}
    expected = sum(per_scope[c.scope] * c.variant_count for c in catalogue.load(ROOT / "checks"))
    assert len(cases) == expected, cases
    assert not [c for c in cases if "->" in c], "case IDs must be safe for -k"


def test_k_selects_a_pair_and_m_selects_a_tag():
    pair = collect("-k", "OVL-PING-001 and docker1-to-docker4")
    assert pair == ["checks/test_overlay_reachability.py::OVL-PING-001[swarm-docker1-to-docker4]"]
    ipv6 = collect("-m", "ipv6")
    assert ipv6 and all("::IPV6-" in case for case in ipv6)


def _netproof_namespaces() -> set[str]:
    done = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=False)
    return {line.split()[0] for line in done.stdout.splitlines() if line.startswith("netproof.")}


@pytest.mark.parametrize(
    "option", ["--markers", "--fixtures", "--setup-plan", "--fixtures-per-test", "--help", "--collect-only"]
)
def test_a_run_that_only_shows_something_brings_no_lab_up(option, tmp_path):
    """Issue 33: `pytest --pyargs netproof.checks --markers` brought the seed lab up, as root."""
    before = _netproof_namespaces()
    argv = [sys.executable, "-m", "pytest", "--pyargs", "netproof.checks", option, "-q", "-p", "no:cacheprovider"]
    done = subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "bringing up" not in done.stdout + done.stderr
    assert _netproof_namespaces() <= before


def test_another_projects_checks_folder_wakes_nothing(tmp_path):
    """A folder is not netproof's for its name: `pytest checks` in another project runs that project's tests only."""
    (tmp_path / "checks").mkdir()
    (tmp_path / "checks" / "test_theirs.py").write_text("def test_theirs():\n    assert 1 + 1 == 2\n")
    (tmp_path / "pyproject.toml").write_text("[tool.pytest.ini_options]\n")
    before = _netproof_namespaces()
    argv = [sys.executable, "-m", "pytest", "checks", "-q", "-p", "no:cacheprovider"]
    done = subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "1 passed" in done.stdout, done.stdout[-2000:] + done.stderr[-2000:]
    assert "netproof:" not in done.stdout and _netproof_namespaces() <= before
