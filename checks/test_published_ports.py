"""PUB-001, PUB-002: published ports answer where they are published, and nowhere else.

PUB-001: a port published with -p answers the outside host on the docker host's underlay address;
the DNAT rule (and docker-proxy) for it are the mechanism. (A port published on 127.0.0.1 only, which
a neighbour must not reach by sending to 127.0.0.1 with the host's MAC, moby/moby#49325, is not
checked yet: on the netns lab the neighbour's frames to 127.0.0.1 never reach the docker host, so
such a check could not fail there.)

PUB-002: direct routing. With the router told that a bridge network's subnet is behind the docker
host, the outside host reaches neither a container's unpublished port nor its published port at the
container's own address (since 28.0: moby/moby#48724, #49325, #49829), while the published port still
answers on the host's address.
"""

from __future__ import annotations

from netproof.catalogue import check
from netproof.proof import probes
from netproof.proof.routes import random_subnet, route_on_router

SINCE_28 = "28.0"


def host_port(docker_host, container) -> int | None:
    ports = docker_host.docker().containers.get(container.name).attrs["NetworkSettings"]["Ports"] or {}
    binding = (ports.get(f"{probes.HTTP_PORT}/tcp") or [{}])[0]
    return int(binding["HostPort"]) if binding.get("HostPort") else None


def require_answers(proof, outside, address: str, port: int, where: str, missing: tuple | list = ()) -> None:
    fetch = probes.http_get(probes.on_host(outside), address, port, timeout=3)
    proof.command(f"{outside.name}: GET http://{address}:{port}/", fetch.result)
    proof.require(
        fetch.result.ok and "netproof" in fetch.result.stdout,
        expected=f"{outside.name} reaches the published port at {address}:{port}",
        observed="; ".join([str(fetch), *missing]),
        where=where,
    )


@check(
    "PUB-001",
    scope="host",
    tags=("bridge", "published-ports"),
    promise="a port published with -p answers the external network on the docker host's address",
)
def test_published_port_answers(docker_host, workspace, proof, outside):
    net = workspace.bridge(docker_host, role="pub")
    public = workspace.server(docker_host, net, role="pub", ports={f"{probes.HTTP_PORT}/tcp": None})
    port = host_port(docker_host, public)
    proof.require(
        port is not None, expected=f"{public.name}'s port published", observed="no host port", where=str(public)
    )
    nat = docker_host.infra.iptables.rules("nat", "DOCKER")
    proof.data(f"nat DOCKER chain of {docker_host.name}", nat, where=docker_host.name)
    target = f"{public.ip}:{probes.HTTP_PORT}"
    forwarded = [r for r in nat if f"--dport {port} " in f"{r} " and target in r]
    proxy = docker_host.run(
        ["sh", "-c", f"ps -eo args | grep -c '[d]ocker-proxy.*-host-port {port} .*-container-ip {public.ip}'"]
    )
    missing = (
        [] if forwarded else [f"no DNAT of port {port} to {target} in {docker_host.name}'s nat DOCKER chain"]
    ) + ([] if proxy.stdout.strip() not in ("", "0") else [f"no docker-proxy for port {port} on {docker_host.name}"])
    require_answers(proof, outside, docker_host.address, port, f"{outside.name} -> {docker_host.name}:{port}", missing)
    proof.mechanism(
        "DNAT for the published port",
        [r.replace(str(port), "<port>").replace(public.ip, "<container>") for r in forwarded],
    )


@check(
    "PUB-002",
    scope="host",
    tags=("bridge", "published-ports", "firewall", "isolation"),
    since=SINCE_28,
    reference="moby/moby#48724, #49325, #49829",
    promise="a host routed to a bridge network reaches neither a container's unpublished port nor its published "
    "port at the container's own address, while the published port answers on the docker host's address",
)
def test_direct_routing(docker_host, lab, workspace, proof, outside):
    net = workspace.bridge(docker_host, subnet=random_subnet(), role="drt")
    hidden = workspace.server(docker_host, net, role="hid")
    shown = workspace.server(docker_host, net, role="pub", ports={f"{probes.HTTP_PORT}/tcp": None})
    port = host_port(docker_host, shown)
    where = f"{outside.name}, routed to {net.subnet} via {docker_host.name}"
    window = probes.Window(f"{outside.name} to containers' own addresses on {net.subnet}")
    with route_on_router(lab, net.subnet, docker_host.address, proof) as routed:
        proof.require(routed, expected="the router takes the route", observed="it did not", where="router")
        for target in (hidden, shown):
            window.http(probes.on_host(outside), target.ip, probes.HTTP_PORT, tries=2)
        require_answers(proof, outside, docker_host.address, port, where)
    proof.text("probes", "\n".join(window.attempts))
    rules = docker_host.infra.iptables.rules("raw") + docker_host.infra.iptables.rules("filter")
    unguarded = [c.ip for c in (hidden, shown) if not any(f"-d {c.ip}/32" in r and "DROP" in r for r in rules)]
    proof.require(
        window.held,
        expected=f"no connection to {hidden.ip}:{probes.HTTP_PORT} (unpublished) or {shown.ip}:{probes.HTTP_PORT} "
        f"(published as {docker_host.address}:{port})",
        observed="got through: "
        + "; ".join(window.breaches)
        + (f" (no raw PREROUTING DROP for {', '.join(unguarded)} from outside its bridge)" if unguarded else ""),
        where=where,
    )
    proof.data(f"raw and filter tables of {docker_host.name}", rules, where=docker_host.name)
    named = {hidden.ip: "<unpublished>", shown.ip: "<published>"}
    mine = [r for r in rules if "PREROUTING" in r and any(ip in r for ip in named)]
    for ip, placeholder in named.items():
        mine = [r.replace(ip, placeholder) for r in mine]
    proof.mechanism("raw PREROUTING for the two containers", [r.split(" -i ")[0] + " ..." for r in mine])
