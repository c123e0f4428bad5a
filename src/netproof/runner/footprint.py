"""Taking the footprint: representative objects made, everything Docker made or set for them read on each
docker host, normalized, written as footprint/<host>.json (and the reading as Docker printed it, with the
placeholders used, as footprint/raw/<host>.json), the objects removed. See the package's docstring."""

from __future__ import annotations

import dataclasses
import json
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from netproof import system
from netproof.facts.docker import BRIDGE_NAME_OPTION, DOCKERS_OWN_NETWORKS, VXLANID_OPTION
from netproof.footprint import KINDS, SCHEMA
from netproof.footprint.normalize import Placeholders, firewall_tables, flatten, normalize, without_workloads
from netproof.kit import probes
from netproof.kit.namespaces import NetNamespace
from netproof.kit.objects import Container, Network
from netproof.kit.workspace import Workspace
from netproof.lab.lab import Lab
from netproof.lab.providers.base import LabHost
from netproof.stack.project import WORKLOAD_LABEL

# What each representative network is, by the role its placeholders carry.
NETWORK_ROLES = ("overlay", "internal-overlay", "user-bridge", "internal-bridge")
PUBLISHED = f"{probes.HTTP_PORT}/tcp"  # published by the container on the user bridge
# The bridges' subnets are fixed: 20.10 hands out its local pools in turn (a /16, or a /20 once it passes
# 172.31), so a subnet from the pool would differ from run to run; outside the checks' 10.200-249 range.
BRIDGE_SUBNETS = {"user-bridge": "10.198.1.0/24", "internal-bridge": "10.198.2.0/24"}
# Interface fields that differ on every run whatever Docker does.
VOLATILE = (
    "ifindex",
    "link_index",
    "link_netnsid",
    "stats",
    "stats64",
    "preferred_life_time",
    "valid_life_time",
    "tentative",  # IPv6 duplicate address detection still running when read
)
HOST_SYSCTLS = (
    "net/ipv4/ip_forward",
    "net/ipv6/conf/all/forwarding",
    "net/ipv6/conf/default/forwarding",
    "net/ipv6/conf/all/disable_ipv6",
    "net/bridge/bridge-nf-call-iptables",
    "net/bridge/bridge-nf-call-ip6tables",
    "net/ipv4/conf/all/route_localnet",
    "net/ipv4/conf/all/rp_filter",
)
INTERFACE_SYSCTLS = ("ipv4/conf/{}/forwarding", "ipv4/conf/{}/route_localnet", "ipv6/conf/{}/disable_ipv6")
CONTAINER_SYSCTLS = (
    "net/ipv4/ip_unprivileged_port_start",
    "net/ipv4/ping_group_range",
    "net/ipv6/conf/all/disable_ipv6",
    "net/ipv6/conf/eth0/disable_ipv6",
    "net/ipv4/conf/all/route_localnet",
)
INFO_FIELDS = (
    "IPv4Forwarding",
    "BridgeNfIptables",
    "BridgeNfIp6tables",
    "DefaultAddressPools",
    "FirewallBackend",
    "Plugins",
    "Swarm",
    "Warnings",
)
SWARM_VOLATILE = ("NodeID", "NodeAddr", "RemoteManagers", "Cluster", "Nodes", "Managers")


@dataclass
class Representative:
    networks: dict[str, Network]  # role -> network
    containers: dict[str, list[Container]]  # host name -> its containers, one per network


