"""The Docker objects a check creates: networks and containers, uniquely named, always removed.

A Workspace belongs to one check. Names carry the pytest-xdist worker and a random part, so
checks running in parallel (or a crashed earlier run's leftovers) never collide; everything is
removed when the check ends, passed or failed: containers first, then networks.
"""

from __future__ import annotations

import os
import secrets
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import docker
import docker.errors
import docker.types

from netproof import wait
from netproof.lab import readiness
from netproof.lab.image import TEST_IMAGE
from netproof.proof import known_defects, probes, routes
from netproof.proof.namespaces import NetNamespace
from netproof.providers.base import LabHost
from netproof.system import CommandResult

NAME_PREFIX = "np"
GLOBAL_NETWORK_SECONDS = 20
ALLOCATION_SECONDS = 10
NETWORK_REMOVAL_SECONDS = 20
SERVICE_SECONDS = 60  # for a service's tasks to run
POOL_DRAWS = 3  # random subnets tried for a network
POOL_OVERLAP = "Pool overlaps with other one on this address space"  # Docker's refusal of a subnet it holds
# A network Docker has just created may not be found by its ID for a moment: seen in CI on 29.7, a swarm overlay
# created on the manager and inspected at once ("network <id> not found", 404). Asked again for this long.
NETWORK_VISIBLE_SECONDS = 10
ATTACH_TIMEOUT = (
    "attaching to network failed, make sure your network options are correct and check manager logs: "
    "context deadline exceeded"
)


class EngineError(AssertionError):
    """The engine failed an ordinary request a check made (so the check fails, with this as its cause)."""


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
        ids = self.options.get("com.docker.network.driver.overlay.vxlanid_list")
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
            return self.vni, "docker network inspect (com.docker.network.driver.overlay.vxlanid_list)"
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

    def host_port(self, port: int) -> int | None:
        """The host port Docker published the container's TCP `port` on, or None."""
        ports = self.host.docker().containers.get(self.name).attrs["NetworkSettings"]["Ports"] or {}
        binding = (ports.get(f"{port}/tcp") or [{}])[0]
        return int(binding["HostPort"]) if binding.get("HostPort") else None


@dataclass
class Service:
    name: str
    endpoint_mode: str
    task_addresses: list[str]  # on the service's network
    virtual_ip: str | None = None  # endpoint mode vip: the service's address on the network
    published_port: int | None = None  # the routing mesh's port on every node (Docker chose it), if published


