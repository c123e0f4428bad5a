"""The lab's model: the hosts of a lab, the underlay subnets they sit on, and how Docker runs on them.

A Topology is what a topology file says (loader.py reads and validates it; its format is written there), with
the command line's choices applied (`with_overrides`, validated again). Every error names the file, the key and
what is wrong, so the user can fix the file without reading this code.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field, replace

from netproof.errors import UsageError
from netproof.facts import versions
from netproof.lab import engines
from netproof.lab.model.names import LAB_NAME_MAX, NAME_RE

IFNAMSIZ = 15  # the longest Linux interface name
ROUTER = "router"  # the router is built in; no host may take its name
OUTSIDE_HTTP_PORT = 80  # the outside host serves HTTP here: the "external" target of isolation checks
# The outside host's DNS server answers for this zone only (its own names) and forwards nothing: every
# lab host's resolver points at it, so a name lookup never leaves the lab.
LAB_ZONE = "outside.test"
ROLES = ("docker", "kv", "outside")
# none: standalone engines, bridge networks only (overlays need a control plane; their checks are skipped), for
# what cannot join a swarm, such as Docker 29's nftables firewall backend.
CONTROL_PLANES = ("swarm", "kv", "none")
PROVIDERS = ("netns", "vagrant", "ssh")
# dockerd refuses a setting given both as a flag and in its configuration file; these netproof gives as flags.
SWARM_KEYS = ("data_path_port", "default_addr_pool", "subnet_size", "advertise")


class TopologyError(UsageError):
    """A topology refused, in one line a terminal can show whatever the file held."""

    def __init__(self, message: str):
        super().__init__(shown(message, 600))


CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")  # a newline, a terminal's escape codes


def shown(text: str, limit: int) -> str:
    """Text from a file as one line a terminal shows as it is: control characters escaped, cut to a readable length."""
    text = CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", str(text))
    return text if len(text) <= limit else text[: limit - 3] + "..."


@dataclass(frozen=True)
class Subnet:
    name: str
    network: ipaddress.IPv4Network
    gateway: ipaddress.IPv4Address  # the router's address on this subnet
    mtu: int = 1500  # of the subnet's links: the router's side and every host's interface on it
    ipv6: ipaddress.IPv6Network | None = None  # cidr6: the subnet's IPv6 prefix, if the underlay is dual stack

    @property
    def gateway6(self) -> ipaddress.IPv6Address | None:
        """The router's IPv6 address on this subnet: the prefix's first."""
        return self.ipv6.network_address + 1 if self.ipv6 else None

    @property
    def bridge(self) -> str:
        """The router's bridge for this subnet."""
        return f"br-{self.name}"


@dataclass(frozen=True)
class Host:
    name: str
    role: str
    subnet: Subnet
    address: ipaddress.IPv4Address
    engine: str | None  # docker hosts only
    daemon: dict = field(default_factory=dict, compare=False)  # its daemon.json settings (docker hosts only)

    @property
    def cidr(self) -> str:
        return f"{self.address}/{self.subnet.network.prefixlen}"

    @property
    def address6(self) -> ipaddress.IPv6Address | None:
        """On a dual-stack subnet, the host's IPv6 address: the prefix with the IPv4 address's host part, its
        decimal digits read as hex so that they read the same (10.10.10.101 in 2001:db8:10::/64: 2001:db8:10::101)."""
        if self.subnet.ipv6 is None:
            return None
        host_part = int(self.address) - int(self.subnet.network.network_address)
        return self.subnet.ipv6.network_address + int(str(host_part), 16)

    @property
    def cidr6(self) -> str | None:
        return f"{self.address6}/{self.subnet.ipv6.prefixlen}" if self.subnet.ipv6 else None


@dataclass(frozen=True)
class SwarmOptions:
    """The topology's `swarm:` settings; None (or empty) leaves Docker's default."""

    data_path_port: int | None = None
    default_addr_pool: tuple[str, ...] = ()
    subnet_size: int | None = None
    advertise: str | None = None  # an interface name

    def document(self) -> dict:
        """As a topology file (and results.json) says them: only those set."""
        doc = {k: getattr(self, k) for k in SWARM_KEYS if getattr(self, k) not in (None, ())}
        if "default_addr_pool" in doc:
            doc["default_addr_pool"] = list(self.default_addr_pool)
        return doc

    def init_options(self) -> dict:
        """docker-py's swarm.init keywords for the settings made."""
        options = {"data_path_port": self.data_path_port, "subnet_size": self.subnet_size}
        options["default_addr_pool"] = list(self.default_addr_pool) or None
        return {k: v for k, v in options.items() if v is not None}


@dataclass(frozen=True)
class SshLogin:
    """How netproof logs in on the hosts of an `ssh` lab (the inventory's ssh: section)."""

    user: str = "root"
    port: int = 22
    identity: str | None = None
    proxy_command: str | None = None
    addresses: dict[str, str] = field(default_factory=dict)  # host (router included) -> SSH address
    host_keys: str = "known"  # the user's known_hosts ("known"), or "accept-new" into the lab's own
    allow: tuple[str, ...] = ()  # what checks may change on the user's network: router-routes, lan-addresses


