"""How a lab's engines must be started for its control plane: part of the lab's model, which
the providers follow (they start the engines) and the control plane relies on."""

from __future__ import annotations

from dataclasses import dataclass, field

from netproof.facts.docker import ETCD_PORT, GOSSIP_PORT, KV_ADVERTISE_PORT
from netproof.lab.model.topology import Topology


@dataclass(frozen=True)
class EngineStart:
    """How the docker hosts' engines must be started for a control plane."""

    flags: dict[str, list[str]] = field(default_factory=dict)  # extra dockerd flags per host
    configs: dict[str, dict] = field(default_factory=dict)  # per host: its daemon.json (the topology's `daemon:`)
    # Start engines one at a time, each listening on gossip_port before the next starts.
    one_at_a_time: bool = False
    gossip_port: int | None = None


def engine_start(topology: Topology) -> EngineStart:
    configs = {h.name: h.daemon for h in topology.docker_hosts if h.daemon}
    if topology.control_plane != "kv":
        return EngineStart(configs=configs)
    kv = topology.role("kv")
    flags = {
        h.name: [
            "--cluster-store",
            f"etcd://{kv.address}:{ETCD_PORT}",
            "--cluster-advertise",
            f"{h.address}:{KV_ADVERTISE_PORT}",
        ]
        for h in topology.docker_hosts
    }
    # With the store, each dockerd's overlay driver joins the gossip (serf) of the first other host
    # it finds registered there, once. Started together, hosts pair off into gossip clusters that
    # never merge, and overlay peers in the other cluster are never learnt: containers there are
    # unreachable (seen in this lab: {docker1, docker3} and {docker2, docker4}). Started one at a
    # time, each finds the ones before it, all already in one cluster.
    return EngineStart(flags, configs, one_at_a_time=True, gossip_port=GOSSIP_PORT)
