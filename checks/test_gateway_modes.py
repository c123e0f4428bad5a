"""GW-MODE-001: a bridge network's IPv4 gateway mode decides what crosses its docker host, as one truth table.

Behaviour: on a bridge created with `-o com.docker.network.bridge.gateway_mode_ipv4=<mode>` (and --internal for
`isolated`, which Docker allows only there), with the lab's router routing the network's subnet to the docker host:
  - a container fetches the outside host's page, and a capture there says whom it came from (the docker host's
    address: masqueraded; the container's own: routed);
  - the outside host connects to a container's published port and to another's unpublished port, at the
    containers' own addresses;
  - the docker host itself connects to a container.
Every cell the mode forbids is a probe of one window, which must stop them all; every cell it allows must answer.
Docker before 27.0 (routed) or 28.0 (nat-unprotected, isolated) ignores a mode it does not know and makes a nat
network: the table records what such an engine did (behaviour only, never the option's presence in inspect).

Mechanism: the nat table's rules for the network's subnet, and the bridge's own addresses on the host (an
isolated network's bridge has none: moby/moby#49262).
"""

from __future__ import annotations

from dataclasses import dataclass

from netproof.kit import (
    OUTSIDE_HTTP_PORT,
    Window,
    check,
    facts,
    firewall,
    probes,
    random_subnet,
    route_on_router,
)


@dataclass(frozen=True)
class Crossing:
    """What a gateway mode lets cross the docker host."""

    out: str | None  # whose address a container's connection out arrives from: "host", "container", or None
    published: bool  # the outside host reaches a published port at the container's own address
    unpublished: bool  # ... and an unpublished one
    from_host: bool  # the docker host reaches a container


MODES = {
    "nat": Crossing(out="host", published=False, unpublished=False, from_host=True),
    "nat-unprotected": Crossing(out="host", published=True, unpublished=True, from_host=True),
    "routed": Crossing(out="container", published=True, unpublished=False, from_host=True),
    "isolated": Crossing(out=None, published=False, unpublished=False, from_host=False),
}


@check(
    "GW-MODE-001",
    needs=("router-routes",),
    scope="host",
    tags=("bridge", "gateway", "firewall", "nat"),
    since="28.0",
    reference="moby/moby#47871 (routed, 27.0), #48597 (nat-unprotected), #49262 (isolated)",
    promise="a bridge network's IPv4 gateway mode decides what crosses its host: nat masquerades what leaves and lets "
    "nothing in at containers' own addresses; nat-unprotected masquerades and lets everything in; routed sends "
    "containers' own addresses out and lets in only published ports; isolated lets nothing out or in, not even "
    "from the host",
    variants=tuple(MODES),
)
def test_gateway_mode(docker_host, lab, workspace, proof, outside, evidence_dir, variant):
    mode, allowed = variant, MODES[variant]
    net = workspace.bridge(
        docker_host, subnet=random_subnet(), role="gw", internal=mode == "isolated",
        options={facts.GATEWAY_MODE_IPV4: mode},
    )  # fmt: skip
    shown = workspace.server(docker_host, net, role="pub", ports={f"{probes.HTTP_PORT}/tcp": None})
    hidden = workspace.server(docker_host, net, role="hid")
    where = f"{docker_host.name}, bridge {net.name} ({net.subnet}, gateway mode {mode})"
    into = {
        f"{outside.name} -> published port at {shown.ip}": (probes.on_host(outside), shown.ip, allowed.published),
        f"{outside.name} -> unpublished port at {hidden.ip}": (probes.on_host(outside), hidden.ip, allowed.unpublished),
        f"{docker_host.name} -> {hidden.ip}": (probes.on_host(docker_host), hidden.ip, allowed.from_host),
    }
    out = f"{shown.name} -> {outside.name}"
    window = Window(f"what gateway mode {mode} must stop")
    window.through_the_firewall_of(docker_host)
    forbidden = {cell: (run, ip, probes.HTTP_PORT) for cell, (run, ip, ok) in into.items() if not ok}
    if allowed.out is None:
        forbidden[out] = (shown.exec, str(outside.address), OUTSIDE_HTTP_PORT)
    with route_on_router(lab, net.subnet, docker_host.address, proof) as routed:
        proof.require(routed, expected="the router takes the route", observed="it did not", where="router")
        window.at_once(*(lambda w, c=c, p=p: w.http(*p, tries=2, label=c) for c, p in forbidden.items()))
        reached = {cell: reach(proof, run, ip, cell) for cell, (run, ip, ok) in into.items() if ok}
        went = probes.fetched_from_outside(proof, shown, outside, evidence_dir) if allowed.out else None
    table = {cell: "got through" if window.got_through(cell) else "stopped" for cell in forbidden}
    table |= {cell: "answered" if fetch.through else str(fetch) for cell, fetch in reached.items()}
    if went is not None:
        fetch, sources = went
        named = {docker_host.address: "the docker host", shown.ip: "the container"}
        came = ", ".join(f"{named.get(a, a)} ({a})" for a in sources) or "?"
        table[out] = f"answered, from {came}" if fetch.through else str(fetch)
    proof.data(f"what crossed {docker_host.name} (gateway mode {mode})", table, where=docker_host.name)
    for cell, fetch in reached.items():
        proof.require(fetch.through, expected=f"{cell} answers", observed=str(fetch), where=where)
    if went is not None:
        require_out(proof, went, shown, docker_host, outside, allowed.out, where)
    if forbidden:  # nat-unprotected forbids nothing
        window.require_nothing_through(proof, expected=f"every crossing mode {mode} forbids stopped", where=where)
    record_mechanism(proof, docker_host, net)


def reach(proof, run, ip: str, cell: str) -> probes.Fetch:
    fetch = probes.http_get(run, ip, probes.HTTP_PORT, timeout=3)
    proof.command(f"{cell}: GET http://{ip}:{probes.HTTP_PORT}/", fetch.result)
    return fetch


def require_out(proof, went, container, docker_host, outside, whose: str, where: str) -> None:
    """The container's connection reached the outside host, from the address the mode says."""
    fetch, sources = went
    proof.require(fetch.through, expected=f"{container.name} fetches http://{outside.address}/", observed=str(fetch),
                  where=where)  # fmt: skip
    source = docker_host.address if whose == "host" else container.ip
    proof.require(
        sources == [source],
        expected=f"its connection arrives at {outside.name} from {source} ("
        + ("masqueraded as the docker host)" if whose == "host" else "the container's own address, not masqueraded)"),
        observed=f"it arrived from {', '.join(sources) or 'nowhere'}",
        where=f"{outside.name}, capture on its interface",
    )


def record_mechanism(proof, docker_host, net) -> None:
    rules = [r.replace(net.subnet, "<subnet>") for r in firewall.rules(docker_host, "nat") if net.subnet in r]
    proof.mechanism("nat rules for the network's subnet", rules)
    mine = proof.command(
        f"{docker_host.name}'s addresses in {net.subnet}",
        docker_host.run(["ip", "-4", "-o", "addr", "show", "to", net.subnet]),
    )
    proof.mechanism("the host has an address on the network's bridge", bool(mine.stdout.strip()))
