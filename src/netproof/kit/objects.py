"""The Docker objects a check creates (networks, containers, services) and small operations on them. The
Workspace (workspace.py) creates and removes them."""

from __future__ import annotations

from dataclasses import dataclass

import docker
import docker.errors
import docker.types
import requests

from netproof.facts.defects import symptoms_in
from netproof.facts.docker import VXLANID_OPTION
from netproof.kit.namespaces import NetNamespace
from netproof.lab.providers.base import LabHost
from netproof.system import CommandResult


class EngineError(AssertionError):
    """The engine failed an ordinary request a check made (so the check fails, with this as its cause). `said` is
    Docker's own words, if it gave any; `symptoms` what was seen (tags of facts/defects.py)."""

    def __init__(self, message: str, *, said: str = "", symptoms: frozenset[str] = frozenset()):
        super().__init__(message)
        self.said = said
        self.symptoms = frozenset(symptoms) | symptoms_in(said)


@dataclass
class Network:
    name: str
    id: str
    driver: str
    internal: bool
    subnet: str
    gateway: str | None
    options: dict
    owner: LabHost  # the host it was created on (the swarm manager for swarm overlays)

    @property
    def vni(self) -> int | None:
        ids = self.options.get(VXLANID_OPTION)
        return int(ids.split(",")[0]) if ids else None

    def overlay_namespace(self, host: LabHost) -> NetNamespace:
        return NetNamespace.of_overlay(host, self.id)

    def vni_seen_on(self, host: LabHost) -> int | None:
        """The VNI of the network's VXLAN device on a host (kv overlays report theirs nowhere else)."""
        links, _ = self.overlay_namespace(host).links()
        ids = [
            link["linkinfo"]["info_data"].get("id")
            for link in links
            if link.get("linkinfo", {}).get("info_kind") == "vxlan"
        ]
        return ids[0] if ids else None

    def expected_vni(self, host: LabHost) -> tuple[int | None, str]:
        """The VNI traffic should carry, and where that came from."""
        if self.vni is not None:
            return self.vni, f"docker network inspect ({VXLANID_OPTION})"
        return self.vni_seen_on(
            host
        ), f"the VXLAN device on {host.name} (network inspect does not report it for this control plane)"


@dataclass
class Container:
    host: LabHost
    name: str
    network: Network
    ip: str
    mac: str
    sandbox: str  # path of its network namespace, inside the host

    def __str__(self) -> str:
        return f"container {self.name} on {self.host.name} ({self.ip})"

    def exec(self, argv: list[str], timeout: float = 30) -> CommandResult:
        return self.host.run(["docker", "exec", self.name, *argv], timeout=timeout)

    @property
    def netns(self) -> NetNamespace:
        return NetNamespace(self.host, self.sandbox, f"container {self.name}")

    def host_port(self, port: int, proto: str = "tcp") -> int | None:
        """The host port Docker publishes the container's `port` on now (it may change as the container restarts),
        or None."""
        ports = self.host.docker().containers.get(self.name).attrs["NetworkSettings"]["Ports"] or {}
        binding = (ports.get(f"{port}/{proto}") or [{}])[0]
        return int(binding["HostPort"]) if binding.get("HostPort") else None


@dataclass
class Service:
    name: str
    endpoint_mode: str
    task_addresses: list[str]  # on the service's network
    virtual_ip: str | None = None  # endpoint mode vip: the service's address on the network
    published_port: int | None = None  # the routing mesh's port on every node (Docker chose it), if published


def ipam(subnet: str | None, ipv6_subnet: str | None) -> docker.types.IPAMConfig | None:
    """The address pools asked for (IPv4 first: Network.subnet is the first); None lets Docker choose."""
    pools = [docker.types.IPAMPool(subnet=s) for s in (subnet, ipv6_subnet) if s]
    return docker.types.IPAMConfig(pool_configs=pools) if pools else None


def knows(host: LabHost, network: Network) -> bool:
    try:
        host.docker().networks.get(network.id)
        return True
    except docker.errors.NotFound:
        return False


def remove_network(network: Network) -> str | None:
    """None once the network is gone; else Docker's refusal (a swarm network is busy until every
    worker has let go of its endpoints)."""
    try:
        network.owner.docker().networks.get(network.id).remove()
    except docker.errors.NotFound:
        pass
    except docker.errors.APIError as e:
        return str(e)
    except requests.exceptions.ConnectionError as e:  # seen in CI, 20.10 with the kv store, removing a bridge: the
        # daemon refused or dropped the connection for a moment and answered again after; asked again, as a refusal
        return f"the connection to {network.owner.name}'s dockerd failed: {e}"
    return None


def host_clock(host: LabHost) -> str:
    """The host's own time, for `docker events` (a VM's clock is its own)."""
    return host.run(["date", "+%s.%N"]).stdout.strip()


def networks_created(host: LabHost, since: str, until: str) -> list[str]:
    """Networks Docker created on the host between two of its clock readings."""
    argv = ["docker", "events", "--since", since, "--until", until, "--filter", "type=network"]
    result = host.run([*argv, "--filter", "event=create", "--format", "{{.Actor.Attributes.name}}"], timeout=15)
    return result.stdout.split()
