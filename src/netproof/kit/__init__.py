"""The check author's kit: everything a check uses, from one import.

    from netproof.kit import Window, check, facts, probes, wire

A check is declared with `check` (catalogue.py), takes the runner's fixtures (`docker_host` or `pair` or
`lab`, `workspace`, `proof`, `outside`, `evidence_dir`), creates what it needs through the Workspace, proves
behaviour with probes, windows and captures, records mechanism on its Proof, and fails with
`proof.require(holds, expected=..., observed=..., where=...)`. docs/writing-checks.md walks through one.
"""

from netproof import wait
from netproof.catalogue import check
from netproof.errors import LabBroken
from netproof.facts import budgets, defects
from netproof.facts import docker as facts
from netproof.kit import firewall, flows, kernel, namespaces, paths, probes, routes, trace, upstreams, wire
from netproof.kit.evidence import Proof
from netproof.kit.namespaces import NetNamespace, underlay_interface
from netproof.kit.objects import Container, EngineError, Network, host_clock, networks_created
from netproof.kit.routes import random_subnet, random_subnet_v6, route_on_router
from netproof.kit.window import Window, between_containers
from netproof.kit.workspace import Workspace
from netproof.lab.model.topology import LAB_ZONE, OUTSIDE_HTTP_PORT

__all__ = [
    "LAB_ZONE",
    "OUTSIDE_HTTP_PORT",
    "Container",
    "EngineError",
    "LabBroken",
    "NetNamespace",
    "Network",
    "Proof",
    "Window",
    "Workspace",
    "between_containers",
    "budgets",
    "check",
    "defects",
    "facts",
    "host_clock",
    "networks_created",
    "firewall",
    "flows",
    "kernel",
    "namespaces",
    "paths",
    "probes",
    "random_subnet",
    "random_subnet_v6",
    "route_on_router",
    "routes",
    "trace",
    "underlay_interface",
    "upstreams",
    "wait",
    "wire",
]
