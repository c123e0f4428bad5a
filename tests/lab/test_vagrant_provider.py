"""Provider `vagrant` for real: the locally built box, two VMs under qemu's software emulation
(this machine has no working KVM), the lab's own libvirtd in its own namespace, and the
cross-host ping and VXLAN checks passing on them, and the checks that need what this machine's kernel lacks
(ESP: ENC-001; IPVS: MESH-001, DNS-003's VIP) passing there and failing when broken by hand. Slow: booting
and provisioning take minutes.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from netproof.errors import NetproofError
from netproof.lab.image import TEST_IMAGE
from netproof.lab.lab import Lab
from netproof.lab.model import loader
from netproof.lab.providers.vagrant import box
from netproof.progress import Progress
from netproof.report import results

from .conftest import ROOT, assert_nothing_left, run_checks, run_upgrade
from .test_checks_catch_breakage import assert_fails, checks_on

# Nightly: two VMs under software emulation take about 14 minutes, more than the CI budget leaves.
pytestmark = [pytest.mark.slow, pytest.mark.nightly]
LAB = "t-vagrant"


def qemu_processes_in(netns: str) -> list[str]:
    """Command lines of qemu processes inside a network namespace."""
    inode = os.stat(f"/run/netns/{netns}").st_ino
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if os.stat(entry / "ns/net").st_ino == inode and (entry / "comm").read_text().startswith("qemu-system"):
                    found.append((entry / "cmdline").read_bytes().replace(b"\0", b" ").decode())
            except OSError:
                pass
    return found


def test_a_two_host_vagrant_lab_passes_the_overlay_checks_and_those_this_kernel_cannot_run(machine, tmp_path, bring_up):
    if not box.is_added():
        box.build(Progress())
    lab = bring_up(loader.load(ROOT / "labs" / "vagrant-pair.yml").with_overrides(name=LAB), progress=Progress())
    assert lab.state["provider"] == "vagrant"
    # Real VMs, emulated, inside the lab's hypervisor namespace (not the machine's own network).
    qemus = qemu_processes_in(lab.names.netns("hypervisor"))
    assert len(qemus) == 2 and all("accel=tcg" in q or "-accel tcg" in q or "tcg" in q for q in qemus), qemus
    docker1 = lab.host("docker1")
    assert docker1.run(["hostname"]).stdout.strip() == "docker1"
    assert docker1.docker().version()["Version"].startswith("20.10")
    # The VMs have no way out of the lab: no default route, and the underlay is routed by the hypervisor.
    assert "default" not in docker1.run(["ip", "route"]).stdout
    assert lab.host("docker2").address in docker1.run(["ip", "route", "get", lab.host("docker2").address]).stdout

    report = tmp_path / "report"
    run = run_checks(LAB, report, select="OVL-PING-001 or OVL-VXLAN-001")
    assert run.returncode == 0, run.why_failed()
    assert run.outcomes == {
        "OVL-PING-001[swarm-docker1-to-docker2]": "passed",
        "OVL-VXLAN-001[swarm-docker1-to-docker2]": "passed",
    }
    results = json.loads((report / "results.json").read_text())
    assert results["lab"]["provider"] == "vagrant"
    pcaps = list(report.rglob("*.pcap"))
    assert pcaps and all(p.stat().st_size > 24 for p in pcaps), "the capture made on the VM is copied back"

    # What this machine's kernel cannot do, the VMs' can (ESP, IPVS): encrypted overlays, the routing mesh, VIPs.
    run = run_checks(LAB, tmp_path / "vm-kernel", select="ENC-001 or MESH-001 or DNS-003", workers=None)
    assert run.returncode == 0, run.why_failed()
    assert run.outcomes == {
        "ENC-001[swarm-docker1-to-docker2]": "passed",
        "MESH-001[swarm]": "passed",
        "DNS-003[swarm-dnsrr]": "passed",
        "DNS-003[swarm-vip]": "passed",
    }
    # Each broken by hand fails, naming the cause: the IPsec states flushed on docker2; the routing mesh's nat
    # rule deleted on docker2, which runs no task of the service.
    flushed = checks_on(LAB, "ENC-001", tmp_path / "esp-flush", "esp-flush")
    assert_fails(flushed, "ENC-001", "ESP states (SAs) for both directions on both hosts", "none for docker2: ")
    unmeshed = checks_on(LAB, "MESH-001", tmp_path / "mesh-rule", "mesh-rule")
    assert_fails(unmeshed, "MESH-001", "answers on every node", "docker2 192.168.50.101:", "(runs no task)")
    lab.down(Progress())
    assert_nothing_left(LAB, machine)


def test_a_configured_lab_of_vms_on_28_5_runs_with_its_configuration(machine, tmp_path, bring_up):
    """labs/vagrant-configured.yml: engine 28.5 copied into the VMs from netproof's cache, the topology's daemon.json
    and swarm settings in effect there, and the checks that need them (and the VMs' kernel) passing."""
    if not box.is_added():
        box.build(Progress())
    lab = bring_up(loader.load(ROOT / "labs" / "vagrant-configured.yml").with_overrides(name="t-vconf"))
    docker1 = lab.host("docker1")
    info = docker1.docker().info()
    assert info["ServerVersion"].startswith("28.5"), info["ServerVersion"]
    cluster = info["Swarm"]["Cluster"]
    assert (cluster["DataPathPort"], cluster["DefaultAddrPool"], cluster["SubnetSize"]) == (4790, ["10.60.0.0/16"], 26)
    seen = docker1.run(["docker", "run", "--rm", TEST_IMAGE, "sh", "-c", "cat /sys/class/net/eth0/mtu"])
    assert seen.stdout.strip() == "1400", seen
    run = run_checks("t-vconf", tmp_path / "report", select="ENC-001 or MESH-001 or OVL-VXLAN-002", workers=None)
    assert run.returncode == 0, run.why_failed()
    assert set(run.outcomes.values()) == {"passed"} and len(run.outcomes) == 3, run.outcomes
    lab.down()
    assert_nothing_left("t-vconf", machine)


def test_a_rolling_upgrade_of_vms_from_26_1_to_28_5_watches_the_routing_mesh(machine, tmp_path):
    """The pair provisioned with 26.1 (copied in from netproof's cache), MESH-001 there; each VM's engine changed in
    place to 28.5 by systemd, one VM at a time, while a global service's published port is asked once a second on
    every node from the lab's router; MESH-001 on 28.5; every gap measured and put down to a restart, and every node
    answering once the upgrade is over."""
    if not box.is_added():
        box.build(Progress())
    done, folder = run_upgrade(
        tmp_path,
        "t-vup",
        "--path",
        "26.1,28.5",
        "--rolling",
        select="MESH-001 or OVL-PING-001",  # the second runs while the swarm is mixed, too
        lab_file="labs/vagrant-pair.yml",
        timeout=3600,
    )
    out = done.stdout + done.stderr
    assert "Traceback" not in out and "the upgrade stopped" not in out, out[-4000:]
    assert "watching port" in out, out[-4000:]
    before, after = results.load(folder / "before"), results.load(folder / "after")
    assert {e["docker"][:4] for e in before.environment} == {"26.1"}, before.environment
    assert {e["docker"][:4] for e in after.environment} == {"28.5"}, after.environment
    assert {c.outcome for c in before.checks} == {c.outcome for c in after.checks} == {"passed"}
    assert results.load(folder / "rolling-28.5-1-docker1").verdict == "pass"  # the mixed swarm's overlay
    mesh = [line.strip() for line in out.splitlines() if "routing mesh: port" in line]
    assert mesh, out[-4000:]
    assert not [line for line in mesh if "after the upgrade" in line], mesh  # every node answers again
    assert done.returncode == 0, out[-4000:]
    assert_nothing_left("t-vup", machine)


def test_a_static_engine_is_refused_on_vms_before_anything_starts(machine):
    """Docker 29 refuses the box's docker CLI (API 1.41): lab up says so in one line, and makes nothing."""
    pair = loader.load(ROOT / "labs" / "vagrant-pair.yml").with_overrides(name="t-v29", engine="29.7")
    with pytest.raises(NetproofError, match=r"docker1: engine 29.7 \(.*\) is a static build; .*minimum API 1.44"):
        Lab.up(pair)
    assert_nothing_left("t-v29", machine)
