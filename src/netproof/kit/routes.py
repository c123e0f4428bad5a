"""The way back: checks that make the lab route to a Docker network's own subnet, as an attacker or a
well-meaning external network would (the router learns that the subnet is behind a docker host)."""

from __future__ import annotations

import random
from contextlib import contextmanager

RANDOM_SECOND_OCTETS = range(200, 250)  # random_subnet's 10.200.0.0 - 10.249.255.0 /24s


def random_subnet() -> str:
    """A subnet for a check's network, unique enough that parallel checks never fight over the router's routes."""
    return f"10.{random.choice(RANDOM_SECOND_OCTETS)}.{random.randint(0, 255)}.0/24"


def is_random_subnet(subnet: str) -> bool:
    """Whether random_subnet could have drawn it (so another draw serves the check as well)."""
    parts = subnet.split(".")
    return (
        len(parts) == 4
        and parts[0] == "10"
        and parts[1].isdigit()
        and int(parts[1]) in RANDOM_SECOND_OCTETS
        and subnet.endswith(".0/24")
    )


def random_subnet_v6() -> str:
    """An IPv6 /64 for a check's network: unique local (fd00::/8, RFC 4193), so it never means anywhere else."""
    return f"fd{random.randint(0, 255):02x}:{random.randint(0, 0xFFFF):x}:{random.randint(0, 0xFFFF):x}:1::/64"


@contextmanager
def route_on_router(lab, subnet: str, via: str, proof):
    """The router routes subnet via a docker host while the block runs; yields whether it took the route."""
    router = lab.router
    if router is None:
        yield False
        return
    added = proof.command(
        f"router learns the way to {subnet}", router.run(["ip", "route", "replace", subnet, "via", via])
    )
    try:
        yield added.ok
    finally:
        router.run(["ip", "route", "del", subnet, "via", via])
