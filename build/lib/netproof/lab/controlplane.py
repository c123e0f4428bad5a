"""Control planes: how the docker hosts of a lab learn about each other's overlay networks.

swarm: the first docker host inits a swarm advertising its underlay address, the others
join it across the routed underlay as workers.
kv:    the legacy key-value store. Every dockerd points at etcd on the kv host (engines before
23.0 only); networks created with -d overlay are then global on every host.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import docker.errors

from netproof import wait
from netproof.errors import NetproofError
from netproof.facts import budgets
from netproof.facts.docker import SWARM_PORT
from netproof.lab.model.topology import SwarmOptions, Topology
from netproof.lab.providers.base import LabHost
from netproof.progress import Progress


def form(topology: Topology, hosts: dict[str, LabHost], progress: Progress, create: bool = True) -> dict[str, str]:
    """Join the docker hosts into one control plane; returns each host's role in it.
    create=False: the hosts are not the lab's own (provider ssh); use the swarm they are in."""
    docker_hosts = [hosts[h.name] for h in topology.docker_hosts]
    if topology.control_plane == "none":
        return {h.name: "standalone" for h in docker_hosts}
    if topology.control_plane == "swarm" and not create:
        roles = _existing_swarm(docker_hosts)
        if topology.swarm.document():
            _refuse_other_settings(topology, [h for h in docker_hosts if roles[h.name] == "manager"])
        return roles
    if topology.control_plane == "kv":
        with progress.step(f"checking {len(docker_hosts)} engines use the key-value store"):
            for host in docker_hosts:
                store = host.docker().info().get("ClusterStore")
                if not store:
                    raise NetproofError(
                        f"{host.name}: dockerd ignored --cluster-store (docker info shows none); see its log"
                    )
        return {h.name: "kv-store" for h in docker_hosts}

    manager, workers = docker_hosts[0], docker_hosts[1:]
    options = topology.swarm
    settings = f" ({_said(options.document())})" if options.document() else ""
    with progress.step(f"forming a swarm{settings}: {manager.name} inits, {len(workers)} join"):
        try:
            manager.docker().swarm.init(
                advertise_addr=options.advertise or manager.address,
                listen_addr=f"{manager.address}:{SWARM_PORT}",
                **options.init_options(),
            )
        except docker.errors.APIError as e:  # Docker's own words, e.g. a firewall backend it runs no swarm with
            raise NetproofError(f"{manager.name}: Docker refuses to form a swarm: {_why(e, options)}") from None
        token = manager.docker().swarm.attrs["JoinTokens"]["Worker"]

        def join(host: LabHost) -> None:
            try:
                host.docker().swarm.join(
                    remote_addrs=[f"{manager.address}:{SWARM_PORT}"],
                    join_token=token,
                    listen_addr=f"{host.address}:{SWARM_PORT}",
                    advertise_addr=options.advertise or host.address,
                )
            except docker.errors.APIError as e:
                raise NetproofError(f"{host.name}: Docker refuses to join the swarm: {_why(e, options)}") from None

        with ThreadPoolExecutor(max_workers=max(1, len(workers))) as pool:
            list(pool.map(join, workers))
    # A node that has joined but is not Ready yet gets no network attachments: a container started
    # on it then fails with "attaching to network failed ... context deadline exceeded" (seen in CI).
    with progress.step("waiting for every swarm node to be ready"):
        wait_for_swarm_nodes(manager, len(docker_hosts))
    roles = {manager.name: "manager"}
    roles.update({w.name: "worker" for w in workers})
    return roles


def _said(settings: dict) -> str:
    return ", ".join(f"{k}: {v}" for k, v in settings.items())


def _why(error: docker.errors.APIError, options: SwarmOptions) -> str:
    """Docker's refusal, with what the topology can change about it."""
    said = str(error.explanation)
    if "nftables" in said:
        return f"{said} (use control_plane: none, bridges only)"
    if options.document():
        return f"{said} (the topology's swarm: {_said(options.document())})"
    return said


def swarm_settings(manager: LabHost) -> dict:
    """The swarm's settings as its manager reports them (docker info), in the topology's keys."""
    cluster = manager.docker().info().get("Swarm", {}).get("Cluster") or {}
    return {
        "data_path_port": cluster.get("DataPathPort"),
        "default_addr_pool": cluster.get("DefaultAddrPool"),
        "subnet_size": cluster.get("SubnetSize"),
    }