def take(lab: Lab, folder: Path) -> dict:
    """The footprint of every docker host of the lab into folder (footprint/<host>.json); what to record in
    results.json about it: hosts, seconds, and the error if it could not be taken (never raised: a run's
    results must not be lost to it)."""
    started = time.monotonic()
    phases: dict[str, float] = {}
    space = Workspace.on(lab, retry_known_defects=True)
    hosts = lab.docker_hosts
    try:
        made = make(space, hosts)
        phases["make"] = time.monotonic() - started
        (folder / "raw").mkdir(parents=True, exist_ok=True)

        def footprint_of(host: LabHost) -> None:
            raw = read_host(host, made)
            placeholders = placeholders_for(lab, host, made, raw)
            doc = {"schema": SCHEMA, "host": host.name, "engine": lab.engine_version(host.name)}
            as_read = {**doc, "kinds": raw, "placeholders": dataclasses.asdict(placeholders)}
            system.write_atomically(folder / "raw" / f"{host.name}.json", json.dumps(as_read, indent=1) + "\n")
            doc["kinds"] = normalize(raw, placeholders)
            system.write_atomically(folder / f"{host.name}.json", json.dumps(doc, indent=1) + "\n")

        with ThreadPoolExecutor(len(hosts)) as pool:
            list(pool.map(footprint_of, hosts))
        phases["read"] = time.monotonic() - started - phases["make"]
        error = None
    except Exception as e:  # noqa: BLE001 - the checks' results stand without it; the report says why
        error = f"{type(e).__name__}: {e}"
    finally:
        removing = time.monotonic()
        problems = space.remove()
        phases["remove"] = time.monotonic() - removing
    return {
        "hosts": [h.name for h in hosts] if error is None else [],
        "seconds": round(time.monotonic() - started, 1),
        "phases": {k: round(v, 1) for k, v in phases.items()},  # make, read, remove: where the time went
        "error": error,
        "leftovers": problems,
        "left_by_known_defects": space.left_by_known_defects,  # what a known Docker defect kept, with its reference
        "retries": space.retries,  # what Docker needed a second attempt for
    }


def make(space: Workspace, hosts: list[LabHost]) -> Representative:
    """The representative objects: two overlays (one internal) made once, on every docker host a user bridge
    and an internal bridge, and on every host a container on each (the one on the user bridge publishes a port).
    Hosts in parallel (their engines are separate); on each host its networks one at a time, then its
    containers (see below)."""
    networks = {}
    if space.control_plane != "none":  # a lab without a control plane has no overlays
        networks = {
            "overlay": space.overlay(role="fp-ov"),
            "internal-overlay": space.overlay(internal=True, role="fp-iov"),
        }

    def on(host: LabHost) -> tuple[dict[str, Network], list[Container]]:
        bridges = {
            "user-bridge": space.bridge(host, role="fp-br", subnet=BRIDGE_SUBNETS["user-bridge"]),
            "internal-bridge": space.bridge(
                host, internal=True, role="fp-ibr", subnet=BRIDGE_SUBNETS["internal-bridge"]
            ),
        }
        wanted = [
            *(
                (networks[role], f"fp-{short}", {})
                for role, short in (("overlay", "ov"), ("internal-overlay", "iov"))
                if role in networks
            ),
            (bridges["user-bridge"], "fp-br", {"ports": {PUBLISHED: None}}),
            (bridges["internal-bridge"], "fp-ibr", {}),
        ]

        # Networks one at a time on a host, in this order: what Docker does to a host's firewall depends on the
        # order in which networks are made (20.10 moves its FORWARD jumps on each one, moby/moby#43585), and a
        # footprint must come out the same every time the same Docker makes it. The containers, each on a
        # network of its own, beside each other (the placeholders name each by its network): the bridges' each
        # at once, the overlays' one after the other, since two attachments at once on a 20.10 worker can run
        # out of the manager's 20 s (moby/moby#41841, seen in the bench).
        def start(w) -> Container:
            return space.container(host, w[0], role=w[1], **w[2])

        overlays = [w for w in wanted if w[0].driver == "overlay"]
        with ThreadPoolExecutor(1 + len(wanted) - len(overlays)) as pool:
            on_bridges = pool.map(start, [w for w in wanted if w[0].driver != "overlay"])
            on_overlays = pool.submit(lambda: [start(w) for w in overlays])
            containers = [*on_overlays.result(), *on_bridges]
        return bridges, containers

    with ThreadPoolExecutor(len(hosts)) as pool:
        per_host = list(pool.map(on, hosts))
    made = Representative(dict(networks), {})
    for host, (bridges, containers) in zip(hosts, per_host, strict=True):
        made.containers[host.name] = containers
        made.networks.update({f"{role}@{host.name}": net for role, net in bridges.items()})
    return made


def role_of(made: Representative, network: Network) -> str:
    return next(role.split("@")[0] for role, net in made.networks.items() if net.id == network.id)


