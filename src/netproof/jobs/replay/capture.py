"""`netproof capture`: a running docker host read, never written, into a compose project netproof replays
(stack/capture.py makes the file). Only the inspect fields networking is made of are kept from what Docker
answers (stack/capture.READ), before anything else sees it: a container's environment, command, mounts and other
labels never leave this module."""

from __future__ import annotations

from netproof.jobs.replay.run import docker_host
from netproof.lab.lab import Lab
from netproof.lab.providers.base import LabHost
from netproof.stack import capture

CONTAINER_FIELDS = {
    "Name": None,
    "Id": None,
    "Config": ("Image", "ExposedPorts", "Labels"),
    "HostConfig": ("PortBindings", "RestartPolicy", "NetworkMode"),
    "NetworkSettings": ("Networks",),
}
NETWORK_FIELDS = ("Name", "Driver", "Internal", "EnableIPv6", "IPAM", "Labels")
COMPOSE_LABELS = (capture.PROJECT, capture.SERVICE, capture.NETWORK)
ENDPOINT_FIELDS = ("Aliases", "IPAMConfig", "GwPriority")


def read(host: LabHost) -> tuple[list[dict], list[dict]]:
    """The host's networks and running containers, as much of them as networking is made of."""
    client = host.docker()
    networks = [_network(n.attrs) for n in client.networks.list()]
    containers = [_container(c.attrs) for c in client.containers.list()]
    return networks, containers


def _network(attrs: dict) -> dict:
    kept = {k: attrs.get(k) for k in NETWORK_FIELDS}
    kept["Labels"] = _compose_labels(attrs.get("Labels"))
    kept["IPAM"] = {"Config": [{"Subnet": c.get("Subnet")} for c in (attrs.get("IPAM") or {}).get("Config") or []]}
    return kept


def _container(attrs: dict) -> dict:
    kept: dict = {}
    for key, fields in CONTAINER_FIELDS.items():
        value = attrs.get(key)
        kept[key] = value if fields is None else {f: (value or {}).get(f) for f in fields}
    kept["Config"]["Labels"] = _compose_labels(kept["Config"]["Labels"])
    networks = kept["NetworkSettings"]["Networks"] or {}
    kept["NetworkSettings"]["Networks"] = {n: {f: e.get(f) for f in ENDPOINT_FIELDS} for n, e in networks.items()}
    return kept


def _compose_labels(labels: dict | None) -> dict:
    return {k: v for k, v in (labels or {}).items() if k in COMPOSE_LABELS}


def captured(lab_name: str | None, host_name: str | None) -> tuple[dict, list[str], str]:
    """A docker host of a running lab (netns, vagrant, or the ssh provider's own hosts), read: the compose file's
    content, what was left out, and the host's name."""
    lab = Lab.attach(lab_name)
    host = docker_host(lab, host_name)
    networks, containers = read(host)
    document, notes = capture.compose_project(networks, containers, host.name)
    return document, notes, host.name
