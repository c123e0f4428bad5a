"""The lab tests' harness, tested the hard way: a pytest session of its own, run as a subprocess,
whose test fails in the middle of a lab (it must leave nothing behind), or leaks a lab on purpose
(the session must fail, naming what was left, and remove it)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from .conftest import assert_nothing_left, claim

ROOT = Path(__file__).parents[2]

FAILS_MID_LAB = """
from netproof.lab.image import TEST_IMAGE
from netproof.lab.model import loader

def test_fails_inside_a_lab(bring_up):
    lab = bring_up(loader.load("{seed}").with_overrides(name="t-harness-fail"))
    lab.host("docker1").docker().containers.run(TEST_IMAGE, "sleep 600", detach=True)
    assert False, "forced failure inside a lab"
"""

LEAKS_A_LAB = """
from netproof.lab.lab import Lab
from netproof.lab.model import loader
from tests.lab.harness import claim

def test_leaves_a_lab_up():
    Lab.up(loader.load("{seed}").with_overrides(name=claim("t-harness-leak")))
"""


def inner_session(tmp_path: Path, source: str) -> subprocess.CompletedProcess:
    test_file = tmp_path / "test_inner.py"
    test_file.write_text(source.format(seed=ROOT / "labs" / "seed.yml"))
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            str(test_file),
            "-p",
            "tests.lab.harness",
            "-p",
            "no:cacheprovider",
            f"--rootdir={tmp_path}",
            "-q",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_a_test_that_fails_inside_a_lab_leaves_nothing_behind(machine, tmp_path):
    claim("t-harness-fail")
    done = inner_session(tmp_path, FAILS_MID_LAB)
    out = done.stdout + done.stderr
    assert done.returncode == 1 and "forced failure inside a lab" in out, out[-3000:]
    assert "1 failed" in out and "error" not in out.splitlines()[-1], out[
        -3000:
    ]  # the harness swept nothing: nothing leaked
    assert_nothing_left("t-harness-fail", machine)


def test_a_lab_left_up_fails_the_session_and_is_removed(machine, tmp_path):
    claim("t-harness-leak")
    done = inner_session(tmp_path, LEAKS_A_LAB)
    out = done.stdout + done.stderr
    assert done.returncode == 1 and "1 passed, 1 error" in out, out[-3000:]
    assert "this session's labs left things behind" in out, out[-3000:]
    assert "lab t-harness-leak: network namespace netproof.t-harness-leak.docker1" in out, out[-3000:]
    assert "lab t-harness-leak: process" in out and "dockerd" in out, out[-3000:]
    assert_nothing_left("t-harness-leak", machine)
