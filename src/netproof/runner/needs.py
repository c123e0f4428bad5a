"""What a check needs of its lab beyond Docker (catalogue.NEEDS), judged before it runs: a case whose lab
lacks one is skipped, saying which and why in the lab's or the kernel's own words."""

from __future__ import annotations

from netproof.catalogue import NEEDS, Check
from netproof.kit import firewall, kernel
from netproof.lab.lab import Lab
from netproof.lab.providers.base import LabHost

ON_VMS = "run on VMs (lab providers vagrant, ssh)"
# What the lab doctor must have found healthy on a case's hosts before a check runs, by what the check needs (never
# by its tags): Docker on each host, and each host's own settings; overlays, the path between hosts and the control
# plane; IPv6, the hosts' forwarding. A check that probes the outside host leans on its path and services too.
BEFORE = ("engine", "host")
BEFORE_BY_NEED = {"overlay": ("reachability", "ports", "control-plane"), "ipv6": ("ipv6",)}


def requirements_before(check: Check, probes_outside: bool) -> tuple[str, ...]:
    """The doctor's requirements a case of the check depends on, judged before it runs (an unmet one: error)."""
    required = [*BEFORE, *(r for need in check.needs for r in BEFORE_BY_NEED.get(need, ()))]
    return (*required, "outside") if probes_outside else tuple(required)


def examined_after(check: Check, hosts: int, every: tuple[str, ...]) -> tuple[str, ...]:
    """The requirements the doctor looks at again after a case failed or erred (none for a one-host case of a check
    needing no overlay: nothing between hosts to have changed), less what the check proves itself (the path MTU)."""
    if "overlay" not in check.needs and hosts < 2:
        return ()
    return tuple(r for r in every if r not in check.proves)


def unmet(check: Check, lab: Lab, hosts: list[LabHost]) -> str | None:
    """Why the lab cannot run this case of the check, or None."""
    for need in check.needs:
        why = _judge(need, lab, hosts)
        if why:
            return why
    return None


NO_CONTROL_PLANE = "overlays need a control plane; this lab has none (control_plane: none, bridges only)"


def _judge(need: str, lab: Lab, hosts: list[LabHost]) -> str | None:
    plane = lab.topology.control_plane
    if need == "swarm" and plane != "swarm":
        return f"needs the swarm control plane; this lab's is {'the key-value store' if plane == 'kv' else plane}"
    if need == "iptables":
        on_nft = [h.name for h in hosts if firewall.backend(h) == "nftables"]
        if on_nft:
            return (
                f"{on_nft[0]}'s engine uses the nftables firewall backend, which has no DOCKER-USER chain and no "
                "jumps heading iptables' FORWARD (a drop there is final): users filter in a table of their own "
                "(Docker's docs: Docker with nftables, migrating from iptables)"
            )
    if need == "ipv6-underlay":
        outside = lab.topology.role("outside")
        if (outside and outside.address6 is None) or any(h.address6 is None for h in hosts):
            return "the lab's underlay is IPv4 only: give its subnets a cidr6, as labs/seed.yml does"
    if need in ("router-routes", "lan-addresses") and lab.topology.provider == "ssh":
        allowed = lab.topology.ssh.allow if lab.topology.ssh else ()
        if need not in allowed:
            what = (
                "add a route to a check's own subnet on your router"
                if need == "router-routes"
                else "put containers on addresses of your LAN that no lab host uses"
            )
            consent = f"ssh: {{allow: [{need}]}}"
            return f"it would {what}; netproof changes nothing on your network unless the inventory says {consent}"
    if need.startswith("daemon:"):
        setting = need.removeprefix("daemon:")
        without = [h.name for h in hosts if h.spec.daemon.get(setting) in (None, False, "")]
        if without:
            where = NEEDS.get(need, "a docker host whose daemon.json sets it")  # which lab's host, said once
            return f"{without[0]}'s daemon.json does not set {setting}: the check runs on {where}"
    if need.startswith("kernel:"):
        feature = need.removeprefix("kernel:")
        missing = [why for why in (kernel.lacking(h, feature) for h in hosts) if why]
        if missing:
            return f"{missing[0]}; checks that need it {ON_VMS}"
    return None
