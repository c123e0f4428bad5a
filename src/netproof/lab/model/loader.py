"""Topology files: reading and validating the YAML that describes a lab (the model: topology.py).

A topology is YAML under labs/. It is validated as it is loaded; every error names the file,
the key and what is wrong, so the user can fix the file without reading this code.

    name: seed
    control_plane: swarm          # or kv (the legacy key-value store, engines before 23.0), or none (bridges only)
    engine: "28.5"                # default for docker hosts (none: the newest netproof knows); a host may say its own
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
this machine), `vagrant` (VMs from labs/Vagrantfile) or `ssh` (hosts that already
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
import os
import re
import stat
from dataclasses import replace
from pathlib import Path
from typing import Any

import yaml

import netproof.labs
from netproof.facts import versions
from netproof.facts.docker import DATA_PATH_PORTS, SWARM_PORTS
from netproof.lab.model.ssh_section import SshSection
from netproof.lab.model.strict_yaml import MAX_BYTES, StrictYaml
from netproof.lab.model.topology import (
    CONTROL_PLANES,
    IFNAMSIZ,
    PROVIDERS,
    ROLES,
    ROUTER,
    SWARM_KEYS,
    Host,
    Subnet,
    SwarmOptions,
    Topology,
    TopologyError,
    check_control_plane,
    check_engine,
    check_lab_name,
    check_name,
    shown,
)

TOP_KEYS = ("name", "control_plane", "engine", "daemon", "swarm", "provider", "ssh", "router", "subnets", "hosts")
SUBNET_KEYS = ("cidr", "cidr6", "gateway", "mtu")
ROUTER_KEYS = ("drop_fragments",)
MTU_RANGE = (576, 9000)  # IPv4's minimum datagram every host must take, and jumbo frames
HOST_KEYS = ("subnet", "address", "role", "engine", "daemon", "ssh")
INTERFACE_NAME = re.compile(rf"[A-Za-z0-9_][A-Za-z0-9_.-]{{0,{IFNAMSIZ - 1}}}")
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


SHIPPED = Path(netproof.labs.__file__).resolve().parent  # the topology files netproof carries (the checkout's labs/)


def find(path: str | Path) -> Path:
    """A topology file as the user names it: a path, or a lab that comes with netproof (labs/seed.yml, seed.yml or
    seed), found in the package when the working directory has no such file."""
    given = Path(path)
    if given.exists():
        return given
    shipped = SHIPPED / (given.name if given.suffix in (".yml", ".yaml") else f"{given.name}.yml")
    if given.parent in (Path("."), Path("labs")) and shipped.is_file():
        return shipped
    known = ", ".join(sorted(p.stem for p in SHIPPED.glob("*.yml")))
    raise TopologyError(f"{path}: no such topology file (the labs netproof comes with: {known})")


def load(path: str | Path) -> Topology:
    path = find(path)
    try:
        # Only a regular file: a FIFO would never open (O_NONBLOCK: it does, and is refused), a device never end.
        with os.fdopen(os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC), "rb") as f:
            if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
                raise TopologyError(f"{path}: not a regular file; give a topology file")
            size = os.fstat(f.fileno()).st_size
            if size > MAX_BYTES:
                raise TopologyError(f"{path}: {size} bytes; a topology file is at most {MAX_BYTES} bytes")
            data = f.read(MAX_BYTES + 1)
        if len(data) > MAX_BYTES:
            raise TopologyError(f"{path}: more than {MAX_BYTES} bytes; a topology file is at most that")
        text = data.decode("utf-8")
    except OSError as e:
        raise TopologyError(f"{path}: cannot read the topology file: {e.strerror}") from None
    except UnicodeDecodeError as e:
        raise TopologyError(f"{path}: not UTF-8 text (byte {e.start}); save the file as UTF-8") from None
    return parse(text, str(path))


def parse(text: str, source: str = "<topology>") -> Topology:
    if len(text) > MAX_BYTES:
        raise TopologyError(f"{source}: {len(text)} characters; a topology file is at most {MAX_BYTES} bytes")
    loader = StrictYaml(text)
    try:
        doc = loader.get_single_data()
    except yaml.YAMLError as e:
        where = getattr(e, "problem_mark", None)
        at = f" at line {where.line + 1}, column {where.column + 1}" if where else ""
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise TopologyError(f"{source}: not valid YAML{at}: {problem}") from None
    except (ValueError, RecursionError) as e:  # a 5,000-digit integer, say
        raise TopologyError(f"{source}: not a topology: {str(e).splitlines()[0][:200]}") from None
    finally:
        loader.dispose()
    return replace(_Loader(source).topology(doc), text=text)


# Where no underlay can be: this network, loopback, link-local, multicast, reserved, the broadcast address.
NOT_UNDERLAY = tuple(
    ipaddress.IPv4Network(n) for n in ("0.0.0.0/8", "127.0.0.0/8", "169.254.0.0/16", "224.0.0.0/4", "240.0.0.0/4")
)
# A host's name is an interface's in the router's namespace and a namespace's: never one the kernel or Docker uses.
INTERFACE_LIKE = re.compile(r"lo|all|default|eth[0-9]+|docker0|(?:br-|veth|vxlan).*")


class _Loader(SshSection):
    def __init__(self, source: str):
        self.source = source

    def fail(self, key: str, message: str) -> TopologyError:
        return TopologyError(f"{self.source}: {shown(key, 80)}: {shown(message, 400)}")

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
        check_lab_name(name, self.source, "name")
        control_plane = top.get("control_plane", "swarm")
        if control_plane not in CONTROL_PLANES:
            raise self.fail("control_plane", f"{control_plane!r} is not one of {', '.join(CONTROL_PLANES)}")
        default_engine = str(top.get("engine", versions.NEWEST))
        check_engine(default_engine, self.source, "engine")
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
            name,
            control_plane,
            subnets,
            hosts,
            self.source,
            provider,
            ssh,
            drop_fragments=drop_fragments,
            swarm=swarm,
            engine_defaulted="engine" not in top
            and not any(isinstance(s, dict) and "engine" in s for s in top["hosts"].values()),
        )
        if not topo.docker_hosts:
            raise self.fail("hosts", "no docker host; give at least one host without a role (role: docker)")
        check_control_plane(topo, None)
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

    def subnets(self, value: Any) -> dict[str, Subnet]:
        raw = self.mapping(value, "subnets", None)
        if not raw:
            raise self.fail("subnets", "empty; a lab needs at least one underlay subnet")
        subnets: dict[str, Subnet] = {}
        for name, spec in raw.items():
            key = f"subnets.{name}"
            name = str(name)
            check_name(name, IFNAMSIZ - len("br-"), self.source, key)
            spec = self.mapping(spec, key, SUBNET_KEYS)
            if "cidr" not in spec:
                raise self.fail(f"{key}.cidr", "missing")
            try:
                network = ipaddress.IPv4Network(str(spec["cidr"]), strict=True)
            except ValueError as e:
                raise self.fail(f"{key}.cidr", f"not an IPv4 network: {e}") from None
            if network.num_addresses < 4:
                raise self.fail(f"{key}.cidr", f"{network} is too small for a router and a host")
            cannot = next((n for n in NOT_UNDERLAY if network.overlaps(n)), None)
            if cannot is not None or network.prefixlen < 8:
                raise self.fail(f"{key}.cidr", f"{network} cannot be an underlay (it covers {cannot or 'too much'})")
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
            check_name(name, IFNAMSIZ, self.source, key)
            if name == ROUTER:
                raise self.fail(key, f"{ROUTER!r} is the lab's built-in router; name the host otherwise")
            if INTERFACE_LIKE.fullmatch(name):
                raise self.fail(
                    key, f"{name!r} is an interface's name (the kernel's or Docker's); name the host otherwise"
                )
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
                check_engine(engine, self.source, f"{key}.engine")
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
