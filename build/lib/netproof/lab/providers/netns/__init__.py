"""The embedded default provider: every lab host is a set of namespaces on this machine.

The router is a namespace too, with one bridge per underlay subnet and forwarding on; each
host's eth0 is a veth whose other end is a port of its subnet's bridge. The router has no
link to the machine's own network, and every veth is created inside lab namespaces, so the
machine's root namespace never gains or loses an interface.
"""

from __future__ import annotations

from collections.abc import Sequence

from netproof import system
from netproof.errors import NetproofError
from netproof.facts.docker import ETCD_PORT
from netproof.lab import engines, leftovers
from netproof.lab.model.engine_start import EngineStart
from netproof.lab.model.topology import LAB_ZONE, ROUTER, Host, Topology
from netproof.lab.providers.base import LabHost, Provider
from netproof.lab.providers.netns.engine import NetnsEngines
from netproof.lab.providers.netns.node import Node
from netproof.lab.providers.netns.services import LabServices
from netproof.lab.providers.netns.underlay import Underlay


class NetnsHost(LabHost):
    def __init__(self, spec: Host, node: Node):
        super().__init__(spec)
        self.node = node

    def run(self, cmd: str | Sequence[str], *, timeout: float = 60, check: bool = False) -> system.CommandResult:
        return self.node.run(self.argv(cmd), timeout=timeout, check=check)

    def interactive_argv(self, cmd: Sequence[str]) -> list[str]:
        # Inside, /run/docker.sock is this host's daemon: drop the caller's pointers elsewhere.
        return self.node.enter(["env", "-u", "DOCKER_HOST", "-u", "DOCKER_CONTEXT", *cmd])

    @property
    def docker_url(self) -> str:
        return "unix://" + self.node.root("/run/docker.sock")


class NetnsProvider(Underlay, LabServices, NetnsEngines, Provider):
    name = "netns"
    capabilities = frozenset({"builds-hosts", "engine-control", "underlay-shaping", "ipv6-underlay"})

    def node(self, name: str) -> Node:
        return Node(self.names, name)

    # --- life cycle -----------------------------------------------------------------------

    def preflight(self, topology: Topology) -> None:
        tools = dict(system.TOOLS)
        if topology.role("kv"):
            tools.update(system.KV_TOOLS)
        if topology.role("outside"):
            tools.update(system.OUTSIDE_TOOLS)
        if any(h.daemon.get("firewall-backend") == "nftables" for h in topology.docker_hosts):
            tools.update(system.NFTABLES_TOOLS)
        system.require_tools(tools)
        for h in topology.docker_hosts:
            engines.resolve(h.engine)
        if leftovers.find(self.names.lab):
            raise NetproofError(
                f"leftovers of an earlier lab {self.names.lab} are on this machine; remove them: netproof lab clean"
            )

    def up(self, topology: Topology, engine_start: EngineStart) -> dict:
        resolved = {h.name: engines.resolve(h.engine) for h in topology.docker_hosts}

        with self.progress.step(f"building the router and {len(topology.hosts)} hosts in namespaces"):
            self._build_underlay(topology)
        outside = topology.role("outside")
        if outside:
            with self.progress.step(
                f"starting the web server and DNS server ({LAB_ZONE}) of {outside.name} ({outside.address})"
            ):
                self._start_outside_web(outside)
                self._start_outside_dns(outside)
        kv = topology.role("kv")
        if kv:
            with self.progress.step(f"starting etcd on {kv.name} ({kv.address}:{ETCD_PORT})"):
                self._start_etcd(kv)
        versions = ", ".join(sorted({e.package_version for e in resolved.values()}))
        with self.progress.step(f"starting dockerd on {len(resolved)} hosts ({versions})"):
            for host in topology.docker_hosts:
                self.start_engine(
                    host.name,
                    resolved[host.name],
                    engine_start.flags.get(host.name, []),
                    engine_start.configs.get(host.name),
                )
                if engine_start.one_at_a_time:
                    self.wait_engine(host.name, engine_start.gossip_port)
            system.parallel(lambda h: self.wait_engine(h.name), topology.docker_hosts)
        return {"engines": {name: e.package_version for name, e in resolved.items()}}

    def down(self) -> None:
        left = leftovers.remove(self.names.lab)
        if left:
            raise NetproofError(
                f"lab {self.names.lab}: could not remove {'; '.join(left.describe())}; run `netproof lab clean`"
            )

    # --- a lab that is up -----------------------------------------------------------------

    def hosts(self, topology: Topology) -> dict[str, LabHost]:
        hosts: dict[str, LabHost] = {name: NetnsHost(spec, self.node(name)) for name, spec in topology.hosts.items()}
        hosts[ROUTER] = NetnsHost(topology.router, self.node(ROUTER))
        return hosts

    def status(self, host: LabHost) -> dict:
        node = self.node(host.name)
        alive = node.holder_pid is not None
        facts = {"alive": alive, "holder_pid": node.holder_pid, "netns": node.netns}
        if host.role == "docker":
            facts["dockerd_pid"] = self.engine_pid(host.name) if alive else None
            facts["docker_socket"] = node.root("/run/docker.sock") if alive else None
        return facts
