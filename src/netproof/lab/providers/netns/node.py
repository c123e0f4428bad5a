"""A lab host on this machine: its own network, mount and UTS namespaces.

A small holder process keeps the namespaces alive and is the way in: commands and daemons
enter through `nsenter -t <holder>`. Inside, the host has its own hostname, a fresh sysfs (so
/sys/class/net shows its interfaces only, and dockerd can write bridge attributes), the cgroup
tree moved back under it, a private /run (dockerd's exec root, /run/docker.sock and iptables'
lock are the host's own), and its own /etc/resolv.conf and /etc/hosts, which name only lab
addresses, so no DNS query is ever sent outside the lab.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from netproof import system, wait
from netproof.errors import NetproofError
from netproof.lab.model.names import LabNames

# Run by bash inside the new namespaces; then it becomes the holder (sleep, marked by argv[0]).
HOLDER_SETUP = r"""
set -e
node_dir=$1 name=$2 mark=$3
hostname "$name"
mkdir -p "$node_dir/.cgroup"
mount --rbind /sys/fs/cgroup "$node_dir/.cgroup"
mount -t sysfs sysfs /sys
mount --move "$node_dir/.cgroup" /sys/fs/cgroup
umount -l /run/netns 2>/dev/null || true   # so this host does not pin the other hosts' namespaces
mount -t tmpfs -o mode=755,size=64m tmpfs /run
for f in resolv.conf hosts; do   # /etc/resolv.conf may be a link into /run
  target=$(readlink -f "/etc/$f")
  case $target in
    /run/*) mkdir -p "$(dirname "$target")"; cp "$node_dir/$f" "$target" ;;
    *) mount --bind "$node_dir/$f" "$target" ;;
  esac
done
echo $$ > "$node_dir/holder.pid"
exec -a "$mark" sleep infinity
"""


class Node:
    def __init__(self, names: LabNames, name: str):
        self.name = name
        self.netns = names.netns(name)
        self.dir = names.node_dir(name)
        self.mark = names.holder_mark(name)

    def __repr__(self) -> str:
        return f"<Node {self.name}>"

    @property
    def holder_pid(self) -> int | None:
        """The holder's pid, or None when the host is down."""
        try:
            pid = int((self.dir / "holder.pid").read_text())
            argv0 = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0].decode(errors="replace")
        except (OSError, ValueError):
            return None
        return pid if argv0 == self.mark else None

    def root(self, path: str) -> str:
        """A path as seen inside the host (its private /run included), reachable from outside."""
        pid = self.holder_pid
        if pid is None:
            raise NetproofError(f"host {self.name} is down (no holder process); bring the lab down and up again")
        return f"/proc/{pid}/root{path}"

    def create(self, address: str, nameserver: str) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        (self.dir / "resolv.conf").write_text(f"# lab-only resolver: nothing leaves the lab\nnameserver {nameserver}\n")
        (self.dir / "hosts").write_text(f"127.0.0.1\tlocalhost\n{address}\t{self.name}\n")
        system.run(["ip", "netns", "add", self.netns])
        self.ip("link", "set", "lo", "up")
        system.spawn(
            [
                "nsenter",
                f"--net=/run/netns/{self.netns}",
                "unshare",
                "--mount",
                "--uts",
                "--propagation",
                "private",
                "bash",
                "-c",
                HOLDER_SETUP,
                "netproof-setup",
                str(self.dir),
                self.name,
                self.mark,
            ],
            self.dir / "holder.log",
        )

        def why() -> str:
            said = (self.dir / "holder.log").read_text().strip().splitlines()
            return f"its setup said: {said[-1] if said else 'nothing'}"

        wait.until(
            lambda: self.holder_pid,
            timeout=10,
            interval=0.02,
            what=f"host {self.name}'s namespaces to come up",
            hint=why,
        )

    def enter(self, argv: Sequence[str]) -> list[str]:
        pid = self.holder_pid
        if pid is None:
            raise NetproofError(f"host {self.name} is down (no holder process); bring the lab down and up again")
        return ["nsenter", "-t", str(pid), "-n", "-m", "-u", "--", *argv]

    def run(self, argv: Sequence[str], *, timeout: float = 60, check: bool = False) -> system.CommandResult:
        return system.run(self.enter(argv), check=check, timeout=timeout, where=self.name)

    def spawn(self, argv: Sequence[str], log: Path) -> None:
        """Start a daemon inside the host, detached (it outlives this process)."""
        system.spawn(self.enter(argv), log)

    def ip(self, *args: str, batch: str | None = None) -> system.CommandResult:
        """iproute2 in this host's network namespace (no holder needed)."""
        if batch is not None:
            return system.run(["ip", "-n", self.netns, "-batch", "-"], input=batch, where=self.name)
        return system.run(["ip", "-n", self.netns, *args], where=self.name)