@dataclass(frozen=True)
class Topology:
    name: str
    control_plane: str
    subnets: dict[str, Subnet]
    hosts: dict[str, Host]
    source: str = "<topology>"
    provider: str = "netns"
    ssh: SshLogin | None = None
    # The router drops IP fragments, as many cloud and VPN paths do: what a small MTU then costs shows.
    drop_fragments: bool = False
    swarm: SwarmOptions = field(default_factory=SwarmOptions)
    text: str = field(default="", compare=False, repr=False)  # the file as written, kept in the lab's state
    engine_overridden: bool = field(default=False, compare=False)
    engine_defaulted: bool = field(default=False, compare=False)  # the file names no engine: versions.NEWEST

    @property
    def engine_note(self) -> str | None:
        """What a run says first when the file chose no engine."""
        if not self.engine_defaulted or self.engine_overridden:
            return None
        return f"{self.source} names no engine: Docker {versions.NEWEST}, the newest netproof knows (engine: to choose)"

    @property
    def docker_hosts(self) -> list[Host]:
        return [h for h in self.hosts.values() if h.role == "docker"]

    def role(self, role: str) -> Host | None:
        return next((h for h in self.hosts.values() if h.role == role), None)

    def host_pairs(self, mode: str = "spanning") -> list[tuple[Host, Host]]:
        """Docker host pairs for cross-host checks.

        spanning: the fewest pairs that still exercise every docker host and both kinds of path:
        neighbours on each subnet (same subnet), and across each two subnets the first host of one
        with the last of the other, and the other way round where that is another pair (routed).
        all: every pair of docker hosts.
        """
        hosts = self.docker_hosts
        if mode == "all":
            return [(a, b) for i, a in enumerate(hosts) for b in hosts[i + 1 :]]
        if mode != "spanning":
            raise TopologyError(f"--pairs: {mode!r} is not one of spanning, all")
        by_subnet: dict[str, list[Host]] = {}
        for h in hosts:
            by_subnet.setdefault(h.subnet.name, []).append(h)
        groups = list(by_subnet.values())
        pairs = [(g[i], g[i + 1]) for g in groups for i in range(len(g) - 1)]
        for i, first in enumerate(groups):
            for second in groups[i + 1 :]:
                pairs.append((first[0], second[-1]))
                if (first[-1], second[0]) != (first[0], second[-1]):
                    pairs.append((first[-1], second[0]))
        return pairs

    def nameserver_of(self, host: Host) -> ipaddress.IPv4Address:
        """A host's resolver: the outside host's DNS server when the lab has one, else the host's gateway
        (the router, which answers no query: nothing resolves, nothing leaves)."""
        outside = self.role("outside")
        return outside.address if outside else host.subnet.gateway

    @property
    def router(self) -> Host:
        """The built-in router, as a host on the first subnet (its gateway address)."""
        first = next(iter(self.subnets.values()))
        return Host(ROUTER, ROUTER, first, first.gateway, None)

    def free_slices(self, subnet: str, prefix: int) -> list[ipaddress.IPv4Network]:
        """Slices of an underlay subnet that hold no lab address (no host, not the router), from the top down
        (where labs put fewest hosts), never the last (it holds the broadcast address): where containers that
        take underlay addresses (macvlan) may have theirs."""
        network = self.subnets[subnet].network
        if network.prefixlen >= prefix:
            return []
        taken = {h.address for h in self.hosts.values()} | {s.gateway for s in self.subnets.values()}
        slices = list(network.subnets(new_prefix=prefix))[:-1]
        return [s for s in reversed(slices) if not any(a in s for a in taken)]

    def underlay_options(self) -> list[str]:
        """The keys that shape the underlay (a subnet's MTU, the router dropping fragments), as written: only a
        provider that builds the underlay can honour them."""
        keys = [f"subnets.{s.name}.mtu" for s in self.subnets.values() if s.mtu != 1500]
        return keys + (["router.drop_fragments"] if self.drop_fragments else [])

    def refuse_underlay_options(self, provider: str, why: str) -> None:
        options = self.underlay_options()
        if options:
            raise TopologyError(
                f"{self.source}: {', '.join(options)}: provider {provider} {why}; remove them, or use provider netns"
            )

    def refuse_ipv6_underlay(self, provider: str, why: str) -> None:
        """IPv6 on the underlay (a subnet's cidr6), refused by a provider that cannot give its hosts addresses."""
        keys = [f"subnets.{s.name}.cidr6" for s in self.subnets.values() if s.ipv6]
        if keys:
            raise TopologyError(
                f"{self.source}: {', '.join(keys)}: provider {provider} {why}; remove them, or use provider netns"
            )

    def refuse_daemon_settings(self, provider: str, why: str) -> None:
        """Docker settings from the topology (`daemon:`), refused by a provider that cannot apply them."""
        configured = [h.name for h in self.docker_hosts if h.daemon]
        if configured:
            raise TopologyError(
                f"{self.source}: daemon: provider {provider} {why} (set for {', '.join(configured)}); remove it, or "
                "use provider netns"
            )

    @property
    def engines(self) -> list[str]:
        return sorted({h.engine for h in self.docker_hosts if h.engine})

    def document(self) -> dict:
        """The topology as a topology file would say it, with every choice made (for the Vagrantfile)."""
        return {
            "name": self.name,
            "control_plane": self.control_plane,
            "provider": self.provider,
            "subnets": {
                s.name: {
                    "cidr": str(s.network),
                    "gateway": str(s.gateway),
                    "mtu": s.mtu,
                    **({"cidr6": str(s.ipv6)} if s.ipv6 else {}),
                }
                for s in self.subnets.values()
            },
            "router": {"drop_fragments": self.drop_fragments},
            **({"swarm": self.swarm.document()} if self.swarm.document() else {}),
            "hosts": {
                h.name: {
                    "subnet": h.subnet.name,
                    "address": str(h.address),
                    "role": h.role,
                    **({"engine": h.engine} if h.engine else {}),
                    **({"daemon": h.daemon} if h.daemon else {}),
                }
                for h in self.hosts.values()
            },
        }

    def with_overrides(
        self, engine: str | None = None, control_plane: str | None = None, name: str | None = None
    ) -> Topology:
        """The same lab with command-line choices applied, validated again."""
        topo = self
        if name is not None:
            check_lab_name(name, self.source, "--name")
            topo = replace(topo, name=name)
        if engine is not None:
            check_engine(engine, self.source, "--engine")
            hosts = {n: replace(h, engine=engine) if h.role == "docker" else h for n, h in topo.hosts.items()}
            topo = replace(topo, hosts=hosts, engine_overridden=True)
        if control_plane is not None:
            if control_plane not in CONTROL_PLANES:
                raise TopologyError(f"--control-plane: {control_plane!r} is not one of {', '.join(CONTROL_PLANES)}")
            topo = replace(topo, control_plane=control_plane)
            if control_plane == "kv" and engine is None:
                topo = topo.on_an_engine_with_the_kv_store()
        check_control_plane(topo, "--engine" if engine else None)
        return topo

    def on_an_engine_with_the_kv_store(self) -> Topology:
        """`--control-plane kv` alone: docker hosts whose engine has no key-value store run the newest release that
        has one (20.10), so the legacy control plane is one flag away; an engine that has it is kept."""
        kept = {h.name for h in self.docker_hosts if h.engine == engines.SYSTEM or engines.supports_kv_store(h.engine)}
        newest = max(
            (r for r in versions.RELEASES.values() if r.kv_store), key=lambda r: versions.version_key(r.version)
        )
        hosts = {
            n: h if h.role != "docker" or n in kept else replace(h, engine=newest.version)
            for n, h in self.hosts.items()
        }
        return replace(
            self, hosts=hosts, engine_overridden=self.engine_overridden or len(kept) < len(self.docker_hosts)
        )