def read_host(host: LabHost, made: Representative) -> dict[str, dict[str, list[str]]]:
    """Everything Docker made or set on this host for the representative objects, as Docker prints it."""
    raw: dict[str, dict[str, list[str]]] = {kind: {} for kind in KINDS}
    info = host.docker().info()
    _firewall(NetNamespace.of_host(host), "host", raw, info)
    workload_bridges, workload_subnets = _workloads(host)
    for section, lines in raw["firewall"].items():
        raw["firewall"][section] = without_workloads(lines, workload_bridges, workload_subnets)
    links, _ = NetNamespace.of_host(host).addresses_detailed()
    bridges = {lk["ifname"] for lk in links if _kind(lk) == "bridge"} - workload_bridges
    docker_made = [lk for lk in links if lk["ifname"] in bridges or lk.get("master") in bridges]
    peers = _peer_names(host, made)
    for link in docker_made:
        name = peers.get(("host", link.get("ifindex")), link["ifname"])
        raw["interfaces"][f"host: {name}"] = flatten(link, drop=VOLATILE)
    raw["defaults"]["host"] = _sysctls(
        NetNamespace.of_host(host),
        HOST_SYSCTLS + tuple(f"net/{s.format(b)}" for b in sorted(bridges) for s in INTERFACE_SYSCTLS),
    )
    routes = NetNamespace.of_host(host).run(["ip", "-j", "route", "show"]).stdout
    raw["routes"]["host: via Docker's bridges"] = [
        " ".join(flatten(r, drop=VOLATILE)) for r in _json(routes) if r.get("dev") in bridges
    ]
    for role in ("overlay", "internal-overlay"):
        net = made.networks.get(role)
        if net is None:  # a lab without a control plane
            continue
        overlay = net.overlay_namespace(host)
        links, _ = overlay.addresses_detailed()
        for link in links:
            name = peers.get((role, link.get("ifindex")), link["ifname"])
            raw["interfaces"][f"{role} namespace: {name}"] = flatten(link, drop=VOLATILE)
    for container in made.containers[host.name]:
        _container(host, container, role_of(made, container.network), raw, info)
    for net in [*made.networks.values(), *_dockers_own(host)]:
        if isinstance(net, Network) and net.driver == "bridge" and net.owner.name != host.name:
            continue  # another host's bridge
        ident = net.id if isinstance(net, Network) else net
        attrs = host.docker().networks.get(ident).attrs
        raw["inspect"][f"network {attrs['Name']}"] = flatten(
            attrs, drop=("Created", "EndpointID"), unordered=("Peers",)
        )
    raw["info"]["docker info"] = flatten({k: v for k, v in info.items() if k in INFO_FIELDS}, drop=SWARM_VOLATILE)
    return raw


def _container(host: LabHost, container: Container, role: str, raw: dict, info: dict) -> None:
    where = f"container on {role}"
    links, _ = container.netns.addresses_detailed()
    for link in links:
        raw["interfaces"][f"{where}: {link['ifname']}"] = flatten(link, drop=VOLATILE)
    for family in ("-4", "-6"):
        routes = container.netns.run(["ip", "-j", family, "route", "show", "table", "all"]).stdout
        raw["routes"][f"{where}: IPv{family[1]}"] = [" ".join(flatten(r, drop=VOLATILE)) for r in _json(routes)]
    _firewall(container.netns, where, raw, info)  # the embedded DNS's rules, in the backend the engine uses
    raw["defaults"][where] = _sysctls(container.netns, CONTAINER_SYSCTLS)
    attrs = host.docker().containers.get(container.name).attrs
    for title, path in (("resolv.conf", attrs.get("ResolvConfPath")), ("hosts", attrs.get("HostsPath"))):
        text = host.read_file(path).decode(errors="replace") if path else ""
        raw["resolver"][f"{where}: {title}"] = [line for line in text.splitlines() if line.strip()]
    settings = attrs.get("NetworkSettings", {})
    raw["inspect"][f"{where}: NetworkSettings"] = flatten(
        {k: v for k, v in settings.items() if k not in ("SandboxID", "SandboxKey")}, drop=("EndpointID",)
    )


def _workloads(host: LabHost) -> tuple[set[str], set[str]]:
    """The bridges and subnets of the networks a workload holds on the host (stack/project.WORKLOAD_LABEL)."""
    bridges, subnets = set(), set()
    for net in host.docker().networks.list(filters={"label": WORKLOAD_LABEL}):
        bridges.add((net.attrs.get("Options") or {}).get(BRIDGE_NAME_OPTION) or f"br-{net.id[:12]}")
        subnets |= {c["Subnet"] for c in (net.attrs.get("IPAM") or {}).get("Config") or [] if c.get("Subnet")}
    return bridges, subnets


