"""The way back: checks that make the lab route to a Docker network's own subnet, as an attacker or a
well-meaning external network would (the router learns that the subnet is behind a docker host)."""

from __future__ import annotations

import random
from contextlib import contextmanager

from netproof.errors import LabBroken

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
    """The router routes subnet via a docker host while the block runs; yields whether it took the route. A route the
    router already has for that prefix is left alone (the router may be a user's: ssh labs), and the lab is said to
    be in the way; the route is removed afterwards only if this added it."""
    router = lab.router
    if router is None:
        yield False
        return
    family = ["-6"] if ":" in subnet else []
    present = router.run(["ip", *family, "route", "show", "exact", subnet]).stdout.strip()
    if present:
        raise LabBroken(
            f"the router {router.name} already routes {subnet} ({present}); netproof changes no route it did not add"
        )
    added = proof.command(
        f"router learns the way to {subnet}", router.run(["ip", *family, "route", "add", subnet, "via", via])
    )
    try:
        yield added.ok
    finally:
        if added.ok:
            router.run(["ip", *family, "route", "del", subnet, "via", via])
