"""The fixtures checks take, named as the domain: the lab, a docker host or a pair of them, the outside host,
the check's proof and its workspace."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from netproof.kit.evidence import LabBroken, Proof
from netproof.kit.trace import PacketTrace
from netproof.kit.workspace import Workspace
from netproof.lab.lab import Lab
from netproof.lab.providers.base import LabHost
from netproof.runner.collection import HostPair
from netproof.runner.session import CASE, check_of_item, lab_of


class LeftoverWarning(UserWarning):
    """A check's network or container that Docker refused to remove."""


class DockerRetryWarning(UserWarning):
    """Something Docker did only at the second attempt (the check's verdict rests on the second)."""


@pytest.fixture(scope="session")
def lab(pytestconfig: pytest.Config) -> Lab:
    """The running lab of this run."""
    return lab_of(pytestconfig)


def _require_up(lab: Lab, *hosts: LabHost) -> None:
    for host in hosts:
        try:
            host.docker().ping()
        except Exception as e:  # noqa: BLE001 - whatever it is, the lab is broken, not Docker
            raise LabBroken(
                f"host {host.name} of lab {lab.name} does not answer ({type(e).__name__}: {e}); "
                f"see `netproof lab status --name {lab.name}`"
            ) from None


@pytest.fixture
def pair(request: pytest.FixtureRequest, lab: Lab) -> HostPair:
    """Two docker hosts (parametrized by name): same subnet or routed across the underlay."""
    chosen = HostPair.of(lab, request.param)
    _require_up(lab, chosen.src, chosen.dst)
    return chosen


@pytest.fixture
def docker_host(request: pytest.FixtureRequest, lab: Lab) -> LabHost:
    """One docker host (parametrized by name)."""
    host = lab.host(request.param)
    _require_up(lab, host)
    return host


@pytest.fixture
def outside(lab: Lab) -> LabHost:
    """The lab's own stand-in for the external network."""
    host = lab.topology.role("outside")
    if host is None:
        pytest.skip(f"lab {lab.name} has no host with role: outside")
    return lab.host(host.name)


@pytest.fixture
def proof(request: pytest.FixtureRequest) -> Proof:
    """The check's evidence and its way of failing with expected, observed, where."""
    declared = check_of_item(request.node)
    if declared is None:
        raise pytest.UsageError(
            f"{request.node.nodeid}: the proof fixture is for checks declared with netproof.catalogue.check"
        )
    return Proof(declared.id, declared.promise, request.node.stash[CASE].label)


@pytest.fixture
def packet_trace(lab: Lab, proof: Proof) -> PacketTrace:
    """Why a probe that should have got through was lost: the hop, and the rule or policy that dropped it."""
    return PacketTrace.on(lab, proof)


@pytest.fixture
def workspace(lab: Lab) -> Workspace:
    """Networks and containers this check creates, removed when it ends however it ends."""
    space = Workspace.on(lab)
    yield space
    for retry in space.retries:
        warnings.warn(DockerRetryWarning(retry), stacklevel=1)
    problems = space.remove() + space.left_by_known_defects
    if problems:  # uniquely named, so in no other check's way: a warning, not a verdict
        warnings.warn(
            LeftoverWarning("Docker would not remove what the check created: " + "; ".join(problems)), stacklevel=1
        )


@pytest.fixture
def evidence_dir(tmp_path: Path) -> Path:
    """Where a check keeps files it records (packet captures)."""
    return tmp_path