def _firewall(ns: NetNamespace, where: str, raw: dict, info: dict | None) -> None:
    for tool in ("iptables-save", "ip6tables-save"):
        saved = ns.run([tool])
        for table, rules in firewall_tables(saved.stdout if saved.ok else "").items():
            raw["firewall"][f"{where}: {tool.split('-')[0]} {table}"] = rules
    backend = ((info or {}).get("FirewallBackend") or {}).get("Driver", "")
    if "nftables" in backend:
        ruleset = ns.run(["nft", "-s", "list", "ruleset"]).stdout  # -s: without counters, which change
        raw["firewall"][f"{where}: nftables"] = [
            line.split(" # handle")[0].rstrip() for line in ruleset.splitlines() if line.strip()
        ]


def _sysctls(ns: NetNamespace, names: tuple[str, ...]) -> list[str]:
    """name=value for each, read inside the namespace (a netns's own net.* values); absent ones said so."""
    script = 'for f in "$@"; do printf "%s=%s\\n" "$f" "$(cat /proc/sys/$f 2>/dev/null || echo absent)"; done'
    result = ns.run(["sh", "-c", script, "sysctls", *names])
    return [line.replace("/", ".", line.count("/")) for line in result.stdout.splitlines() if "=" in line]


def _peer_names(host: LabHost, made: Representative) -> dict[tuple[str, int], str]:
    """The other end of each representative container's interfaces, named after the container (a veth's
    own name is random): (namespace, ifindex) -> 'veth of <container> eth0'."""
    names = {}
    for container in made.containers[host.name]:
        role = role_of(made, container.network)
        links, _ = container.netns.links()
        for link in links:
            if "link_index" not in link:
                continue
            # eth0 of an overlay container pairs with its overlay's namespace; eth1 and bridge ones with the host
            ns = role if role.endswith("overlay") and link["ifname"] == "eth0" else "host"
            names[(ns, link["link_index"])] = f"veth of container on {role} {link['ifname']}"
    return names


def _dockers_own(host: LabHost) -> list[str]:
    present = {n.name: n.id for n in host.docker().networks.list(names=list(DOCKERS_OWN_NETWORKS))}
    return [present[n] for n in DOCKERS_OWN_NETWORKS if n in present]


def placeholders_for(lab: Lab, host: LabHost, made: Representative, raw: dict) -> Placeholders:
    p = Placeholders()
    attrs_of = {c.name: host.docker().containers.get(c.name).attrs for c in made.containers[host.name]}
    # A network created with a subnet alone: before 29, inspect leaves its gateway out (29 says it); its
    # containers' endpoints say it on every engine, so the same address gets the same placeholder.
    endpoint_gateways = {
        c.network.name: attrs_of[c.name]["NetworkSettings"]["Networks"][c.network.name].get("Gateway") or None
        for c in made.containers[host.name]
    }
    for role, net in made.networks.items():
        role = role.split("@")[0]
        if net.driver == "bridge" and net.owner.name != host.name:
            continue
        p.network(role, net.id, net.name, net.subnet, net.gateway or endpoint_gateways.get(net.name))
        vni = net.options.get(VXLANID_OPTION)
        if vni:
            p.literal(vni, f"<vni:{role}>")
    for container in made.containers[host.name]:
        role = role_of(made, container.network)
        attrs = attrs_of[container.name]
        p.container(role, attrs["Id"], container.name, container.ip)
        port = container.host_port(probes.HTTP_PORT)
        if port:
            p.ports[str(port)] = "<port:published>"
    for name in _dockers_own(host):
        attrs = host.docker().networks.get(name).attrs
        config = (attrs.get("IPAM", {}).get("Config") or [{}])[0]
        p.literal(attrs["Id"], f"<net:{attrs['Name']}>")
        p.pool(attrs["Name"], config.get("Subnet"), config.get("Gateway"))
    for other in lab.topology.hosts.values():
        own = other.name == host.name
        p.addresses[str(other.address)] = "<ip:this-host>" if own else "<ip:lab-host>"
        if other.role == "docker":  # swarm peers are named after their hosts
            p.literal(other.name, "<this-host>" if own else "<lab-host>")
    p.embedded_dns_ports(json.dumps(raw["firewall"]))
    return p


def _kind(link: dict) -> str | None:
    return link.get("linkinfo", {}).get("info_kind")


def _json(text: str) -> list[dict]:
    return json.loads(text) if text.strip() else []
