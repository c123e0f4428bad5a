"""How a lab's engines must be started for its control plane: part of the lab's model, which
the providers follow (they start the engines) and the control plane relies on."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from netproof.facts.docker import ADDRESS_POOLS_KEY, DEFAULT_LOCAL_POOLS, ETCD_PORT, GOSSIP_PORT, KV_ADVERTISE_PORT
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
    configs = {h.name: pools_apart(h.daemon, topology) for h in topology.docker_hosts}
    configs = {name: config for name, config in configs.items() if config}
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


def pools_apart(daemon: dict, topology: Topology) -> dict:
    """The host's daemon.json with Docker's default address pools kept off the lab's own subnets: Docker avoids only
    the routes it sees, so a lab subnet reached through the gateway (the seed's dc2, 192.168.50.0/24, from dc1) is
    Docker's to take once 172.17 to 172.31 are in use, and a bridge over it cuts the host off from it (seen in a
    rolling upgrade 20.10 -> 28.5: docker1's br-... at 192.168.48.0/20). Docker's own pools, in its order, without the
    pieces (of each pool's size) that overlap a lab subnet; unchanged where nothing overlaps, or the topology sets
    the pools itself."""
    if ADDRESS_POOLS_KEY in daemon:
        return dict(daemon)
    lab = [s.network for s in topology.subnets.values()]
    pools, cut = [], False
    for base, size in DEFAULT_LOCAL_POOLS:
        pool = ipaddress.IPv4Network(base)
        if not any(pool.overlaps(n) for n in lab):
            pools.append({"base": base, "size": size})
            continue
        cut = True
        pools += [{"base": str(p), "size": size} for p in pool.subnets(new_prefix=size)
                  if not any(p.overlaps(n) for n in lab)]  # fmt: skip
    return {**daemon, ADDRESS_POOLS_KEY: pools} if cut else dict(daemon)
