"""IPV6-001, IPV6-002: IPv6 where a network asks for it (--ipv6), and only there.

Behaviour: containers on an --ipv6 bridge ping each other's IPv6 addresses; a container on an --ipv6
network and on an IPv4-only one has no IPv6 address on the IPv4-only interface (26.0.0 and 26.0.1 gave it a
link-local one, and let it take router-advertised ones: CVE-2024-32473). Mechanism: the containers' IPv6
routes, with the check's own prefix taken out, and the interface's disable_ipv6.

Not a check: IPv6 across hosts on overlays. On swarm Docker allocates no subnet to an --ipv6 overlay
(moby/moby#52469, open; "the overlay driver needs support for IPv6 added"); on the key-value store
control plane (20.10) containers get IPv6 addresses but no IPv6 packet crosses hosts (seen here).
"""

from __future__ import annotations

from netproof.kit import EngineError, check, probes, random_subnet, random_subnet_v6


@check(
    "IPV6-001",
    scope="host",
    needs=("ipv6",),
    tags=("bridge", "ipv6", "reachability"),
    promise="containers on a bridge network created with --ipv6 get addresses of its IPv6 subnet and reach each "
    "other over IPv6",
)
def test_ipv6_bridge(docker_host, workspace, proof):
    subnet = random_subnet_v6()
    net = workspace.bridge(docker_host, subnet=random_subnet(), ipv6_subnet=subnet, role="br6")
    a = workspace.container(docker_host, net, role="a6")
    b = workspace.container(docker_host, net, role="b6")
    probes.require_reached_over_ipv6(proof, a, b, subnet, where=f"{docker_host.name}, bridge {net.name} ({subnet})")


@check(
    "IPV6-002",
    scope="host",
    needs=("ipv6",),
    tags=("bridge", "ipv6", "isolation"),
    promise="a container on an --ipv6 network and on one without has IPv6 only where it was asked for: its interface "
    "on the IPv4-only network has no IPv6 address, link-local included (so it takes no router-advertised one either)",
    # Docker kept it before 26.0 too (20.10 here); 26.0.0 and 26.0.1 broke it, which a since/until cannot say.
    reference="CVE-2024-32473, moby/moby GHSA-x84c-p2g9-rqv9: broken in 26.0.0 and 26.0.1, mended in 26.0.2",
)
def test_no_ipv6_where_not_asked(docker_host, workspace, proof):
    dual = workspace.bridge(docker_host, subnet=random_subnet(), ipv6_subnet=random_subnet_v6(), role="ds")
    v4only = workspace.bridge(docker_host, subnet=random_subnet(), role="v4only")
    c = workspace.container(docker_host, dual, role="two")
    connected, address = workspace.connect(docker_host, v4only, c.name, alias=f"{c.name}-v4")
    proof.command(f"{c.name} joins {v4only.name}", connected)
    interface = c.netns.interface_with_address(address) if address else None
    if not connected.ok or interface is None:
        raise EngineError(f"{docker_host.name}: {c.name} has no interface on {v4only.name}: {connected.stderr.strip()}")
    found = c.netns.ipv6_addresses(interface)
    disabled = c.netns.run(["cat", f"/proc/sys/net/ipv6/conf/{interface}/disable_ipv6"]).stdout.strip()
    proof.text(
        f"{c}: IPv6 on {interface} ({v4only.name}, IPv4 only)",
        f"addresses: {', '.join(found) or 'none'}\ndisable_ipv6: {disabled}",
    )
    proof.mechanism("disable_ipv6 on the IPv4-only network's interface", disabled)
    proof.require(
        not found,
        expected=f"no IPv6 address on {c.name}'s {interface}, its interface on {v4only.name} (IPv4 only)",
        observed=f"{', '.join(found)} (net.ipv6.conf.{interface}.disable_ipv6={disabled})",
        where=f"{docker_host.name}, bridge {v4only.name}",
    )
