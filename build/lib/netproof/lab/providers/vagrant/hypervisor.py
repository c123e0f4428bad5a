"""The hypervisor of a Vagrant lab: a libvirtd of the lab's own, in namespaces the lab made.

Libvirt puts its networks' bridges, dnsmasq and firewall rules in the namespace it runs in. Run
as the machine's service, that is the machine's own network; run here, it is a network namespace
named like every other lab resource (netproof.<lab>.hypervisor), so the VMs' networks, the routes
between them and their DHCP stay inside the lab, and `netproof lab clean` finds all of it.

Its configuration, state and disk images live in the lab's folder, bind-mounted over libvirt's
paths in the hypervisor's private mount namespace: the machine's /etc/libvirt and /var/lib/libvirt
are never written, and the machine's own libvirtd (if any) is never asked for anything.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from netproof import wait
from netproof.facts import budgets
from netproof.lab.model.names import LabNames
from netproof.lab.providers.netns.node import Node

NODE = "hypervisor"
# Libvirt's paths, each replaced by a folder of the lab's own.
PRIVATE_PATHS = ("/etc/libvirt", "/var/lib/libvirt", "/var/cache/libvirt", "/var/log/libvirt")

# qemu as root without the machine's security modules or cgroups: the lab's namespace is the
# boundary. Guests run under software emulation (libvirt domain type "qemu").
QEMU_CONF = """\
user = "root"
group = "root"
dynamic_ownership = 0
remember_owner = 0
security_driver = "none"
namespaces = []
cgroup_controllers = []
stdio_handler = "file"
"""


class Hypervisor:
    def __init__(self, names: LabNames):
        self.node = Node(names, NODE)

    @property
    def dir(self) -> Path:
        return self.node.dir

    @property
    def netns_path(self) -> str:
        return f"/run/netns/{self.node.netns}"

    def start(self) -> None:
        self.node.create("127.0.1.1", "127.0.0.1")
        self.node.run(["sysctl", "-qw", "net.ipv4.ip_forward=1"], check=True)
        for path in PRIVATE_PATHS:
            private = self.dir / path.strip("/").replace("/", "-")
            if path == "/etc/libvirt":
                shutil.copytree(path, private, symlinks=True)
                # The package's "default" network would NAT to the outside: no network starts by itself.
                for autostart in private.glob("*/networks/autostart/*"):
                    autostart.unlink()
                (private / "qemu.conf").write_text(QEMU_CONF)
            else:
                private.mkdir(parents=True, exist_ok=True)
            self.node.run(["mkdir", "-p", path], check=True)
            self.node.run(["mount", "--bind", str(private), path], check=True)
        log = self.dir / "libvirtd.log"
        self.node.spawn(["libvirtd"], log)

        def tail() -> str:
            lines = log.read_text().strip().splitlines()[-3:] if log.exists() else []
            return f"its log says: {' | '.join(lines) or 'nothing'} ({log})"

        wait.until(
            lambda: self.node.run(["virsh", "-c", "qemu:///system", "version"], timeout=10).ok,
            timeout=budgets.HYPERVISOR_START,
            interval=0.2,
            what="libvirtd in the lab's hypervisor namespace to answer",
            hint=tail,
        )
