"""A lab configured as a user's Docker is (labs/configured.yml: daemon.json settings for every docker host and
two hosts' own, the swarm's data path port, address pool and subnet size): Docker runs with them, the report
says them, PUB-005 meets moby/moby#38784 where the userland proxy is off, PUB-007 holds where direct routing is
allowed, OVL-VXLAN-002 proves the data path port
on the wire and fails, naming 4789, when a host's VXLAN goes there instead; a daemon.json that dockerd refuses
fails `lab up` at once in dockerd's words."""

from __future__ import annotations

import ipaddress
import json
import subprocess
import sys

import pytest

from netproof.lab.image import TEST_IMAGE
from netproof.lab.lab import Lab
from netproof.lab.model import loader

from .conftest import ROOT, Machine, assert_nothing_left, claim, run_checks
from .harness import take_down
from .test_checks_catch_breakage import assert_fails, changed, checks_on

CONFIGURED = ROOT / "labs" / "configured.yml"
NAME = "t-cfg"
# On docker1, after the lab doctor ran: VXLAN to docker4 (flags byte 0x08 after the UDP header) rewritten from
# the swarm's port 4790 to 4789, statelessly, as a node ignoring the swarm's setting would send it.
TO_4789 = [
    ["nft", "add", "table", "ip", "np_sabotage"],
    ["nft", "add", "chain", "ip", "np_sabotage", "out", "{ type filter hook output priority raw; policy accept; }"],
    ["nft", "add", "rule", "ip", "np_sabotage", "out", "ip", "daddr", "192.168.50.102", "udp", "dport", "4790"]
    + ["@th,64,8", "0x08", "udp", "dport", "set", "4789"],
]


@pytest.fixture(scope="module")
def lab():
    before = Machine.now()
    up = Lab.up(loader.load(CONFIGURED).with_overrides(name=claim(NAME)))
    yield up
    take_down(NAME)
    assert_nothing_left(NAME, before)


def test_docker_runs_with_the_topologys_configuration_and_the_report_says_it(lab, tmp_path):
    cluster = lab.manager.docker().info()["Swarm"]["Cluster"]
    assert (cluster["DataPathPort"], cluster["DefaultAddrPool"], cluster["SubnetSize"]) == (4790, ["10.60.0.0/16"], 26)
    said = lab.host("docker1").run(["docker", "run", "--rm", TEST_IMAGE, "ip", "-o", "-4", "addr", "show", "eth0"])
    link = lab.host("docker1").run(["docker", "run", "--rm", TEST_IMAGE, "cat", "/sys/class/net/eth0/mtu"])
    assert link.stdout.strip() == "1400", link  # daemon: {mtu: 1400} for the default bridge
    address = ipaddress.ip_interface(said.stdout.split()[3])
    assert address in ipaddress.ip_network("10.70.0.0/16"), said  # daemon: default-address-pools

    run = run_checks(NAME, tmp_path, select="OVL-VXLAN", workers="auto")
    assert run.returncode == 0, run.output[-3000:]
    assert set(run.outcomes.values()) == {"passed"} and len(run.outcomes) == 8, run.outcomes
    environment = {e["host"]: e["configuration"] for e in run.results().environment}
    assert environment["docker1"] == {
        "daemon.default-address-pools": json.dumps([{"base": "10.70.0.0/16", "size": 24}]),
        "daemon.mtu": "1400",
        "swarm.data_path_port": "4790",
        "swarm.default_addr_pool": '["10.60.0.0/16"]',
        "swarm.subnet_size": "26",
    }
    assert environment["docker2"]["daemon.icc"] == "true" and "daemon.icc" not in environment["docker3"]
    page = (tmp_path / "index.html").read_text()
    assert "swarm.data_path_port: 4790" in page and "daemon.mtu: 1400" in page


def test_without_the_userland_proxy_another_networks_container_meets_the_isolation_defect_before_29(lab, tmp_path):
    """docker4 runs without the userland proxy (issue 37): PUB-005's truth table has one cell wrong there on 28.5, a
    container on another network, which Docker's inter-network isolation cuts off (moby/moby#38784, gone in 29.0);
    docker3, with the proxy, has none."""
    run = run_checks(NAME, tmp_path, select="PUB-005 and (docker3 or docker4)", workers="2")
    assert run.outcomes == {"PUB-005[swarm-docker3]": "passed", "PUB-005[swarm-docker4]": "known-defect"}, run.output
    assert "known Docker defect moby/moby#38784" in run.output and "DOCKER-ISOLATION-STAGE-2 -o br-" in run.output
    environment = {e["host"]: e["configuration"] for e in run.results().environment}
    assert environment["docker4"]["daemon.userland-proxy"] == "false"


def test_allow_direct_routing_opens_docker2s_containers_only_and_fails_naming_a_raw_drop_put_back(lab, tmp_path):
    """docker2's daemon.json sets allow-direct-routing (issue 37): PUB-007 passes there, is skipped elsewhere, and
    PUB-002 leaves docker2 out; a raw PREROUTING drop of what the outside host sends to containers' port 8080, as
    Docker puts without the setting, fails PUB-007 with the trace naming it."""
    run = run_checks(NAME, tmp_path / "as-set", select="(PUB-007 or PUB-002) and (docker1 or docker2)", workers="2")
    assert run.outcomes == {
        "PUB-002[swarm-docker1]": "passed",
        "PUB-002[swarm-docker2]": "skipped",
        "PUB-007[swarm-docker1]": "skipped",
        "PUB-007[swarm-docker2]": "passed",
    }, run.why_failed()
    drop = ["PREROUTING", "-i", "eth0", "-p", "tcp", "--dport", "8080", "-j", "DROP"]
    docker2 = lab.host("docker2")
    with changed(docker2, ["iptables", "-t", "raw", "-I", *drop], ["iptables", "-t", "raw", "-D", *drop]):
        done = checks_on(NAME, "PUB-007 and docker2", tmp_path / "dropped")
    assert_fails(done, "PUB-007", "reaches the published port at", "dropped at docker2: ip raw PREROUTING rule")


def test_the_data_path_port_check_fails_when_vxlan_goes_to_4789(lab, tmp_path):
    docker1 = lab.host("docker1")
    try:
        for command in TO_4789:
            docker1.run(command, check=True)
        done = checks_on(NAME, "OVL-VXLAN-002 and docker1 and docker4", tmp_path)
    finally:
        docker1.run(["nft", "delete", "table", "ip", "np_sabotage"])
    assert_fails(
        done,
        "OVL-VXLAN-002",
        "Expected: no overlay traffic to UDP 4789 (the swarm's data path port is 4790)",
        "frames to 4789, the first: 10.10.10.101.",
        "> 192.168.50.102.4789: VXLAN flags 0x08",
    )


def test_a_daemon_setting_dockerd_refuses_fails_lab_up_at_once_in_its_words(machine, tmp_path):
    bad = tmp_path / "bad.yml"
    bad.write_text(CONFIGURED.read_text().replace("mtu: 1400", "mtu: big"))
    done = subprocess.run(
        [sys.executable, "-m", "netproof.cli", "lab", "up", str(bad), "--name", claim("t-cfg-bad")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode != 0
    last = done.stderr.strip().splitlines()[-1]
    assert "refuses the topology's daemon: settings (invalid JSON: json: cannot unmarshal string into Go " in last
    assert "struct field Config.mtu of type int); fix daemon: (or hosts.docker" in last, last
    assert_nothing_left("t-cfg-bad", machine)
