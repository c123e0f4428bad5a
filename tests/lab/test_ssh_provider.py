"""Provider `ssh` on hosts that already exist: here, the hosts of a netns lab, each running a real
sshd inside its namespaces. The checks run through SSH (testinfra's SSH backend, docker-py through
a forwarded socket, captures copied back) and give the same results as through the netns
provider on the same hosts. Every SSH connection enters the lab through its router namespace
(ProxyCommand), as a bastion would be used on a real network.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml

from netproof.lab.lab import Lab
from netproof.model import topology
from netproof.providers.netns import NetnsProvider

from .conftest import Machine, assert_nothing_left, claim
from .test_checks_pass import ROOT, run_checks

SSHD_CONFIG = """\
ListenAddress {address}
HostKey {dir}/ssh_host_ed25519_key
AuthorizedKeysFile {dir}/authorized_keys
PidFile /run/sshd.pid
PermitRootLogin prohibit-password
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
"""


def start_sshd(provider: NetnsProvider, host: str, address: str, client_key: Path) -> None:
    """A real sshd in one host's namespaces, accepting the test's key for root."""
    node = provider.node(host)
    folder = node.dir / "sshd"
    folder.mkdir()
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(folder / "ssh_host_ed25519_key")], check=True)
    (folder / "authorized_keys").write_text(client_key.with_suffix(".pub").read_text())
    (folder / "sshd_config").write_text(SSHD_CONFIG.format(address=address, dir=folder))
    node.run(["mkdir", "-p", "/run/sshd"], check=True)
    node.spawn(["/usr/sbin/sshd", "-D", "-e", "-f", str(folder / "sshd_config")], folder / "sshd.log")


def inventory(source: Lab, name: str, key: Path) -> str:
    """The inventory a user would write for these hosts: the seed topology, provider ssh."""
    doc = yaml.safe_load((ROOT / "labs" / "seed.yml").read_text())
    doc["name"] = name
    doc["provider"] = "ssh"
    doc["ssh"] = {
        "user": "root",
        "identity": str(key),
        "proxy_command": f"nsenter --net=/run/netns/{source.names.netns('router')} busybox nc %h %p",
        "router": str(source.topology.router.address),
    }
    return yaml.safe_dump(doc, sort_keys=False)


def test_checks_through_ssh_match_the_netns_provider(machine, tmp_path, bring_up):
    source = bring_up(topology.load(ROOT / "labs" / "seed.yml").with_overrides(name="t-sshhosts"))
    claim("t-sshlab")
    key = tmp_path / "id_ed25519"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    for name, host in source.hosts.items():
        start_sshd(source.provider, name, host.address, key)
    hosts_with_sshd = Machine.now()
    inventory_file = tmp_path / "inventory.yml"
    inventory_file.write_text(inventory(source, "t-sshlab", key))

    direct, direct_outcomes = run_checks("--lab", source.name, "-n", "auto", junit=tmp_path / "netns.xml")
    assert direct.returncode == 0, (direct.stdout + direct.stderr)[-3000:]
    # --lab with a file brings the ssh lab "up" (logs in, opens tunnels) and down after the run.
    over_ssh, ssh_outcomes = run_checks("--lab", str(inventory_file), "-n", "auto", junit=tmp_path / "ssh.xml")
    output = over_ssh.stdout + over_ssh.stderr
    assert over_ssh.returncode == 0, output[-3000:]
    assert "lab t-sshlab: up (ssh, swarm" in output
    assert ssh_outcomes and ssh_outcomes.keys() == direct_outcomes.keys()
    assert ssh_outcomes == direct_outcomes
    # The ssh lab left nothing of netproof's behind, and the hosts still run their swarm.
    assert not Lab.running() or "t-sshlab" not in Lab.running()
    assert_nothing_left("t-sshlab", hosts_with_sshd)
    assert source.host("docker1").docker().info()["Swarm"]["LocalNodeState"] == "active"
    images = source.host("docker1").docker().images.list(name="netproof/busybox")
    assert images, "the ssh lab must not remove an image it did not import"
    source.down()
    assert_nothing_left("t-sshhosts", machine)
