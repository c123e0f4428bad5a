"""Topology files: the hosts of a lab, the underlay subnets they sit on, and how Docker runs on them.

A topology is YAML under labs/. It is validated as it is loaded; every error names the file,
the key and what is wrong, so the user can fix the file without reading this code.

    name: seed
    control_plane: swarm          # or kv (the legacy key-value store, engines before 23.0), or none (bridges only)
    engine: "20.10"               # default for docker hosts; a host may say its own
    subnets:
      dc1: {cidr: 10.10.10.0/24}  # the router takes the first address as gateway
      ext: {cidr: 198.51.100.0/24, cidr6: "2001:db8:100::/64"}  # dual stack (netns only); see Host.address6
    hosts:
      docker1: {subnet: dc1, address: 10.10.10.101}
      kv1: {subnet: dc1, address: 10.10.10.10, role: kv}
      outside: {subnet: ext, address: 198.51.100.10, role: outside}

Docker's own configuration, as a daemon.json would say it: `daemon:` at the top for every docker
host, and per host (its keys win), e.g. `daemon: {firewall-backend: nftables}`. dockerd judges the
keys; netproof refuses only those it sets for the lab itself (DAEMON_KEYS_SET_BY_NETPROOF).

The swarm's own settings, as `docker swarm init` takes them (control_plane: swarm only):

    swarm:
      data_path_port: 4790        # VXLAN's UDP port between the nodes (Docker's default 4789)
      default_addr_pool: [10.60.0.0/16]   # where overlays without a subnet get theirs
      subnet_size: 26             # the prefix length of each of those subnets
      advertise: eth0             # the interface whose address each node advertises (default: its underlay address)

Where the lab runs is the provider's business: `provider: netns` (the default, namespaces on
this machine), `vagrant` (VMs from the top-level Vagrantfile) or `ssh` (hosts that already
exist; the file is then their inventory, and an `ssh:` section says how to log in):

    provider: ssh
    ssh:
      user: root                  # the login user (sudo is used when it is not root)
      identity: /root/.ssh/id_ed25519
      proxy_command: ssh -W %h:%p bastion   # optional: how the lab's network is reached
      router: 10.10.10.1          # optional: the router's SSH address, if checks may add routes on it
    hosts:
      docker1: {subnet: dc1, address: 10.10.10.101, ssh: 172.16.0.11}   # default: the underlay address
"""

from __future__ import annotations

import ipaddress
import json
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from netproof.errors import NetproofError
from netproof.facts import versions
from netproof.facts.docker import DATA_PATH_PORTS, SWARM_PORTS
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
TOP_KEYS = ("name", "control_plane", "engine", "daemon", "swarm", "provider", "ssh", "router", "subnets", "hosts")
SUBNET_KEYS = ("cidr", "cidr6", "gateway", "mtu")
ROUTER_KEYS = ("drop_fragments",)
MTU_RANGE = (576, 9000)  # IPv4's minimum datagram every host must take, and jumbo frames
HOST_KEYS = ("subnet", "address", "role", "engine", "daemon", "ssh")
# dockerd refuses a setting given both as a flag and in its configuration file; these netproof gives as flags.
DAEMON_KEYS_SET_BY_NETPROOF = (
    "data-root",
    "exec-root",
    "hosts",
    "pidfile",
    "cgroup-parent",
    "shutdown-timeout",
    "cluster-store",
    "cluster-advertise",
)
SSH_KEYS = ("user", "port", "identity", "proxy_command", "router")
SWARM_KEYS = ("data_path_port", "default_addr_pool", "subnet_size", "advertise")
INTERFACE_NAME = re.compile(rf"[A-Za-z0-9_][A-Za-z0-9_.-]{{0,{IFNAMSIZ - 1}}}")


class TopologyError(NetproofError):
    pass


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
            _check_lab_name(name, self.source, "--name")
            topo = replace(topo, name=name)
        if engine is not None:
            _check_engine(engine, self.source, "--engine")
            hosts = {n: replace(h, engine=engine) if h.role == "docker" else h for n, h in topo.hosts.items()}
            topo = replace(topo, hosts=hosts, engine_overridden=True)
        if control_plane is not None:
            if control_plane not in CONTROL_PLANES:
                raise TopologyError(f"--control-plane: {control_plane!r} is not one of {', '.join(CONTROL_PLANES)}")
            topo = replace(topo, control_plane=control_plane)
        _check_control_plane(topo, "--engine" if engine else None)
        return topo


def with_host_engines(topology: Topology, host_engines: dict[str, str]) -> Topology:
    """The same lab with some hosts on other engines (after an in-place upgrade)."""
    hosts = {n: replace(h, engine=host_engines.get(n, h.engine)) for n, h in topology.hosts.items()}
    return replace(topology, hosts=hosts)


