"""A lab comes up, carries a cross-host overlay, and goes away leaving nothing behind:
after `down`, after an interrupted `up`, and after a crash followed by `clean`."""

from __future__ import annotations

import contextlib
import io
import json
import os
import select
import signal
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest

from netproof.errors import ExitStatus
from netproof.lab import image
from netproof.lab.image import TEST_IMAGE
from netproof.lab.lab import Lab
from netproof.lab.model import loader, topology
from netproof.progress import Progress

from .conftest import Machine, assert_nothing_left, claim, netproof, take_down

SEED = Path(__file__).parents[2] / "labs" / "seed.yml"
SEED_ENGINE = loader.load(SEED).docker_hosts[0].engine


def seed(name: str, **overrides) -> topology.Topology:
    return loader.load(SEED).with_overrides(name=name, **overrides)


def overlay_ping(lab: Lab, src: str, dst: str, network: str, attachable: bool) -> str:
    """Containers on src and dst joined by an overlay; returns ping's output from src to dst's container."""
    lab.host(src).docker().networks.create(network, driver="overlay", attachable=attachable)
    lab.host(src).docker().containers.run(TEST_IMAGE, "sleep 600", name=f"{network}-a", network=network, detach=True)
    peer = (
        lab.host(dst)
        .docker()
        .containers.run(TEST_IMAGE, "sleep 600", name=f"{network}-b", network=network, detach=True)
    )
    peer.reload()
    address = peer.attrs["NetworkSettings"]["Networks"][network]["IPAddress"]
    result = lab.host(src).run(["docker", "exec", f"{network}-a", "ping", "-c", "3", "-W", "2", address], timeout=30)
    assert result.ok and " 0% packet loss" in result.stdout, f"no overlay ping {src} -> {dst} ({address}):\n{result}"
    return result.stdout


@pytest.mark.parametrize(
    "engine, control_plane",
    [("20.10", "swarm"), ("20.10", "kv"), ("28.5", "swarm")],
    ids=["20.10-swarm", "20.10-kv", "28.5-swarm"],
)
def test_overlay_ping_across_routed_subnets(engine, control_plane, machine, bring_up):
    name = f"t-{control_plane}-{engine.replace('.', '')}"
    lab = bring_up(seed(name, engine=engine, control_plane=control_plane))
    versions = [h.docker().version()["Version"] for h in lab.docker_hosts]
    assert all(v.startswith(engine + ".") for v in versions), versions
    # docker1 (10.10.10.0/24) to docker4 (192.168.50.0/24): the underlay is routed.
    overlay_ping(lab, "docker1", "docker4", "t-ov", attachable=control_plane == "swarm")
    lab.down()
    assert_nothing_left(name, machine)


@pytest.fixture(scope="module")
def seed_lab():
    before = Machine.now()
    lab = Lab.up(seed(claim("t-seed")))
    yield lab
    take_down(lab.name)
    assert_nothing_left("t-seed", before)


def test_status_shows_every_host(seed_lab):
    status = json.loads(netproof("lab", "status", "--name", "t-seed", "--json").stdout)
    hosts = {h["name"]: h for h in status["hosts"]}
    assert set(hosts) == {"docker1", "docker2", "docker3", "docker4", "kv1", "outside", "router"}
    assert hosts["router"]["role"] == "router" and hosts["router"]["address"] == "10.10.10.1"
    docker = [h for h in hosts.values() if h["role"] == "docker"]
    assert all(h["state"] == "up" and isinstance(h["dockerd_pid"], int) for h in docker)
    assert all(
        h["engine_version"].startswith(f"{SEED_ENGINE}.") and h["docker_socket"].endswith("/run/docker.sock")
        for h in docker
    )
    assert sorted(h["swarm_role"] for h in docker) == ["manager", "worker", "worker", "worker"]
    assert hosts["docker3"]["address"] == "192.168.50.101"
    table = netproof("lab", "status", "--name", "t-seed").stdout
    assert "docker4" in table and "192.168.50.102" in table and "manager" in table


def test_exec_runs_on_the_host_and_its_daemon(seed_lab):
    assert netproof("lab", "exec", "--name", "t-seed", "docker3", "--", "hostname").stdout.strip() == "docker3"
    info = netproof("lab", "exec", "--name", "t-seed", "docker3", "--", "docker", "info", "--format", "{{.Name}}")
    assert info.stdout.strip() == "docker3"
    # Its own sysfs: only its own interfaces.
    links = netproof("lab", "exec", "--name", "t-seed", "docker3", "--", "ls", "/sys/class/net").stdout.split()
    assert "eth0" in links and "docker0" in links and not any(link.startswith("docker1") for link in links)


def test_the_underlay_is_routed_and_reaches_the_outside_host(seed_lab):
    docker1 = seed_lab.host("docker1")
    for target in ("192.168.50.102", "198.51.100.10"):
        result = docker1.run(["busybox", "ping", "-c", "1", "-W", "2", target])
        assert result.ok, f"underlay: docker1 cannot reach {target}:\n{result}"
    trace = docker1.run(["busybox", "traceroute", "-n", "-m", "3", "-w", "1", "192.168.50.102"], timeout=20)
    assert "10.10.10.1" in trace.stdout, f"docker1 -> docker4 does not go through the router:\n{trace}"