def _refuse_other_settings(topology: Topology, managers: list[LabHost]) -> None:
    """A swarm netproof did not make must have the settings the topology says: they are verified, not made."""
    if not managers:
        raise NetproofError(
            f"{topology.source}: swarm: no docker host of the lab is a manager, and only a manager says the swarm's "
            "settings; list a manager among the hosts, or remove swarm:"
        )
    actual = swarm_settings(managers[0])
    wanted = topology.swarm.document()
    differ = [
        f"swarm.{k}: the hosts' swarm has {actual[k]}, the topology says {wanted[k]}"
        for k in ("data_path_port", "default_addr_pool", "subnet_size")
        if k in wanted and actual.get(k) != wanted[k]
    ]
    if differ:
        raise NetproofError(
            f"{topology.source}: {'; '.join(differ)} (netproof does not change hosts it did not make: correct the "
            "topology, or the swarm)"
        )


def _existing_swarm(docker_hosts: list[LabHost]) -> dict[str, str]:
    managers = {}
    for host in docker_hosts:
        info = host.docker().info().get("Swarm", {})
        if info.get("LocalNodeState") != "active":
            raise NetproofError(
                f"{host.name} is not in a swarm (state {info.get('LocalNodeState') or 'none'}); netproof does not"
                " change hosts it did not make: join the docker hosts into one swarm first"
            )
        managers[host.name] = {m["Addr"] for m in info.get("RemoteManagers") or []}
    first = managers[docker_hosts[0].name]
    strangers = [name for name, m in managers.items() if not m & first]
    if strangers:
        raise NetproofError(
            f"{', '.join(strangers)}: in another swarm than {docker_hosts[0].name}; the docker hosts must share one "
            "swarm"
        )
    return {h.name: swarm_role(h) for h in docker_hosts}


class SwarmNotReady(NetproofError):
    """Swarm nodes not ready in time; `late` names them (empty when the manager itself did not answer)."""

    def __init__(self, message: str, late: list[str]):
        super().__init__(message)
        self.late = late


def wait_for_swarm_nodes(manager: LabHost, nodes: int, timeout: float = budgets.SWARM_READY) -> None:
    """Until the swarm's manager lists that many nodes, every one Ready."""

    def states() -> list[tuple[str, str, str]]:  # (hostname, state, the manager's message about it)
        try:
            return [
                (n.attrs["Description"]["Hostname"], n.attrs["Status"]["State"], n.attrs["Status"].get("Message", ""))
                for n in manager.docker().nodes.list()
            ]
        except Exception:  # noqa: BLE001 - the manager itself may still be starting
            return []

    seen, ready = wait.poll(
        states,
        holds=lambda s: len(s) == nodes and all(state == "ready" for _, state, _ in s),
        timeout=timeout,
        interval=0.5,
    )
    if not ready:
        late = [
            f"{name} {state}" + (f" ({message})" if message else "")
            for name, state, message in seen
            if state != "ready"
        ]
        said = ", ".join(late) if late else f"{len(seen)} of {nodes} nodes listed"
        if not seen:
            said = f"the manager {manager.name} does not answer"
        late_names = [name for name, state, _ in seen if state != "ready"]
        raise SwarmNotReady(f"swarm nodes not ready after {timeout:.0f} s: {said}", late_names)


def own_swarm_view(host: LabHost) -> str:
    """What the host's engine says of its own place in the swarm: its node state, and the error it has, if any."""
    try:
        info = host.docker().info().get("Swarm", {})
    except Exception as e:  # noqa: BLE001 - an engine that does not answer is what is said
        return f"{host.name}'s engine does not answer: {e}"
    error = info.get("Error")
    return f"{host.name} says of itself: {info.get('LocalNodeState') or 'no swarm'}" + (f" ({error})" if error else "")


def swarm_role(host: LabHost) -> str:
    """The host's role as its engine reports it now."""
    info = host.docker().info().get("Swarm", {})
    if info.get("LocalNodeState") != "active":
        return info.get("LocalNodeState") or "none"
    return "manager" if info.get("ControlAvailable") else "worker"