def load(path: str | Path) -> Topology:
    path = Path(path)
    try:
        text = path.read_text()
    except OSError as e:
        raise TopologyError(f"{path}: cannot read the topology file: {e.strerror}") from None
    return parse(text, str(path))


def parse(text: str, source: str = "<topology>") -> Topology:
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as e:
        where = getattr(e, "problem_mark", None)
        at = f" at line {where.line + 1}, column {where.column + 1}" if where else ""
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise TopologyError(f"{source}: not valid YAML{at}: {problem}") from None
    return replace(_Loader(source).topology(doc), text=text)


class _Loader:
    def __init__(self, source: str):
        self.source = source

    def fail(self, key: str, message: str) -> TopologyError:
        return TopologyError(f"{self.source}: {key}: {message}")

    def mapping(self, value: Any, key: str, allowed: tuple[str, ...] | None) -> dict:
        if not isinstance(value, dict):
            raise self.fail(key, f"expected a mapping, found {type(value).__name__}")
        if allowed is not None:
            for k in value:
                if k not in allowed:
                    raise self.fail(f"{key}.{k}" if key else str(k), f"unknown key; known keys: {', '.join(allowed)}")
        return value

    def topology(self, doc: Any) -> Topology:
        if doc is None:
            raise self.fail("(top)", "the file is empty; a topology needs name, subnets and hosts")
        top = self.mapping(doc, "", TOP_KEYS)
        for key in ("name", "subnets", "hosts"):
            if key not in top:
                raise self.fail(key, "missing")
        name = str(top["name"])
        _check_lab_name(name, self.source, "name")
        control_plane = top.get("control_plane", "swarm")
        if control_plane not in CONTROL_PLANES:
            raise self.fail("control_plane", f"{control_plane!r} is not one of {', '.join(CONTROL_PLANES)}")
        default_engine = str(top.get("engine", "20.10"))
        _check_engine(default_engine, self.source, "engine")
        provider = str(top.get("provider", "netns"))
        if provider not in PROVIDERS:
            raise self.fail("provider", f"{provider!r} is not one of {', '.join(PROVIDERS)}")
        subnets = self.subnets(top["subnets"])
        default_daemon = self.daemon(top.get("daemon", {}), "daemon")
        hosts = self.hosts(top["hosts"], subnets, default_engine, default_daemon)
        ssh = self.ssh_login(top, hosts) if provider == "ssh" else None
        if ssh is None and (
            "ssh" in top or any(isinstance(spec, dict) and "ssh" in spec for spec in top["hosts"].values())
        ):
            raise self.fail("ssh", f"SSH logins are for provider: ssh; this lab's provider is {provider}")
        router = self.mapping(top.get("router") or {}, "router", ROUTER_KEYS)
        drop_fragments = router.get("drop_fragments", False)
        if not isinstance(drop_fragments, bool):
            raise self.fail("router.drop_fragments", f"{drop_fragments!r} is not true or false")
        swarm = self.swarm_options(top.get("swarm"), subnets)
        topo = Topology(
            name, control_plane, subnets, hosts, self.source, provider, ssh, drop_fragments=drop_fragments, swarm=swarm
        )
        if not topo.docker_hosts:
            raise self.fail("hosts", "no docker host; give at least one host without a role (role: docker)")
        _check_control_plane(topo, None)
        return topo

    def swarm_options(self, value: Any, subnets: dict[str, Subnet]) -> SwarmOptions:
        section = self.mapping(value or {}, "swarm", SWARM_KEYS)
        port = section.get("data_path_port")
        if port is not None:
            low, high = DATA_PATH_PORTS
            if not isinstance(port, int) or isinstance(port, bool) or not low <= port <= high:
                raise self.fail("swarm.data_path_port", f"{port!r} is not a UDP port from {low} to {high}")
            if port in SWARM_PORTS:
                raise self.fail("swarm.data_path_port", f"{port} is the swarm's own port; choose another")
        pools = section.get("default_addr_pool", [])
        if isinstance(pools, str):
            pools = [pools]
        if not isinstance(pools, list):
            found = type(pools).__name__
            raise self.fail("swarm.default_addr_pool", f"expected a list of IPv4 networks, found {found}")
        networks = []
        for i, pool in enumerate(pools):
            key = f"swarm.default_addr_pool[{i}]"
            try:
                network = ipaddress.IPv4Network(str(pool), strict=True)
            except ValueError as e:
                raise self.fail(key, f"not an IPv4 network: {e}") from None
            for subnet in subnets.values():
                if network.overlaps(subnet.network):
                    raise self.fail(key, f"{network} overlaps the underlay's subnets.{subnet.name} ({subnet.network})")
            networks.append(network)
        size = section.get("subnet_size")
        if size is not None:
            widest = min((n.prefixlen for n in networks), default=8)
            if not isinstance(size, int) or isinstance(size, bool) or not widest <= size <= 29:
                raise self.fail(
                    "swarm.subnet_size", f"{size!r} is not a prefix length from {widest} (the pool's) to 29"
                )
            narrow = [str(n) for n in networks if n.prefixlen > size]
            if narrow:
                raise self.fail("swarm.subnet_size", f"/{size} subnets do not fit in {', '.join(narrow)}")
        advertise = section.get("advertise")
        if advertise is not None and not INTERFACE_NAME.fullmatch(str(advertise)):
            raise self.fail("swarm.advertise", f"{advertise!r} is not a network interface's name (such as eth0)")
        return SwarmOptions(port, tuple(str(n) for n in networks), size, str(advertise) if advertise else None)

    def ssh_login(self, top: dict, hosts: dict[str, Host]) -> SshLogin:
        section = self.mapping(top.get("ssh", {}), "ssh", SSH_KEYS)
        port = section.get("port", 22)
        if not isinstance(port, int) or not 0 < port < 65536:
            raise self.fail("ssh.port", f"{port!r} is not a TCP port")
        identity = section.get("identity")
        if identity is not None and not Path(str(identity)).expanduser().is_file():
            raise self.fail("ssh.identity", f"{identity}: no such key file")
        addresses = {name: str(h.address) for name, h in hosts.items()}
        for name, spec in top["hosts"].items():
            if isinstance(spec, dict) and "ssh" in spec:
                addresses[str(name)] = str(spec["ssh"])
        if "router" in section:
            addresses[ROUTER] = str(section["router"])
        proxy = section.get("proxy_command")
        return SshLogin(
            str(section.get("user", "root")),
            port,
            str(identity) if identity else None,
            str(proxy) if proxy else None,
            addresses,
        )

    def subnets(self, value: Any) -> dict[str, Subnet]:
        raw = self.mapping(value, "subnets", None)
        if not raw:
            raise self.fail("subnets", "empty; a lab needs at least one underlay subnet")
        subnets: dict[str, Subnet] = {}
        for name, spec in raw.items():
            key = f"subnets.{name}"
            name = str(name)
            _check_name(name, IFNAMSIZ - len("br-"), self.source, key)
            spec = self.mapping(spec, key, SUBNET_KEYS)
            if "cidr" not in spec:
                raise self.fail(f"{key}.cidr", "missing")
            try:
                network = ipaddress.IPv4Network(str(spec["cidr"]), strict=True)
            except ValueError as e:
                raise self.fail(f"{key}.cidr", f"not an IPv4 network: {e}") from None
            if network.num_addresses < 4:
                raise self.fail(f"{key}.cidr", f"{network} is too small for a router and a host")
            gateway = self.address(spec.get("gateway", network.network_address + 1), f"{key}.gateway", network)
            for other in subnets.values():
                if network.overlaps(other.network):
                    raise self.fail(f"{key}.cidr", f"{network} overlaps subnets.{other.name} ({other.network})")
            mtu = spec.get("mtu", 1500)
            if not isinstance(mtu, int) or isinstance(mtu, bool) or not MTU_RANGE[0] <= mtu <= MTU_RANGE[1]:
                raise self.fail(f"{key}.mtu", f"{mtu!r} is not an MTU from {MTU_RANGE[0]} to {MTU_RANGE[1]} bytes")
            ipv6 = self.prefix6(spec["cidr6"], f"{key}.cidr6", network, subnets) if "cidr6" in spec else None
            subnets[name] = Subnet(name, network, gateway, mtu, ipv6)
        return subnets

    def prefix6(
        self, value: Any, key: str, network: ipaddress.IPv4Network, others: dict[str, Subnet]
    ) -> ipaddress.IPv6Network:
        try:
            prefix = ipaddress.IPv6Network(str(value), strict=True)
        except ValueError as e:
            raise self.fail(key, f"not an IPv6 network: {e}") from None
        # Every host's address6 must fit: the prefix plus its IPv4 host part's digits read as hex.
        widest = int(str(network.num_addresses - 1), 16)
        if prefix.num_addresses <= widest:
            raise self.fail(key, f"{prefix} is too small to number the hosts of {network} (a /64 always fits)")
        for other in others.values():
            if other.ipv6 and prefix.overlaps(other.ipv6):
                raise self.fail(key, f"{prefix} overlaps subnets.{other.name}.cidr6 ({other.ipv6})")
        return prefix

    def address(self, value: Any, key: str, network: ipaddress.IPv4Network) -> ipaddress.IPv4Address:
        try:
            addr = ipaddress.IPv4Address(str(value))
        except ValueError:
            raise self.fail(key, f"{value!r} is not an IPv4 address") from None
        if addr not in network or addr in (network.network_address, network.broadcast_address):
            raise self.fail(key, f"{addr} is not a host address of {network}")
        return addr

    def daemon(self, value: Any, key: str) -> dict:
        settings = self.mapping(value or {}, key, None)
        for k, v in settings.items():
            if not isinstance(k, str):
                raise self.fail(f"{key}.{k}", "a daemon.json key is a string")
            if k in DAEMON_KEYS_SET_BY_NETPROOF:
                raise self.fail(f"{key}.{k}", "netproof sets this for the lab (dockerd takes it as a flag); remove it")
            try:
                json.dumps(v)
            except (TypeError, ValueError):
                raise self.fail(f"{key}.{k}", f"{v!r} cannot be written in daemon.json") from None
        return dict(settings)

    def hosts(
        self, value: Any, subnets: dict[str, Subnet], default_engine: str, default_daemon: dict
    ) -> dict[str, Host]:
        raw = self.mapping(value, "hosts", None)
        if not raw:
            raise self.fail("hosts", "empty; a lab needs at least one docker host")
        hosts: dict[str, Host] = {}
        taken = {s.gateway: f"subnets.{s.name}.gateway (the router)" for s in subnets.values()}
        for name, spec in raw.items():
            key = f"hosts.{name}"
            name = str(name)
            _check_name(name, IFNAMSIZ, self.source, key)
            if name == ROUTER:
                raise self.fail(key, f"{ROUTER!r} is the lab's built-in router; name the host otherwise")
            spec = self.mapping(spec or {}, key, HOST_KEYS)
            role = spec.get("role", "docker")
            if role not in ROLES:
                raise self.fail(f"{key}.role", f"{role!r} is not one of {', '.join(ROLES)}")
            if "subnet" not in spec:
                raise self.fail(f"{key}.subnet", f"missing; every host sits on one of: {', '.join(subnets)}")
            subnet = subnets.get(str(spec["subnet"]))
            if subnet is None:
                raise self.fail(
                    f"{key}.subnet", f"{spec['subnet']!r} is not a subnet of this lab; known: {', '.join(subnets)}"
                )
            if "address" not in spec:
                raise self.fail(f"{key}.address", f"missing; give an address in {subnet.network}")
            address = self.address(spec["address"], f"{key}.address", subnet.network)
            if address in taken:
                raise self.fail(f"{key}.address", f"{address} is already taken by {taken[address]}")
            taken[address] = f"hosts.{name}"
            engine, daemon = None, {}
            if role == "docker":
                engine = str(spec.get("engine", default_engine))
                _check_engine(engine, self.source, f"{key}.engine")
                daemon = {**default_daemon, **self.daemon(spec.get("daemon", {}), f"{key}.daemon")}
            else:
                for docker_only in ("engine", "daemon"):
                    if docker_only in spec:
                        raise self.fail(
                            f"{key}.{docker_only}", f"only docker hosts run an engine; this host's role is {role}"
                        )
            hosts[name] = Host(name, role, subnet, address, engine, daemon)
        for role in ("kv", "outside"):
            holders = [h.name for h in hosts.values() if h.role == role]
            if len(holders) > 1:
                raise self.fail("hosts", f"more than one host with role {role}: {', '.join(holders)}")
        return hosts