@dataclass
class Workspace:
    control_plane: str
    manager: LabHost  # where networks are created
    docker_hosts: list[LabHost]
    networks: list[Network] = field(default_factory=list)
    containers: list[tuple[LabHost, str]] = field(default_factory=list)
    retries: list[str] = field(default_factory=list)  # what Docker needed a second attempt for
    patience: float = 1.0  # the lab's: how many times longer than on netns Docker may take (see Provider.patience)
    holders: list[str] = field(default_factory=list)  # services holding overlays on every node (slow providers)
    # Start a container again when a start failed with a known Docker defect whose mechanism is on the host (see
    # proof/known_defects.py). Not for checks, which report such a failure as the defect; for what inventories
    # the lab (the footprint), where the defect would leave nothing to compare.
    retry_known_defects: bool = False
    # What Docker would not remove because of a known defect (recognised by symptom and mechanism, see remove), said
    # with the reference: in no one's way (uniquely named), and gone with the lab.
    left_by_known_defects: list[str] = field(default_factory=list)

    def unique(self, role: str) -> str:
        worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
        return f"{NAME_PREFIX}-{worker}-{secrets.token_hex(3)}-{role}"

    def overlay(
        self, *, internal: bool = False, subnet: str | None = None, role: str = "ov", options: dict | None = None
    ) -> Network:
        # No IPv6 here: swarm allocates no subnet to an --ipv6 overlay (moby/moby#52469), see checks/test_ipv6.py.
        net = self._create(
            self.manager,
            subnet,
            lambda pool: self._network_made(
                self.manager,
                self.unique(role),
                driver="overlay",
                internal=internal,
                ipam=_ipam(pool, None),
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
        timeout = GLOBAL_NETWORK_SECONDS * self.patience
        for host in self.docker_hosts:
            if not wait.poll(lambda h=host: _knows(h, network), timeout=timeout)[1]:
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
    ) -> Network:
        options = {**(options or {}), **({"com.docker.network.bridge.name": bridge_name} if bridge_name else {})}
        net = self._create(
            host,
            subnet,
            lambda pool: self._network_made(
                host,
                self.unique(role),
                driver="bridge",
                internal=internal,
                options=options or None,
                ipam=_ipam(pool, ipv6_subnet),
                enable_ipv6=bool(ipv6_subnet),
            ),
        )
        return self._track(net, host)

    def _network_made(self, owner: LabHost, name: str, **options):
        """docker-py's networks.create, whose inspect right after the create is asked again while Docker does not
        find the new network by its ID (said among the retries); past NETWORK_VISIBLE_SECONDS, Docker's failure."""
        client = owner.docker()
        made = client.api.create_network(name, **options)["Id"]

        def found():
            try:
                return client.networks.get(made)
            except docker.errors.NotFound:
                return None

        network = found()
        if network is not None:
            return network
        timeout = NETWORK_VISIBLE_SECONDS * self.patience
        started = time.monotonic()
        network, visible = wait.poll(found, holds=lambda n: n is not None, timeout=timeout, interval=0.2)
        if not visible:
            try:  # not tracked yet: removed here, or left to the lab's teardown
                client.api.remove_network(made)
            except docker.errors.APIError:
                pass
            raise EngineError(
                f"{owner.name}: Docker created network {name} ({made}) but does not find it after {timeout:.0f} s"
            )
        self.retries.append(
            f"{owner.name}: network {name} was not found by its ID right after Docker created it; found "
            f"{time.monotonic() - started:.1f} s later"
        )
        return network

    def _create(self, owner: LabHost, subnet: str | None, create):
        """create(subnet): a network. A subnet drawn at random (routes.random_subnet) that Docker says overlaps a
        pool it holds is drawn again, and said: two draws met, or the store kept a removed network's pool (seen in
        CI on 20.10 with the kv store, ISO-INT-002)."""
        for draw in range(1, POOL_DRAWS + 1):
            try:
                return create(subnet)
            except docker.errors.APIError as e:
                why = e.explanation or str(e)
                if draw == POOL_DRAWS or not subnet or not routes.is_random_subnet(subnet) or POOL_OVERLAP not in why:
                    raise
                self.retries.append(f"{owner.name}: subnet {subnet} refused ({why}); drew another")
                subnet = routes.random_subnet()
        raise AssertionError("unreachable")

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
            ipam_config, holds=lambda c: bool(c.get("Subnet")), timeout=ALLOCATION_SECONDS * self.patience
        )
        if not allocated:
            self.networks.append(
                Network(net.name, net.id, net.attrs["Driver"], False, "", None, {}, owner)
            )  # still removed
            raise EngineError(
                f"{owner.name}: network {net.name} has no subnet {ALLOCATION_SECONDS * self.patience:.0f} s after it "
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
                known = self._worth_another_start(host, why)
                if known is None and self._unknown_to_node(host, network, why):
                    known = f" (the manager {self.manager.name} has {network.name})"
                if attempt == attempts or known is None:
                    raise EngineError(
                        f"{host.name}: Docker would not start container {name} on {network.name}: {why}"
                    ) from None
                self.retries.append(
                    f"{host.name}: starting container {name} on {network.name} failed ({why}){known}; started another"
                )
        c.reload()
        endpoint = c.attrs["NetworkSettings"]["Networks"][network.name]
        if not endpoint.get("IPAddress"):
            raise EngineError(
                f"{host.name}: Docker started container {name} on {network.name} with no IP address (endpoint "
                f"{endpoint})"
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

    def _worth_another_start(self, host: LabHost, why: str) -> str | None:
        """Why a failed start deserves another ("" needs no more words), or None: the failure stands."""
        if self.control_plane == "swarm" and ATTACH_TIMEOUT in why:
            return ""
        if self.retry_known_defects:
            recognition = known_defects.recognise(why, [host], self.control_plane)
            if recognition and recognition.known:
                return f": {recognition}"
        return None

    def server(self, host: LabHost, network: Network, *, role: str = "srv", **options) -> Container:
        """A container serving a page on probes.HTTP_PORT, returned once it listens: a probe sent before that
        would be refused, and a refusal must mean the network refused."""
        c = self.container(host, network, role=role, command=probes.SERVE, **options)
        port = f":{probes.HTTP_PORT:04X} "

        def listening() -> bool:  # the sockets of the container's namespace (httpd may take IPv6's); 0A is LISTEN
            table = c.netns.run(["cat", "/proc/net/tcp", "/proc/net/tcp6"]).stdout.splitlines()
            return any(port in line and line.split()[3] == "0A" for line in table if len(line.split()) > 3)

        wait.until(listening, timeout=10 * self.patience, what=f"{c} to listen on port {probes.HTTP_PORT}")
        return c

    def connect(self, host: LabHost, network: Network, container: str, *, alias: str) -> tuple[CommandResult, str]:
        """`docker network connect --alias`: a container on another network too, under an alias; the last
        attempt and its address there ("" if none). A swarm attachment that runs out of the manager's 20 s
        (see container) is said and tried again."""
        argv = ["docker", "network", "connect", "--alias", alias, network.name, container]
        attempts = self.attempts
        for attempt in range(1, attempts + 1):
            result = host.run(argv)
            known = None if result.ok else self._worth_another_start(host, result.stderr)
            if known is None and not result.ok and self._unknown_to_node(host, network, result.stderr):
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

    def _unknown_to_node(self, host: LabHost, network: Network, said: str) -> bool:
        """A host said an overlay the manager has was not found: a swarm node with no container on it yet (seen in
        CI on a worker; and here on the manager itself, 29.7 over ssh, the last of two attempts), or, where known
        defects are worked around (the footprint), a kv host whose read of the store failed (moby/libnetwork#1838's
        symptom, seen with no stuck thread left to find)."""
        return (
            (self.control_plane == "swarm" or (self.retry_known_defects and self.control_plane == "kv"))
            and (self.control_plane == "swarm" or host is not self.manager)
            and (f"network {network.name} not found" in said or f"network {network.id} not found" in said)
            and _knows(self.manager, network)
        )

    def docker_run(
        self, host: LabHost, network: Network, options: list[str], *, role: str = "c"
    ) -> tuple[str, CommandResult]:
        """A container started with the docker CLI, for options docker-py lacks (-P with --expose)."""
        name = self.unique(role)
        self.containers.append((host, name))
        result = host.run(
            ["docker", "run", "-d", "--name", name, "--network", network.name, *options, TEST_IMAGE, "sleep", "3600"]
        )
        return name, result

    def service(
        self,
        network: Network,
        *,
        replicas: int,
        mode: str = "replicated",
        endpoint_mode: str = "vip",
        role: str = "svc",
        serving: bool = False,
        publish: bool = False,
        on: LabHost | None = None,
    ) -> Service:
        """A swarm service on an overlay (created on the manager), `replicated` or `global` (then `replicas` is the
        number of nodes, the tasks awaited): idle tasks, or `serving` a page on
        probes.HTTP_PORT, `publish`ed through the routing mesh on a port Docker chooses, its tasks placed `on` one
        host (by its swarm node). Returns once every task runs, with the tasks' addresses on the network. Removed
        with the check's other objects."""
        name = self.unique(role)
        endpoint = {"Mode": endpoint_mode}
        if publish:  # no PublishedPort: Docker takes one of its range (30000-32767) on every node
            endpoint["Ports"] = [{"Protocol": "tcp", "TargetPort": probes.HTTP_PORT, "PublishMode": "ingress"}]
        service = self.manager.docker().services.create(
            TEST_IMAGE,
            ["sh", "-c", probes.SERVE_SCRIPT] if serving else ["sleep", "3600"],
            name=name,
            networks=[network.name],
            mode=docker.types.ServiceMode(mode, replicas=replicas if mode == "replicated" else None),
            endpoint_spec=endpoint,
            constraints=[f"node.id=={self.node_of(on)}"] if on is not None else None,
        )
        self.holders.append(name)  # removed before the networks, as the holding services are

        def running() -> list[dict]:
            return [t for t in service.tasks(filters={"desired-state": "running"}) if t["Status"]["State"] == "running"]

        tasks, ran = wait.poll(
            running, holds=lambda t: len(t) >= replicas, timeout=SERVICE_SECONDS * self.patience, interval=0.5
        )
        if not ran:
            raise EngineError(
                f"{self.manager.name}: service {name} has {len(tasks)} of {replicas} tasks running after "
                f"{SERVICE_SECONDS * self.patience:.0f} s"
            )
        addresses = []
        for task in tasks:
            for attachment in task.get("NetworksAttachments", []):
                if attachment["Network"]["ID"] == network.id:
                    addresses += [a.split("/")[0] for a in attachment.get("Addresses", [])]
        service.reload()
        vips = [
            v["Addr"].split("/")[0]
            for v in service.attrs.get("Endpoint", {}).get("VirtualIPs", [])
            if v.get("NetworkID") == network.id
        ]
        published = [p.get("PublishedPort") for p in service.attrs.get("Endpoint", {}).get("Ports", [])]
        return Service(name, endpoint_mode, sorted(addresses), vips[0] if vips else None, next(iter(published), None))

    def node_of(self, host: LabHost) -> str:
        """The swarm node ID of a lab host: the node whose address is the host's."""
        nodes = self.manager.docker().nodes.list()
        found = [n.id for n in nodes if n.attrs.get("Status", {}).get("Addr") == host.address]
        if not found:
            raise EngineError(f"{self.manager.name}: no swarm node has {host.name}'s address {host.address}")
        return found[0]

    def remove(self) -> list[str]:
        """Remove what the check created, containers first, then networks, each host's in parallel with the
        others' (the engines are separate); returns what could not be removed, but for what a known Docker
        defect kept (left_by_known_defects)."""
        problems: list[str] = []

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
                    lambda n=network: _remove_network(n),
                    holds=lambda why: why is None,
                    timeout=NETWORK_REMOVAL_SECONDS * self.patience,
                    interval=0.3,
                )
                if removed:
                    continue
                known = known_defects.recognise(refusal, self.docker_hosts, self.control_plane)
                if known and known.known:  # the store's count can no longer fall: no wait removes it
                    self.left_by_known_defects.append(f"network {network.name}: {refusal}: {known}")
                else:
                    problems.append(f"network {network.name}: {refusal}")

        _on_each(container, list(reversed(self.containers)))
        for service in self.holders:
            readiness.release_overlay(self.manager, service)
        _on_each(networks_of, {n.owner.name for n in self.networks})
        return problems


def _ipam(subnet: str | None, ipv6_subnet: str | None) -> docker.types.IPAMConfig | None:
    """The address pools asked for (IPv4 first: Network.subnet is the first); None lets Docker choose."""
    pools = [docker.types.IPAMPool(subnet=s) for s in (subnet, ipv6_subnet) if s]
    return docker.types.IPAMConfig(pool_configs=pools) if pools else None


def _on_each(work, things) -> None:
    """work(thing) for each, in parallel when there are several (at most 8 at once)."""
    things = sorted(things) if isinstance(things, set) else list(things)
    if len(things) <= 1:
        for thing in things:
            work(thing)
        return
    with ThreadPoolExecutor(min(8, len(things))) as pool:
        list(pool.map(work, things))


def _knows(host: LabHost, network: Network) -> bool:
    try:
        host.docker().networks.get(network.id)
        return True
    except docker.errors.NotFound:
        return False


def _remove_network(network: Network) -> str | None:
    """None once the network is gone; else Docker's refusal (a swarm network is busy until every
    worker has let go of its endpoints)."""
    try:
        network.owner.docker().networks.get(network.id).remove()
    except docker.errors.NotFound:
        pass
    except docker.errors.APIError as e:
        return str(e)
    return None
