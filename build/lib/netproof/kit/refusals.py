"""Docker's refusals worth another try, in one place: each is tried again and said among the check's retries;
any other refusal stands as Docker's failure.

| refusal | seen | tried again |
| --- | --- | --- |
| a swarm worker's attachment runs out of the manager's 20 s | CI, loaded machine; VMs | up to Workspace.attempts |
| a node says "network ... not found" for an overlay the manager has | CI on a worker; 29.7 over ssh | as above |
| a random subnet "overlaps" a pool Docker holds | CI, 20.10 kv (ISO-INT-002) | another subnet, 3 draws |
| a network just created is not found by its ID | CI on 29.7 (404) | asked again, budgets.NETWORK_VISIBLE |
| a known defect's symptom with its mechanism found | the footprint only (retry_known_defects) | as the first |
"""

from __future__ import annotations

import time

import docker.errors

from netproof import wait
from netproof.facts import budgets
from netproof.facts.defects import symptoms_in
from netproof.facts.docker import ATTACH_TIMEOUT, POOL_OVERLAP
from netproof.kit import known_defects, routes
from netproof.kit.objects import EngineError, Network, knows
from netproof.lab.providers.base import LabHost

POOL_DRAWS = 3  # random subnets tried for a network

# Each rule takes the check's Workspace (`space`): its control plane, manager, patience and retries.


def network_made(space, owner: LabHost, name: str, **options):
    """docker-py's networks.create, whose inspect right after the create is asked again while Docker does not
    find the new network by its ID (said among the retries); past budgets.NETWORK_VISIBLE, Docker's failure."""
    client = owner.docker()
    made = client.api.create_network(name, **options)["Id"]

    def found():
        try:
            return client.networks.get(made)
        except docker.errors.NotFound:
            return None

    network = found()
    if network is not None:
        return network
    timeout = space.budget(budgets.NETWORK_VISIBLE)
    started = time.monotonic()
    network, visible = wait.poll(found, holds=lambda n: n is not None, timeout=timeout, interval=0.2)
    if not visible:
        try:  # not tracked yet: removed here, or left to the lab's teardown
            client.api.remove_network(made)
        except docker.errors.APIError:
            pass
        raise EngineError(
            f"{owner.name}: Docker created network {name} ({made}) but does not find it after {timeout:.0f} s"
        )
    space.retries.append(
        f"{owner.name}: network {name} was not found by its ID right after Docker created it; found "
        f"{time.monotonic() - started:.1f} s later"
    )
    return network


def drawing_again(space, owner: LabHost, subnet: str | None, create):
    """create(subnet): a network. A subnet drawn at random (routes.random_subnet) that Docker says overlaps a
    pool it holds is drawn again, and said: two draws met, or the store kept a removed network's pool (seen in
    CI on 20.10 with the kv store, ISO-INT-002)."""
    for draw in range(1, POOL_DRAWS + 1):
        try:
            return create(subnet)
        except docker.errors.APIError as e:
            why = e.explanation or str(e)
            if draw == POOL_DRAWS or not subnet or not routes.is_random_subnet(subnet) or POOL_OVERLAP not in why:
                raise
            space.retries.append(f"{owner.name}: subnet {subnet} refused ({why}); drew another")
            subnet = routes.random_subnet()
    raise AssertionError("unreachable")


def worth_another_start(space, host: LabHost, why: str) -> str | None:
    """Why a failed start deserves another ("" needs no more words), or None: the failure stands."""
    if space.control_plane == "swarm" and ATTACH_TIMEOUT in why:
        return ""
    if space.retry_known_defects:
        recognition = known_defects.recognise(symptoms_in(why), [host], space.control_plane)
        if recognition and recognition.known:
            return f": {recognition}"
    return None


def unknown_to_node(space, host: LabHost, network: Network, said: str) -> bool:
    """A host said an overlay the manager has was not found: a swarm node with no container on it yet (seen in
    CI on a worker; and here on the manager itself, 29.7 over ssh, the last of two attempts), or, where known
    defects are worked around (the footprint), a kv host whose read of the store failed (moby/libnetwork#1838's
    symptom, seen with no stuck thread left to find)."""
    return (
        (space.control_plane == "swarm" or (space.retry_known_defects and space.control_plane == "kv"))
        and (space.control_plane == "swarm" or host is not space.manager)
        and (f"network {network.name} not found" in said or f"network {network.id} not found" in said)
        and knows(space.manager, network)
    )