def with_host_engines(topology: Topology, host_engines: dict[str, str]) -> Topology:
    """The same lab with some hosts on other engines (after an in-place upgrade)."""
    hosts = {n: replace(h, engine=host_engines.get(n, h.engine)) for n, h in topology.hosts.items()}
    return replace(topology, hosts=hosts)


def check_name(name: str, limit: int, source: str, key: str) -> None:
    if not NAME_RE.fullmatch(name):
        raise TopologyError(f"{source}: {key}: {name!r} must start with a letter and hold only a-z, 0-9 and '-'")
    if len(name) > limit:
        raise TopologyError(
            f"{source}: {key}: {name!r} is {len(name)} characters; it names a network interface, which Linux limits "
            f"to {limit} here"
        )


def check_lab_name(name: str, source: str, key: str) -> None:
    if not NAME_RE.fullmatch(name) or len(name) > LAB_NAME_MAX:
        raise TopologyError(
            f"{source}: {key}: lab name {name!r} must start with a letter, hold only a-z, 0-9 and '-', and be at most "
            f"{LAB_NAME_MAX} characters"
        )


def check_engine(engine: str, source: str, key: str) -> None:
    if engine not in engines.known():
        raise TopologyError(f"{source}: {key}: unknown engine {engine!r}; known engines: {', '.join(engines.known())}")


def check_control_plane(topo: Topology, engine_key: str | None) -> None:
    if topo.control_plane != "swarm" and topo.swarm.document():
        raise TopologyError(
            f"{topo.source}: swarm: {', '.join(topo.swarm.document())}: swarm settings, but the control plane is "
            f"{topo.control_plane}; remove them, or use control_plane: swarm"
        )
    if topo.control_plane != "kv":
        return
    if topo.role("kv") is None:
        raise TopologyError(f"{topo.source}: control_plane: 'kv' needs a host with role: kv to run etcd")
    for host in topo.docker_hosts:
        if host.engine != engines.SYSTEM and not engines.supports_kv_store(host.engine):
            key = engine_key or f"hosts.{host.name}.engine"
            raise TopologyError(
                f"{topo.source}: {key}: {versions.no_kv_store(f'engine {host.engine} on {host.name}')}; use "
                "control_plane: swarm, or engine 20.10"
            )
