"""The Workspace: the Docker objects one check creates, uniquely named, always removed.

A Workspace belongs to one check. Names carry the pytest-xdist worker and a random part, so
checks running in parallel (or a crashed earlier run's leftovers) never collide; everything is
removed when the check ends, passed or failed: containers first, then networks. What Docker refuses
for a moment is tried again by the rules of refusals.py, and said among the check's retries.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass, field

import docker
import docker.errors
import docker.types

from netproof import system, wait
from netproof.facts import budgets
from netproof.facts.defects import NO_ADDRESS, symptoms_in
from netproof.facts.docker import BRIDGE_NAME_OPTION
from netproof.kit import known_defects, probes, refusals
from netproof.kit.objects import Container, EngineError, Network, ipam, knows, remove_network
from netproof.kit.services import SwarmServices
from netproof.kit.upstreams import DnsUpstream
from netproof.lab import readiness
from netproof.lab.image import TEST_IMAGE
from netproof.lab.providers.base import LabHost
from netproof.system import CommandResult

NAME_PREFIX = "np"


@dataclass
class Workspace(SwarmServices):
    control_plane: str
    manager: LabHost  # where networks are created
    docker_hosts: list[LabHost]
    networks: list[Network] = field(default_factory=list)
    containers: list[tuple[LabHost, str]] = field(default_factory=list)
    retries: list[str] = field(default_factory=list)  # what Docker needed a second attempt for
    patience: float = 1.0  # the lab's: how many times longer than on netns Docker may take (see Provider.patience)
    holders: list[str] = field(default_factory=list)  # services holding overlays on every node (slow providers)
    # Start a container again when a start failed with a known Docker defect whose mechanism is on the host (see
    # kit/known_defects.py). Not for checks, which report such a failure as the defect; for what inventories
    # the lab (the footprint), where the defect would leave nothing to compare.
    retry_known_defects: bool = False
    # What Docker would not remove because of a known defect (recognised by symptom and mechanism, see remove), said
    # with the reference: in no one's way (uniquely named), and gone with the lab.
    left_by_known_defects: list[str] = field(default_factory=list)
    upstreams: list[DnsUpstream] = field(default_factory=list)  # DNS servers of the check's own, stopped first

    @classmethod
    def on(cls, lab, **options) -> Workspace:
        """A workspace on a running lab (netproof.lab.lab.Lab): its control plane, manager, docker hosts, patience."""
        return cls(lab.topology.control_plane, lab.manager, lab.docker_hosts, patience=lab.patience, **options)

    def budget(self, seconds: float) -> float:
        """A wait budget (facts/budgets.py) on this lab: times its patience."""
        return budgets.scaled(seconds, self.patience)

    def unique(self, role: str) -> str:
        worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
        return f"{NAME_PREFIX}-{worker}-{secrets.token_hex(3)}-{role}"

    def overlay(
        self, *, internal: bool = False, subnet: str | None = None, role: str = "ov", options: dict | None = None
    ) -> Network:
        # No IPv6 here: swarm allocates no subnet to an --ipv6 overlay (moby/moby#52469), see checks/test_ipv6.py.
        net = refusals.drawing_again(
            self,
            self.manager,
            subnet,
            lambda pool: refusals.network_made(
                self,
                self.manager,
                self.unique(role),
                driver="overlay",
                internal=internal,
                ipam=ipam(pool, None),
                options=options,
                attachable=self.control_plane == "swarm",  # kv overlays are global and attachable anyway
            ),
        )
        network = self._track(net, self.manager)
        if self.control_plane == "kv":
            self._wait_until_global(network)
        if readiness.needs_holding(self.control_plane, self.patience):  # see lab/readiness.py: slow providers
            hosts = len(self.docker_hosts)
            self.holders.append(readiness.hold_overlay(self.manager, network.name, hosts, self.patience))
        return network

    def _wait_until_global(self, network: Network) -> None:
        """A kv overlay reaches the other hosts through the store, a moment later: as an operator
        would, wait until every docker host knows it before using it there."""
        timeout = self.budget(budgets.GLOBAL_NETWORK)
        for host in self.docker_hosts:
            if not wait.poll(lambda h=host: knows(h, network), timeout=timeout)[1]:
                raise EngineError(
                    f"{host.name}: the kv overlay {network.name} created on {self.manager.name} "
                    f"is still unknown there after {timeout:.0f} s"
                )

    def default_bridge(self, host: LabHost) -> Network:
        """Docker's own default bridge (`bridge`) on a host: containers go on it, the network itself is never
        created or removed by a check."""
        attrs = host.docker().networks.get("bridge").attrs
        config = (attrs.get("IPAM", {}).get("Config") or [{}])[0]
        return Network(
            "bridge",
            attrs["Id"],
            "bridge",
            False,
            config.get("Subnet", ""),
            config.get("Gateway"),
            attrs.get("Options") or {},
            host,
        )

    def bridge(
        self,
        host: LabHost,
        *,
        internal: bool = False,
        bridge_name: str | None = None,
        subnet: str | None = None,
        ipv6_subnet: str | None = None,
        role: str = "br",
        options: dict | None = None,
        labels: dict | None = None,
    ) -> Network:
        options = {**(options or {}), **({BRIDGE_NAME_OPTION: bridge_name} if bridge_name else {})}
        net = refusals.drawing_again(
            self,
            host,
            subnet,
            lambda pool: refusals.network_made(
                self,
                host,
                self.unique(role),
                driver="bridge",
                internal=internal,
                options=options or None,
                ipam=ipam(pool, ipv6_subnet),
                enable_ipv6=bool(ipv6_subnet),
                labels=labels,
            ),
        )
        return self._track(net, host)

    def macvlan(
        self, host: LabHost, *, parent: str, subnet: str, gateway: str, ip_range: str, role: str = "mv"
    ) -> Network:
        """A macvlan network on a host's interface `parent` (bridge mode): its containers take addresses of
        `subnet` (the parent's own, served by `gateway`) from `ip_range`, which no one else on it may use."""
        pool = docker.types.IPAMPool(subnet=subnet, gateway=gateway, iprange=ip_range)
        net = host.docker().networks.create(
            self.unique(role),
            driver="macvlan",
            options={"parent": parent},
            ipam=docker.types.IPAMConfig(pool_configs=[pool]),
        )
        return self._track(net, host)

    def _track(self, net, owner: LabHost) -> Network:
        # A swarm network's addresses are allocated by the manager a moment after it is created:
        # until then, inspect shows no subnet.
        def ipam_config() -> dict:
            net.reload()
            return (net.attrs.get("IPAM", {}).get("Config") or [{}])[0]

        config, allocated = wait.poll(
            ipam_config,
            holds=lambda c: bool(c.get("Subnet")),
            timeout=self.budget(budgets.ALLOCATION),
        )
        if not allocated:
            self.networks.append(
                Network(net.name, net.id, net.attrs["Driver"], False, "", None, {}, owner)
            )  # still removed
            raise EngineError(
                f"{owner.name}: network {net.name} has no subnet {self.budget(budgets.ALLOCATION):.0f} s after it "
                "was created"
            )
        network = Network(
            net.name,
            net.id,
            net.attrs["Driver"],
            net.attrs.get("Internal", False),
            config.get("Subnet", ""),
            config.get("Gateway"),
            net.attrs.get("Options") or {},
            owner,
        )
        self.networks.append(network)
        return network

    def container(
        self, host: LabHost, network: Network, *, role: str = "c", command: str = "sleep 3600", **options
    ) -> Container:
        # A swarm worker waits for the manager to allocate a network attachment, 20 s at most; on a
        # loaded machine (seen in CI) or under emulation that wait can run out. Said, and tried again.
        attempts = self.attempts
        for attempt in range(1, attempts + 1):
            name = self.unique(role)
            self.containers.append((host, name))
            try:
                c = host.docker().containers.run(
                    TEST_IMAGE, command, name=name, network=network.name, detach=True, **options
                )
                break
            except docker.errors.APIError as e:
                why = e.explanation or str(e)
                known = refusals.worth_another_start(self, host, why)
                if known is None and refusals.unknown_to_node(self, host, network, why):
                    known = f" (the manager {self.manager.name} has {network.name})"
                if attempt == attempts or known is None:
                    raise EngineError(
                        f"{host.name}: Docker would not start container {name} on {network.name}: {why}", said=why
                    ) from None
                self.retries.append(
                    f"{host.name}: starting container {name} on {network.name} failed ({why}){known}; started another"
                )
        c.reload()
        endpoint = c.attrs["NetworkSettings"]["Networks"][network.name]
        if not endpoint.get("IPAddress"):
            raise EngineError(
                f"{host.name}: Docker started container {name} on {network.name} with no IP address (endpoint "
                f"{endpoint})",
                symptoms={NO_ADDRESS},
            )
        return Container(
            host, name, network, endpoint["IPAddress"], endpoint["MacAddress"], c.attrs["NetworkSettings"]["SandboxKey"]
        )

    @property
    def attempts(self) -> int:
        """How often a worker's attachment to an overlay is tried: twice more on netns (in CI on 28.5, six checks
        at once, one worker's connect ran out of the manager's 20 s and was then told "not found"), more where
        the provider is slower."""
        return 2 + max(1, round(self.patience))

    def server(self, host: LabHost, network: Network, *, role: str = "srv", **options) -> Container:
        """A container serving a page on probes.HTTP_PORT, returned once it listens: a probe sent before that
        would be refused, and a refusal must mean the network refused."""
        c = self.container(host, network, role=role, command=probes.SERVE, **options)
        port = f":{probes.HTTP_PORT:04X} "

        def listening() -> bool:  # the sockets of the container's namespace (httpd may take IPv6's); 0A is LISTEN
            table = c.netns.run(["cat", "/proc/net/tcp", "/proc/net/tcp6"]).stdout.splitlines()
            return any(port in line and line.split()[3] == "0A" for line in table if len(line.split()) > 3)

        wait.until(
            listening,
            timeout=self.budget(budgets.LISTENING),
            what=f"{c} to listen on port {probes.HTTP_PORT}",
        )
        return c

    def dns_upstream(
        self, host: LabHost, network: Network, mode: str, records: dict[str, str] | None = None
    ) -> DnsUpstream:
        """A DNS server of the check's own on the network, answering the way `mode` says (kit/upstreams.py)."""
        upstream = DnsUpstream(self.container(host, network, role=f"dns-{mode}"), mode, records)
        self.upstreams.append(upstream)
        return upstream.start()

    def connect(
        self,
        host: LabHost,
        network: Network,
        container: str,
        *,
        alias: str = "",
        gw_priority: int | None = None,
        mac_address: str = "",
    ) -> tuple[CommandResult, str]:
        """`docker network connect [--alias] [--gw-priority]`: a container on another network too, under an alias
        or as its default gateway's network (28.0), or with a MAC address of its own there (asked through the
        Engine API: the hosts' CLI has no --mac-address); the last attempt and its address there ("" if none). A
        swarm attachment that runs out of the manager's 20 s (see container) is said and tried again."""
        options = (["--alias", alias] if alias else []) + (["--gw-priority", str(gw_priority)] if gw_priority else [])
        argv = ["docker", "network", "connect", *options, network.name, container]
        attempts = self.attempts
        for attempt in range(1, attempts + 1):
            result = connect_by_api(host, network, container, mac_address) if mac_address else host.run(argv)
            known = None if result.ok else refusals.worth_another_start(self, host, result.stderr)
            if known is None and not result.ok and refusals.unknown_to_node(self, host, network, result.stderr):
                # Seen once in CI (29.7, six checks at once): a worker that has no container on a swarm network
                # yet asks the manager for it, and was told "not found" while the manager had it.
                known = f" (the manager {self.manager.name} has {network.name})"
            if result.ok or known is None or attempt == attempts:
                break
            self.retries.append(
                f"{host.name}: connecting {container} to {network.name} failed ({result.stderr.strip()}){known}; "
                "connected again"
            )
        networks = host.docker().containers.get(container).attrs["NetworkSettings"]["Networks"]
        return result, (networks.get(network.name) or {}).get("IPAddress") or ""

    def docker_run(
        self, host: LabHost, network: Network, options: list[str], *, role: str = "c"
    ) -> tuple[str, CommandResult]:
        """A container started with the docker CLI, for options docker-py lacks (-P with --expose)."""
        name = self.unique(role)
        self.containers.append((host, name))
        result = host.run(
            [
                "docker",
                "run",
                "-d",
                "--pull",
                "never",
                "--name",
                name,
                "--network",
                network.name,
                *options,
                TEST_IMAGE,
                "sleep",
                "3600",
            ]
        )
        return name, result

    def remove(self) -> list[str]:
        """Remove what the check created, containers first, then networks, each host's in parallel with the
        others' (the engines are separate); returns what could not be removed, but for what a known Docker
        defect kept (left_by_known_defects)."""
        problems: list[str] = []
        for upstream in self.upstreams:
            upstream.stop()

        def container(entry: tuple[LabHost, str]) -> None:
            host, name = entry
            try:
                host.docker().containers.get(name).remove(force=True)
            except docker.errors.NotFound:
                pass
            except Exception as e:  # noqa: BLE001 - keep removing the rest
                problems.append(f"container {name} on {host.name}: {e}")

        def networks_of(owner_name: str) -> None:
            for network in reversed([n for n in self.networks if n.owner.name == owner_name]):
                refusal, removed = wait.poll(
                    lambda n=network: remove_network(n),
                    holds=lambda why: why is None,
                    timeout=self.budget(budgets.NETWORK_REMOVAL),
                    interval=0.3,
                )
                if removed:
                    continue
                known = known_defects.recognise(symptoms_in(refusal), self.docker_hosts, self.control_plane)
                if known and known.known:  # the store's count can no longer fall: no wait removes it
                    self.left_by_known_defects.append(f"network {network.name}: {refusal}: {known}")
                else:
                    problems.append(f"network {network.name}: {refusal}")

        system.parallel(container, list(reversed(self.containers)))
        for service in self.holders:
            readiness.release_overlay(self.manager, service)
        system.parallel(networks_of, sorted({n.owner.name for n in self.networks}))
        return problems


def connect_by_api(host: LabHost, network: Network, container: str, mac_address: str) -> CommandResult:
    """POST /networks/{id}/connect with an endpoint MAC address, as a command's result: Docker's refusal is its
    stderr. Engines before API 1.54 (29.3) take the request and drop the address (moby/moby#48192)."""
    argv = ["POST", f"/networks/{network.name}/connect", f"Container={container}", f"MacAddress={mac_address}"]
    try:
        host.docker().api.connect_container_to_network(container, network.id, mac_address=mac_address)
    except docker.errors.APIError as e:
        return CommandResult(argv, 1, "", f"Error response from daemon: {e.explanation or e}", host.name)
    return CommandResult(argv, 0, "", "", host.name)
