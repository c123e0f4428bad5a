"""A lab is ready for checks only once every docker host has attached a container to an overlay.

The first attachment on a host is the slow one: a swarm worker waits for the manager to allocate
it and builds the overlay's namespace; a kv host first learns the network through the store.
Docker gives a swarm attachment 20 s, and under load or software emulation the first one can take
longer. A check must never be that first one, so `lab up` ends by doing it on every docker host,
patiently (budgets.FIRST_ATTACHMENT times the provider's patience), and says how long each took.

On a slow provider (patience above 1: VMs under software emulation) a node's first attachment to a
new swarm overlay can outlast Docker's 20 s by itself: on the VM lab the manager needed about 22 s
of set-up (dozens of iptables calls at ~150 ms each), and every failed try tears the set-up down,
so trying again never succeeds. A swarm service's tasks have no such deadline, so there a new
overlay is first held on every node by a global service (`hold_overlay`); containers then attach
to a network that is already there.
"""

from __future__ import annotations

import secrets
import time
from concurrent.futures import ThreadPoolExecutor

import docker.errors
import docker.types

from netproof import wait
from netproof.errors import NetproofError
from netproof.facts import budgets
from netproof.lab.image import TEST_IMAGE
from netproof.lab.providers.base import LabHost
from netproof.progress import Progress


def needs_holding(control_plane: str, patience: float) -> bool:
    return control_plane == "swarm" and patience > 1


def hold_overlay(manager: LabHost, network: str, nodes: int, patience: float) -> str:
    """A global service of idle tasks on the overlay, running on every node: the network is then set up
    everywhere with no deadline. Returns the service's name (remove it before the network)."""
    name = f"{network}-hold"
    service = manager.docker().services.create(
        TEST_IMAGE, ["sleep", "86400"], name=name, networks=[network], mode=docker.types.ServiceMode("global")
    )

    def running() -> int:
        return sum(t["Status"]["State"] == "running" for t in service.tasks(filters={"desired-state": "running"}))

    wait.until(
        lambda: running() >= nodes,
        timeout=budgets.scaled(budgets.OVERLAY_HOLD, patience),
        interval=1,
        what=f"a task of service {name} to run on each of {nodes} nodes (it holds overlay {network} there)",
        hint=lambda: f"{running()} running; see: docker service ps {name} on {manager.name}",
    )
    return name


def release_overlay(manager: LabHost, service: str) -> None:
    try:
        manager.docker().services.get(service).remove()
    except docker.errors.NotFound:
        pass


def prove_overlay_attachment(
    docker_hosts: list[LabHost], manager: LabHost, control_plane: str, patience: float, progress: Progress
) -> dict[str, float]:
    """Attach a container to one new overlay on every docker host; seconds each host took. Removes what it made."""
    network = f"np-ready-{secrets.token_hex(3)}"
    with progress.step(f"proving each of {len(docker_hosts)} docker hosts can attach a container to an overlay"):
        manager.docker().networks.create(network, driver="overlay", attachable=control_plane == "swarm")
        attempts = [_Attachment(host, network) for host in docker_hosts]
        holder = None
        try:
            if needs_holding(control_plane, patience):
                holder = hold_overlay(manager, network, len(docker_hosts), patience)
            with ThreadPoolExecutor(max_workers=len(attempts)) as pool:
                seconds = list(pool.map(lambda a: a.wait(budgets.scaled(budgets.FIRST_ATTACHMENT, patience)), attempts))
        finally:
            for attempt in attempts:
                attempt.remove()
            if holder:
                release_overlay(manager, holder)
            _remove_network(manager, network, timeout=budgets.scaled(budgets.OVERLAY_REMOVAL, patience))
    timings = {a.host.name: round(s, 1) for a, s in zip(attempts, seconds, strict=True)}
    progress.say("  first overlay attachment: " + ", ".join(f"{h} {s:.1f}s" for h, s in timings.items()))
    return timings


class _Attachment:
    """Starting a container on one host's side of the overlay, again until Docker attaches it."""

    def __init__(self, host: LabHost, network: str):
        self.host = host
        self.network = network
        self.started: list[str] = []
        self.last_refusal = "no attempt yet"

    def wait(self, timeout: float) -> float:
        began = time.monotonic()
        wait.until(
            self._attach,
            timeout=timeout,
            interval=0.5,
            what=f"{self.host.name} to attach a container to overlay {self.network}",
            hint=lambda: f"Docker's last answer: {self.last_refusal}",
        )
        return time.monotonic() - began

    def _attach(self) -> bool:
        name = f"{self.network}-{self.host.name}-{len(self.started)}"
        self.started.append(name)
        try:
            container = self.host.docker().containers.run(
                TEST_IMAGE, "sleep 600", name=name, network=self.network, detach=True
            )
            container.reload()
        except docker.errors.APIError as e:  # attachment deadline, or (kv) the network not known here yet
            self.last_refusal = e.explanation or str(e)
            return False
        address = container.attrs["NetworkSettings"]["Networks"].get(self.network, {}).get("IPAddress")
        if not address:
            self.last_refusal = "the container started with no address on the overlay"
            return False
        return True

    def remove(self) -> None:
        for name in self.started:
            try:
                self.host.docker().containers.get(name).remove(force=True)
            except docker.errors.NotFound:
                pass


def _remove_network(manager: LabHost, network: str, timeout: float) -> None:
    def removed() -> bool:
        try:
            manager.docker().networks.get(network).remove()
        except docker.errors.NotFound:
            return True
        except docker.errors.APIError:  # busy until every host has let go of its endpoints
            return False
        return True

    if not wait.poll(removed, timeout=timeout, interval=0.3)[1]:
        raise NetproofError(
            f"{manager.name}: Docker would not remove the readiness overlay {network} within {timeout:.0f} s"
        )
