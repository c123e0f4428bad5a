"""Looking into network namespaces on a lab host: the host's own, an overlay network's, a container's.

Everything is read with iproute2's JSON output inside the namespace, so the same code works on
every provider: a host only has to run commands.
"""

from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass

from netproof.errors import LabBroken
from netproof.facts.docker import NETNS_DIR
from netproof.lab.providers.base import LabHost
from netproof.system import CommandResult


@dataclass
class NetNamespace:
    host: LabHost
    path: str | None  # None: the host's own namespace
    label: str

    @classmethod
    def of_host(cls, host: LabHost) -> NetNamespace:
        return cls(host, None, "host namespace")

    @classmethod
    def of_overlay(cls, host: LabHost, network_id: str) -> NetNamespace:
        # libnetwork names an overlay network's namespace "1-" + the first 10 characters of its ID.
        return cls(host, f"{NETNS_DIR}/1-{network_id[:10]}", f"overlay namespace 1-{network_id[:10]}")

    @property
    def where(self) -> str:
        return f"{self.host.name}, {self.label}"

    def run(self, argv: list[str], timeout: float = 30) -> CommandResult:
        prefix = ["nsenter", f"--net={self.path}"] if self.path else []
        return self.host.run([*prefix, *argv], timeout=timeout)

    def _json(self, argv: list[str]) -> tuple[list[dict], CommandResult]:
        result = self.run(argv)
        if not result.ok:
            return [], result
        return (json.loads(result.stdout) if result.stdout.strip() else []), result

    def links(self) -> tuple[list[dict], CommandResult]:
        return self._json(["ip", "-j", "-d", "link", "show"])

    def addresses(self) -> tuple[list[dict], CommandResult]:
        return self._json(["ip", "-j", "addr", "show"])

    def addresses_detailed(self) -> tuple[list[dict], CommandResult]:
        """Links with their details (kind, master, VXLAN and bridge settings) and addresses, one document each."""
        return self._json(["ip", "-j", "-d", "addr", "show"])

    def routes(self) -> tuple[list[dict], CommandResult]:
        return self._json(["ip", "-j", "route", "show"])

    def fdb(self, device: str) -> tuple[list[dict], CommandResult]:
        return self._json(["bridge", "-j", "fdb", "show", "dev", device])

    def ipv6_addresses(self, interface: str = "eth0") -> list[str]:
        """An interface's IPv6 addresses with their prefix length (scope global and link), as the kernel has them."""
        shown = self.run(["ip", "-6", "-o", "addr", "show", "dev", interface]).stdout
        return [line.split()[3] for line in shown.splitlines() if " inet6 " in line]

    def ipv6_address_in(self, subnet: str, interface: str = "eth0") -> str | None:
        """The interface's address in an IPv6 subnet (a network's), if it has one."""
        network = ipaddress.ip_network(subnet)
        found = [a.split("/")[0] for a in self.ipv6_addresses(interface) if ipaddress.ip_interface(a).ip in network]
        return found[0] if found else None

    def interface_with_address(self, address: str) -> str | None:
        addrs, _ = self.addresses()
        for link in addrs:
            if any(a.get("local") == address for a in link.get("addr_info", [])):
                return link["ifname"]
        return None


def underlay_interface(host: LabHost) -> tuple[NetNamespace, str]:
    """A lab host's own namespace and the interface holding its underlay address: a host without it is a broken
    lab, not Docker's doing."""
    own = NetNamespace.of_host(host)
    interface = own.interface_with_address(str(host.address))
    if interface is None:
        raise LabBroken(f"{host.name} has no interface holding its underlay address {host.address}")
    return own, interface


def kind(link: dict) -> str | None:
    return link.get("linkinfo", {}).get("info_kind")


def by_index(links: list[dict], index: int) -> dict | None:
    return next((link for link in links if link.get("ifindex") == index), None)


def by_name(links: list[dict], name: str) -> dict | None:
    return next((link for link in links if link.get("ifname") == name), None)


def summary(links: list[dict]) -> str:
    """One line per interface, as an operator would read `ip -d link`."""
    rows = []
    for link in links:
        parts = [f"{link.get('ifindex')}: {link.get('ifname')}"]
        if "link_index" in link:
            parts.append(f"@if{link['link_index']}")
        parts.append(
            f"kind={kind(link) or '-'} mtu={link.get('mtu')} master={link.get('master', '-')} mac={link.get('address')}"
        )
        if kind(link) == "vxlan":
            data = link.get("linkinfo", {}).get("info_data", {})
            parts.append(f"vni={data.get('id')} port={data.get('port')}")
        rows.append(" ".join(parts))
    return "\n".join(rows)