def test_hosts_resolve_the_labs_zone_and_nothing_outside_the_lab(seed_lab):
    docker2 = seed_lab.host("docker2")
    resolv = docker2.run(["cat", "/etc/resolv.conf"]).stdout
    assert "nameserver 198.51.100.10" in resolv and resolv.count("nameserver") == 1  # the outside host's dnsmasq
    found = docker2.run(["busybox", "nslookup", "www.outside.test"]).stdout
    assert "198.51.100.10" in found.split("Name:")[-1], found
    elsewhere = docker2.run(["busybox", "nslookup", "example.com"])
    assert "Name:" not in elsewhere.stdout.split("example.com", 1)[-1], elsewhere.stdout
    log = (seed_lab.provider.node("outside").dir / "dnsmasq.log").read_text()
    assert "query[A] example.com" in log and "forwarded" not in log, log


def test_the_test_image_is_trusted_by_content_not_by_name(seed_lab):
    """An image someone else put under the test image's name is imported over at the next up or attach, and said."""
    host = seed_lab.docker_hosts[0]
    other = io.BytesIO()
    with tarfile.open(fileobj=other, mode="w") as tar:
        tar.addfile(tarfile.TarInfo("not-netproofs"))
    repository, tag = TEST_IMAGE.split(":")
    host.docker().api.import_image_from_data(other.getvalue(), repository=repository, tag=tag)
    layer = image.layer_digest(image.rootfs_tar())
    assert image.holds_ours(host, layer) is not True
    said = io.StringIO()
    assert image.install(seed_lab.docker_hosts, Progress(said)) == [host.name]
    assert image.holds_ours(host, layer) is True
    assert f"{host.name}: {TEST_IMAGE} is" in said.getvalue() and "imported over" in said.getvalue(), said.getvalue()
    assert all(image.holds_ours(h, layer) is True for h in seed_lab.docker_hosts)


def test_up_on_a_name_already_up_is_refused(seed_lab):
    done = netproof("lab", "up", str(SEED), "--name", "t-seed", check=False)
    assert done.returncode == ExitStatus.LAB_BROKEN
    assert "lab t-seed is already up" in done.stderr and "netproof lab down --name t-seed" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert all(h["state"] == "up" for h in seed_lab.status()), "the refused up disturbed the running lab"


def test_clean_without_a_name_leaves_a_running_lab_running(seed_lab):
    """Issue 33: `lab clean` took every lab on the machine, running ones of other users or CI jobs included."""
    done = netproof("lab", "clean", check=False)
    assert done.returncode == 0, done.stderr
    assert "leaving lab t-seed: its state says it is up" in done.stdout, done.stdout
    assert all(h["state"] == "up" for h in seed_lab.status()), "clean took a running lab it was not given"
    assert seed_lab.host("docker1").docker().ping()


def test_down_on_a_lab_that_is_not_up():
    done = netproof("lab", "down", "--name", "t-not-up", check=False)
    assert done.returncode == ExitStatus.LAB_BROKEN
    assert "no lab named 't-not-up' is up" in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_interrupted_up_leaves_nothing(machine):
    proc = subprocess.Popen(
        [sys.executable, "-m", "netproof.cli", "lab", "up", str(SEED), "--name", claim("t-int")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        # As in a terminal: a test session started in the background of a script ignores SIGINT, and
        # its children would inherit that, so Ctrl-C would not reach `up` at all.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    seen = b""
    deadline = time.monotonic() + 60
    while b"starting dockerd" not in seen and time.monotonic() < deadline:
        if select.select([proc.stderr], [], [], 1)[0]:
            chunk = os.read(proc.stderr.fileno(), 4096)
            if not chunk:
                break
            seen += chunk
    assert b"starting dockerd" in seen, seen.decode()
    proc.send_signal(signal.SIGINT)  # Ctrl-C while the engines start
    out, err = proc.communicate(timeout=60)
    err = seen + err
    assert proc.returncode == 130, err.decode()
    assert b"rolling back lab t-int" in err
    assert_nothing_left("t-int", machine)


def test_clean_after_a_crash_with_the_state_lost(machine, bring_up):
    lab = bring_up(seed("t-crash"))
    container = lab.host("docker1").docker().containers.run(TEST_IMAGE, "sleep 600", name="survivor", detach=True)
    container.reload()
    survivor = container.attrs["State"]["Pid"]
    # The crash: every process of the lab dies at once, and the state file is gone. At once, because
    # the order decides what survives: containerd outliving a shim for a moment deletes the shim's
    # container (runc delete --force), and pids wrap here (pid_max 32768), so a shim can come
    # before containerd in any order by pid. Stopped first, nothing reacts to another's death.
    pids = _processes_in_lab_namespaces("t-crash")
    for signum in (signal.SIGSTOP, signal.SIGKILL):
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):  # gone already, with its parent
                os.kill(pid, signum)
    lab.names.state_file.unlink()
    assert Path(f"/proc/{survivor}").exists(), (
        "the container's process outlives its daemons (it is in no lab namespace)"
    )

    listed = netproof("lab", "clean", "--dry-run").stdout
    assert "would remove network namespace netproof.t-crash.docker1" in listed
    assert f"would remove process {survivor}: sleep 600" in listed, (
        f"the container outlived its daemon and must be listed:\n{listed}"
    )
    assert "would remove folder" in listed and "t-crash" in listed
    assert (lab.names.dir).exists(), "--dry-run removed something"

    cleaned = netproof("lab", "clean", "--name", "t-crash").stdout
    assert "every lab t-crash leftover is gone" in cleaned
    assert_nothing_left("t-crash", machine)


def _processes_in_lab_namespaces(lab: str) -> list[int]:
    inodes = {os.stat(p).st_ino for p in Path("/run/netns").glob(f"netproof.{lab}.*")}
    pids = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and os.stat(entry / "ns/net").st_ino in inodes:
                pids.append(int(entry.name))
        except OSError:
            pass
    return pids
