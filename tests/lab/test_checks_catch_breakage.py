"""Each check fails, pointing at the cause, when the behaviour it guards is broken by hand in the
lab; and a lab that is itself broken is reported as such, not as a Docker failure."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from netproof import engines
from netproof.lab.lab import Lab
from netproof.model import topology
from netproof.providers import require_engine_control

from .conftest import Machine, assert_nothing_left, claim, take_down

ROOT = Path(__file__).parents[2]
NAME = "t-break"


@pytest.fixture(scope="module")
def lab():
    before = Machine.now()
    lab = Lab.up(topology.load(ROOT / "labs" / "seed.yml").with_overrides(name=claim(NAME)))
    yield lab
    take_down(NAME)
    assert_nothing_left(NAME, before)


def run_checks(select: str, sabotage: str | None = None) -> subprocess.CompletedProcess:
    env = dict(os.environ, NETPROOF_SABOTAGE=sabotage or "")
    argv = [sys.executable, "-m", "pytest", "checks", "--lab", NAME, "-k", select, "-p", "no:cacheprovider", "-q"]
    if sabotage:
        argv += ["-p", "tests.lab.sabotage_plugin"]
    return subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


def assert_fails(done: subprocess.CompletedProcess, check_id: str, *causes: str) -> None:
    out = done.stdout + done.stderr
    assert done.returncode == 1, f"the check did not fail:\n{out[-3000:]}"
    assert f"{check_id} failed" in out and "Docker promises:" in out and "Expected:" in out, out[-3000:]
    for cause in causes:
        assert cause in out, f"the failure does not point at {cause!r}:\n{out[-3000:]}"


def test_the_checks_pass_unbroken(lab):
    done = run_checks("docker1 and docker4 or ISO-INT-001 and docker1")
    assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]


def test_ping_fails_when_the_router_drops_vxlan(lab):
    rule = ["FORWARD", "-p", "udp", "--dport", "4789", "-j", "DROP"]
    lab.router.run(["iptables", "-I", *rule], check=True)
    try:
        done = run_checks("OVL-PING-001 and docker1 and docker4")
    finally:
        lab.router.run(["iptables", "-D", *rule], check=True)
    assert_fails(done, "OVL-PING-001", "with no loss", "3 sent, 0 received", "docker1 -> docker4 (routed)")


def test_vxlan_check_fails_when_the_underlay_rewrites_the_outer_source(lab):
    # A NAT box on the underlay: overlay traffic still flows, but not between the hosts' own addresses.
    rule = ["POSTROUTING", "-p", "udp", "--dport", "4789", "-j", "MASQUERADE"]
    lab.router.run(["iptables", "-t", "nat", "-I", *rule], check=True)
    try:
        done = run_checks("OVL-VXLAN-001 and docker1 and docker4")
    finally:
        lab.router.run(["iptables", "-t", "nat", "-D", *rule], check=True)
    assert_fails(done, "OVL-VXLAN-001", "outer 10.10.10.101 > 192.168.50.102", "192.168.50.1.")


def test_plumbing_check_fails_when_an_fdb_entry_is_deleted(lab):
    done = run_checks("OVL-VETH-001 and docker1 and docker4", sabotage="fdb")
    assert_fails(done, "OVL-VETH-001", "Observed: no entry for", "bridge fdb dev vxlan0", "dst 192.168.50.102")


def test_gateway_bridge_check_fails_when_an_internal_container_is_attached_to_it(lab):
    done = run_checks("OVL-GWBR-002 and docker2", sabotage="gwbridge")
    assert_fails(done, "OVL-GWBR-002", "Expected: only lo and eth0", "Observed: eth0, eth1, lo")


def test_isolation_check_fails_when_an_accept_goes_ahead_of_the_isolation_rules(lab):
    # DOCKER-USER is evaluated before Docker's isolation chains: an ACCEPT there opens the network.
    rule = ["DOCKER-USER", "-j", "ACCEPT"]
    lab.host("docker3").run(["iptables", "-I", *rule], check=True)
    try:
        done = run_checks("ISO-INT-001 and docker3")
    finally:
        lab.host("docker3").run(["iptables", "-D", *rule], check=True)
    assert_fails(done, "ISO-INT-001", "every probe between", "got through:", "ping 198.51.100.10: 3 sent, 3 received")


def test_a_host_down_is_a_broken_lab_not_a_docker_failure(lab):
    engine_control = require_engine_control(lab.provider, "this test")
    engine_control.stop_engine("docker4")
    try:
        done = run_checks("OVL-PING-001 and docker1 and docker4")
    finally:
        engine_control.start_engine("docker4", engines.resolve(lab.topology.hosts["docker4"].engine), [])
        engine_control.wait_engine("docker4")
    out = done.stdout + done.stderr
    assert done.returncode == 1 and "1 error" in out, out[-3000:]
    assert "LAB BROKEN, not a Docker failure: host docker4 of lab t-break does not answer" in out, out[-3000:]
    assert "OVL-PING-001 failed" not in out
