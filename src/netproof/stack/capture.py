"""What a running host's Docker holds, as a compose project netproof can replay (`netproof capture`): from the
inspect data of its networks and containers, only what networking is made of: networks (bridge, internal, IPv6,
subnets where a fixed address needs one), each container's endpoints (aliases, fixed addresses, gw_priority),
published and exposed ports, restart policy, and its image's name (never pulled). Never its environment, command,
mounts, volumes, secrets or other labels: they are not read from the inspect data here, so they cannot be written.
Pure: the reading is jobs/replay/capture.py's."""

from __future__ import annotations

import re

from netproof.stack.project import OUTSIDE

READ = (
    "networks: Name, Driver, Internal, EnableIPv6, IPAM.Config[].Subnet, Labels[com.docker.compose.*]",
    "containers: Name, Id, Config.Image, Config.ExposedPorts, HostConfig.PortBindings, HostConfig.RestartPolicy, "
    "HostConfig.NetworkMode, NetworkSettings.Networks (Aliases, IPAMConfig, GwPriority), "
    "Labels[com.docker.compose.project, com.docker.compose.service]",
)
PROJECT, SERVICE, NETWORK = "com.docker.compose.project", "com.docker.compose.service", "com.docker.compose.network"
DEFAULT_NETWORKS = ("bridge", "host", "none")
NAME = re.compile(r"[^a-zA-Z0-9._-]")


def compose_project(networks: list[dict], containers: list[dict], where: str) -> tuple[dict, list[str]]:
    """The compose file's content (a dict for YAML) and what was left out, and why."""
    notes: list[str] = []
    by_name = {n["Name"]: n for n in networks}
    keys = {n["Name"]: _network_key(n) for n in networks if n["Name"] not in DEFAULT_NETWORKS}
    services: dict[str, dict] = {}
    used: set[str] = set()
    fixed: set[str] = set()
    projects = set()
    for c in sorted(containers, key=lambda c: c["Name"]):
        name = c["Name"].lstrip("/")
        labels = c.get("Config", {}).get("Labels") or {}
        projects.add(labels.get(PROJECT))
        service = NAME.sub("-", labels.get(SERVICE) or name)
        if service in services or service == OUTSIDE:
            notes.append(f"container {name}: another container already stands for service {service}: left out")
            continue
        mode = (c.get("HostConfig") or {}).get("NetworkMode") or ""
        if mode in ("host",) or mode.startswith("container:"):
            notes.append(f"container {name}: network mode {mode} is not replayed: left out")
            continue
        attached = (c.get("NetworkSettings") or {}).get("Networks") or {}
        if attached and not set(attached) - set(DEFAULT_NETWORKS):
            notes.append(f"container {name}: only on Docker's default {', '.join(attached)}: left out")
            continue
        endpoints = {}
        for net_name, endpoint in sorted(attached.items()):
            if net_name not in keys:
                notes.append(f"container {name}: its endpoint on {net_name} is not replayed")
                continue
            spec = _endpoint(endpoint, service, name, c.get("Id", ""))
            fixed |= {net_name} if "ipv4_address" in spec else set()
            endpoints[keys[net_name]] = spec or None
            used.add(net_name)
        spec = {"image": (c.get("Config") or {}).get("Image") or "unknown", "networks": endpoints}
        spec.update(_ports(c))
        restart = _restart((c.get("HostConfig") or {}).get("RestartPolicy") or {})
        if restart:
            spec["restart"] = restart
        services[service] = spec
    project_name = next(iter(projects - {None}), None) if len(projects - {None}) == 1 else None
    nets = {}
    for net_name in sorted(used):
        net, spec = by_name[net_name], {}
        if (net.get("Driver") or "bridge") != "bridge":
            notes.append(f"network {net_name}: driver {net.get('Driver')} is not replayed (bridge networks only)")
            continue
        if net.get("Internal"):
            spec["internal"] = True
        if net.get("EnableIPv6"):
            spec["enable_ipv6"] = True
        subnets = [{"subnet": s["Subnet"]} for s in (net.get("IPAM") or {}).get("Config") or [] if s.get("Subnet")]
        if net_name in fixed or net.get("EnableIPv6"):  # a fixed address needs its subnet; else Docker chooses one
            spec["ipam"] = {"config": subnets}
        nets[keys[net_name]] = spec
    for spec in services.values():
        spec["networks"] = {k: v for k, v in spec["networks"].items() if k in nets}
    document = {"name": NAME.sub("-", project_name or f"captured-{where}").lower(), "services": services}
    if nets:
        document["networks"] = nets
    document["x-netproof"] = {"captured": {"from": where, "read": list(READ), "left out": notes}}
    return document, notes


def _network_key(network: dict) -> str:
    return NAME.sub("-", (network.get("Labels") or {}).get(NETWORK) or network["Name"])


def _endpoint(endpoint: dict, service: str, container: str, container_id: str) -> dict:
    """Aliases of the user's own (not the service's name, the container's name or short ID, which Docker and
    compose add), a fixed address, gw_priority."""
    own = (service, container, container_id[:12])
    aliases = [a for a in endpoint.get("Aliases") or [] if a not in own]
    spec: dict = {}
    if aliases:
        spec["aliases"] = aliases
    fixed = (endpoint.get("IPAMConfig") or {}).get("IPv4Address")
    if fixed:
        spec["ipv4_address"] = fixed
    if endpoint.get("GwPriority"):
        spec["gw_priority"] = endpoint["GwPriority"]
    return spec


def _ports(container: dict) -> dict:
    bindings = (container.get("HostConfig") or {}).get("PortBindings") or {}
    ports = []
    for key, bound in sorted(bindings.items()):
        target, _, protocol = key.partition("/")
        for b in bound or [{}]:
            port = {"target": int(target), "protocol": protocol or "tcp"}
            if b.get("HostPort"):
                port["published"] = b["HostPort"]
            if b.get("HostIp"):
                port["host_ip"] = b["HostIp"]
            ports.append(port)
    exposed = [k for k in sorted((container.get("Config") or {}).get("ExposedPorts") or {}) if k not in bindings]
    spec: dict = {}
    if ports:
        spec["ports"] = ports
    if exposed:
        spec["expose"] = exposed
    return spec


def _restart(policy: dict) -> str | None:
    name = policy.get("Name") or "no"
    if name == "no":
        return None
    retries = policy.get("MaximumRetryCount")
    return f"{name}:{retries}" if name == "on-failure" and retries else name