def _check_name(name: str, limit: int, source: str, key: str) -> None:
    if not NAME_RE.match(name):
        raise TopologyError(f"{source}: {key}: {name!r} must start with a letter and hold only a-z, 0-9 and '-'")
    if len(name) > limit:
        raise TopologyError(
            f"{source}: {key}: {name!r} is {len(name)} characters; it names a network interface, which Linux limits "
            f"to {limit} here"
        )


def _check_lab_name(name: str, source: str, key: str) -> None:
    if not NAME_RE.match(name) or len(name) > LAB_NAME_MAX:
        raise TopologyError(
            f"{source}: {key}: lab name {name!r} must start with a letter, hold only a-z, 0-9 and '-', and be at most "
            f"{LAB_NAME_MAX} characters"
        )


def _check_engine(engine: str, source: str, key: str) -> None:
    if engine not in engines.known():
        raise TopologyError(f"{source}: {key}: unknown engine {engine!r}; known engines: {', '.join(engines.known())}")


def _check_control_plane(topo: Topology, engine_key: str | None) -> None:
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
                f"{topo.source}: {key}: engine {host.engine} on {host.name} has no key-value store control plane"
                f" (Docker removed it in {versions.KV_STORE_REMOVED_IN}); use control_plane: swarm, or engine 20.10"
            )
