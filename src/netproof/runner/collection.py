"""Collection: each check under its ID, parametrized by the lab's hosts and host pairs, with its case as data.

A check's test items are named by its ID, `checks/<module>.py::OVL-PING-001[swarm-docker1->docker4]`, run
sorted by ID, and carry their case (hosts, control plane, engines) in their stash, never parsed back out of a
test ID.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from netproof import catalogue
from netproof.catalogue import Case, check_of
from netproof.lab.lab import Lab
from netproof.lab.providers.base import LabHost
from netproof.runner.session import CASE, DECLARED, check_of_item, engine_of, run_topology


@dataclass(frozen=True)
class HostPair:
    src: LabHost
    dst: LabHost

    @property
    def routed(self) -> bool:
        return self.src.spec.subnet.name != self.dst.spec.subnet.name

    def __str__(self) -> str:
        return f"{self.src.name}->{self.dst.name}"

    @classmethod
    def of(cls, lab: Lab, names: tuple[str, str]) -> HostPair:
        return cls(lab.host(names[0]), lab.host(names[1]))


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    declared = check_of(metafunc.function)
    if declared is not None and declared.variants:
        if "variant" not in metafunc.fixturenames:
            raise pytest.UsageError(
                f"netproof: {declared.where}: {declared.id} has variants, so it must take 'variant'"
            )
        metafunc.parametrize("variant", declared.variants)
    if "pair" not in metafunc.fixturenames and "docker_host" not in metafunc.fixturenames:
        return
    # Cases are named by host names (the fixtures hand the check the lab's hosts): a case ID is safe for -k,
    # `swarm-docker1-to-docker4`, and --collect-only needs no lab.
    topology = run_topology(metafunc.config)
    plane = topology.control_plane
    if "pair" in metafunc.fixturenames:
        pairs = [(a.name, b.name) for a, b in topology.host_pairs(metafunc.config.getoption("netproof_pairs"))]
        metafunc.parametrize("pair", pairs, ids=[f"{plane}-{a}-to-{b}" for a, b in pairs], indirect=True)
    if "docker_host" in metafunc.fixturenames:
        hosts = [h.name for h in topology.docker_hosts]
        metafunc.parametrize("docker_host", hosts, ids=[f"{plane}-{h}" for h in hosts], indirect=True)


def pytest_pycollect_makeitem(collector: pytest.Collector, name: str, obj: object):
    """A check is collected under its ID (catalogue.check binds it so); under its function name it is only noted."""
    declared = check_of(obj)
    if declared is None or name == declared.id:
        return None  # pytest's own collection: a check's ID is a test name (__test__ = True)
    collector.config.stash[DECLARED].append(declared)
    return []


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    try:
        catalogue.validate(config.stash[DECLARED])
    except catalogue.CatalogueError as e:
        raise pytest.UsageError(f"netproof: {e}") from None
    checks = []
    tags_known: set[str] = set()
    for item in items:
        declared = check_of_item(item)
        if declared is None:
            continue
        fixture = catalogue.SCOPES[declared.scope]
        if fixture not in item.fixturenames:
            raise pytest.UsageError(
                f"netproof: {declared.where}: {declared.id} has scope {declared.scope!r},"
                f" so it must take the {fixture!r} fixture"
            )
        item.stash[CASE] = _case_of(item, config)
        for tag in declared.tags:  # `pytest -m overlay` selects the overlay checks (in xdist's workers too)
            if tag not in tags_known:
                config.addinivalue_line("markers", f"{tag}: netproof checks tagged {tag}")
                tags_known.add(tag)
            item.add_marker(tag)
        checks.append(item)
    chosen = set(map(id, checks))
    items[:] = [i for i in items if id(i) not in chosen] + sorted(checks, key=lambda i: i.name)


def _case_of(item: pytest.Item, config: pytest.Config) -> Case:
    params = item.callspec.params if hasattr(item, "callspec") else {}
    topology = run_topology(config)
    if "pair" in params:
        hosts = tuple(params["pair"])
    elif "docker_host" in params:
        hosts = (params["docker_host"],)
    else:
        hosts = tuple(h.name for h in topology.docker_hosts)
    plane = topology.control_plane
    label = item.callspec.id if hasattr(item, "callspec") else plane
    if "variant" in params and "pair" not in params and "docker_host" not in params:
        label = f"{plane}-{label}"  # a lab-wide check's variants: swarm-vip
    return Case(label, plane, hosts, {h: engine_of(config, h) for h in hosts})
