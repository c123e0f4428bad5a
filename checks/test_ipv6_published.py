"""IPV6-004: over IPv6, a published port shows the client's own address, and a container's connections out leave as
its gateway mode says.

Behaviour, on an --ipv6 bridge of the variant's IPv6 gateway mode (`-o com.docker.network.bridge.gateway_mode_ipv6`):
  - nat (the default): the outside host GETs the published port at the docker host's IPv6 address, and a capture in
    the container's own namespace must see the outside host's own IPv6 address (Docker's ip6tables DNAT, on by
    default since 27.0; through docker-proxy it would be the gateway's); the container GETs the outside host's page
    over IPv6, and a capture there must see the docker host's IPv6 address (masqueraded);
  - routed: with the router routing the network's IPv6 subnet to the docker host, the outside host GETs the published
    port at the container's own IPv6 address, and the container's connection out arrives from its own address.

Mechanism: the ip6tables nat rules naming the network's IPv6 subnet.
"""

from __future__ import annotations

from netproof.kit import check, facts, firewall, probes, random_subnet, random_subnet_v6, route_on_router, wire

MODES = ("nat", "routed")


@check(
    "IPV6-004",
    needs=("ipv6", "ipv6-underlay", "router-routes"),
    scope="host",
    tags=("bridge", "ipv6", "published-ports", "nat", "gateway"),
    since="27.0",
    reference="moby/moby#47747 (27.0: ip6tables on by default), #47871 (27.0: gateway_mode_ipv6)",
    promise="over IPv6, a published port delivers the client's own address to its container, and a container's "
    "connections out leave as the docker host's address under gateway mode nat and as its own under routed",
    variants=MODES,
)
def test_ipv6_published_port_and_egress(docker_host, lab, workspace, proof, outside, evidence_dir, variant):
    subnet6 = random_subnet_v6()
    net = workspace.bridge(
        docker_host, subnet=random_subnet(), ipv6_subnet=subnet6, role="p6", options={facts.GATEWAY_MODE_IPV6: variant}
    )
    server = workspace.server(docker_host, net, role="p6", ports={f"{probes.HTTP_PORT}/tcp": None})
    own6 = server.netns.ipv6_address_in(subnet6)
    proof.require(own6 is not None, expected=f"{server.name} has an address in {subnet6}", observed="none",
                  where=str(server))  # fmt: skip
    routed = variant == "routed"
    address, port = (own6, probes.HTTP_PORT) if routed else (docker_host.address6, server.host_port(probes.HTTP_PORT))
    where = f"{docker_host.name}, bridge {net.name} ({subnet6}, IPv6 gateway mode {variant})"
    capture = wire.Capture(server.netns, "eth0", f"ip6 and tcp dst port {probes.HTTP_PORT}",
                           evidence_dir / f"{server.name}-from-outside6.pcap")  # fmt: skip
    with route_on_router(lab, subnet6, docker_host.address6, proof) as taken:
        proof.require(taken, expected="the router takes the IPv6 route", observed="it did not", where="router")
        with capture:
            fetch = probes.http_get(probes.on_host(outside), address, port, timeout=3, query=server.name)
        went, sources = probes.fetched_from_outside(
            proof, server, outside, evidence_dir, outside.address6, syns_from=(own6,)
        )
    proof.command(f"{outside.name}: GET {fetch.url}", fetch.result)
    proof.pcap(capture.describe(), capture.dest, where=docker_host.name)
    seen = wire.senders_of(capture.dest, server.name.encode())
    proof.require(fetch.through, expected=f"{outside.name} reaches the published port at [{address}]:{port}",
                  observed=str(fetch), where=where)  # fmt: skip
    proof.require(
        seen == [outside.address6],
        expected=f"{server.name} sees the request come from {outside.name}'s own address {outside.address6}",
        observed=f"it came from {', '.join(seen) or 'nowhere'}",
        where=where,
    )
    source = own6 if routed else docker_host.address6
    arrived = f"it arrived from {', '.join(sources) or 'nowhere'}"
    proof.require(
        sources in ([source], []),  # from a wrong address, said before whether an answer could come back to it
        expected=f"its connection arrives at {outside.name} from {source} ("
        + ("its own address, not masqueraded)" if routed else "masqueraded as the docker host)"),
        observed=f"{arrived}; {went}",
        where=f"{outside.name}, capture on its interface",
    )
    proof.require(went.through, expected=f"{server.name} fetches http://[{outside.address6}]/",
                  observed=f"{went}; {arrived}", where=where)  # fmt: skip
    rules = firewall.rules(docker_host, "nat", version=6)
    proof.mechanism("ip6tables nat rules for the network's subnet",
                    [r.replace(subnet6, "<subnet6>") for r in rules if subnet6 in r])  # fmt: skip
