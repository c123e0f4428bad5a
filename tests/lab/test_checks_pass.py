"""The checks pass on the seed lab, with pytest -n auto and serially, with the same results: on
engine 20.10 with both control planes and on 28.5 with swarm. And a run with no lab up brings
the seed lab up once for all workers and down once after them."""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from netproof.lab.lab import Lab
from netproof.model import topology

from .conftest import assert_nothing_left, claim

ROOT = Path(__file__).parents[2]
CHECK_IDS = {"OVL-PING-001", "OVL-VXLAN-001", "OVL-VETH-001", "OVL-GWBR-001", "OVL-GWBR-002", "ISO-INT-001", "ISO-INT-002"}
KNOWN_DEFECT = "known Docker defect"


def run_checks(*args: str, junit: Path) -> tuple[subprocess.CompletedProcess, dict[str, str]]:
    done = subprocess.run([sys.executable, "-m", "pytest", "checks", "-p", "no:cacheprovider", "-q", "-rfExX",
                           f"--junitxml={junit}", *args], cwd=ROOT, capture_output=True, text=True, timeout=900)
    outcomes = {}
    if junit.exists():
        for case in ET.parse(junit).iter("testcase"):
            kinds = [child for child in case if child.tag in ("failure", "error", "skipped")]
            if not kinds:
                outcome = "passed"
            elif kinds[0].tag == "skipped" and KNOWN_DEFECT in (kinds[0].get("message") or ""):
                outcome = "known-defect"
            else:
                outcome = kinds[0].tag
            outcomes[case.get("name")] = outcome
    return done, outcomes


@pytest.mark.parametrize("engine, control_plane", [("20.10", "swarm"), ("20.10", "kv"), ("28.5", "swarm")],
                         ids=["20.10-swarm", "20.10-kv", "28.5-swarm"])
def test_checks_pass_in_parallel_and_serially(engine, control_plane, machine, tmp_path, bring_up):
    name = f"t-chk-{control_plane}-{engine.replace('.', '')}"
    lab = bring_up(topology.load(ROOT / "labs" / "seed.yml").with_overrides(name=name, engine=engine, control_plane=control_plane))
    results = {}
    for mode, args in (("parallel", ["-n", "auto"]), ("serial", [])):
        done, outcomes = run_checks("--lab", name, *args, junit=tmp_path / f"{mode}.xml")
        output = (done.stdout + done.stderr)[-4000:]
        assert done.returncode == 0, f"{mode} run failed:\n{output}"
        assert {n.split("[")[0] for n in outcomes} == CHECK_IDS, f"{mode} run missed checks: {sorted(outcomes)}"
        assert all(o in ("passed", "known-defect") for o in outcomes.values()), f"{mode}: {outcomes}"
        if control_plane == "swarm":
            assert set(outcomes.values()) == {"passed"}, f"{mode}: only kv has a known defect: {outcomes}"
        results[mode] = outcomes
    assert results["parallel"].keys() == results["serial"].keys()
    lab.down()
    assert_nothing_left(name, machine)


def test_a_run_without_a_lab_brings_the_seed_lab_up_and_down_once(machine, tmp_path):
    if "seed" in Lab.running():
        pytest.skip("a lab named seed is up here; this test needs to bring its own")
    claim("seed")
    done, outcomes = run_checks("-n", "2", "-k", "OVL-PING-001", junit=tmp_path / "run.xml")
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-4000:]
    assert output.count("lab seed: up in") == 1 and output.count("bringing lab seed down") == 1, output[-4000:]
    assert set(outcomes.values()) == {"passed"} and len(outcomes) == 4
    assert_nothing_left("seed", machine)
