"""OVL-EGRESS-001, BR-EGRESS-001: a container on a normal (not --internal) network gets out.

Behaviour: the container fetches the outside host's web page, and a capture at the outside host
sees the connection arrive from the docker host's own underlay address (Docker masquerades what
leaves its networks). Mechanism: the container's default route, and the NAT rule for the
network's subnet, recorded with the check's own names taken out.
"""

from __future__ import annotations

from netproof.kit import OUTSIDE_HTTP_PORT, check, facts, firewall, probes, trace


def require_egress(proof, container, docker_host, outside, evidence_dir, subnet: str, where: str, packet_trace) -> None:
    """The container's GET reaches the outside host, from the docker host's underlay address.

    Other checks' requests reach the outside host at the same time: the request carries the
    container's name, and only the packets carrying it are counted.
    """
    fetch, sources = probes.fetched_from_outside(proof, container, outside, evidence_dir)
    rules = record_nat(proof, docker_host, subnet)
    fetched = fetch.result.ok and "netproof" in fetch.result.stdout
    if not fetched:
        packet_trace.why_lost(
            trace.Conversation(container.ip, outside.address, OUTSIDE_HTTP_PORT),
            [docker_host, outside],
            lambda: probes.http_get(container.exec, outside.address, OUTSIDE_HTTP_PORT, timeout=3),
        )
    proof.require(
        fetched,
        expected=f"{container.name} fetches http://{outside.address}/ (the outside host's page)",
        observed="; ".join([str(fetch), *why_not_out(docker_host, subnet, rules)]),
        where=where,
    )
    proof.require(
        sources == [docker_host.address],
        expected=f"the connection arrives at {outside.name} from {docker_host.name}'s underlay address "
        f"{docker_host.address} (masqueraded)",
        observed=f"its request ({container.name}) arrived from {', '.join(sources) or 'nowhere'}",
        where=f"{outside.name}, capture on its interface",
    )


def record_nat(proof, docker_host, subnet: str) -> list[str]:
    rules = firewall.rules(docker_host, "nat", "POSTROUTING")
    proof.data(f"nat POSTROUTING of {docker_host.name}", rules, where=docker_host.name)
    proof.mechanism("NAT rule for the network", [r.replace(subnet, "<subnet>") for r in rules if subnet in r])
    return rules


def why_not_out(docker_host, subnet: str, nat_rules: list[str]) -> list[str]:
    """What of Docker's egress plumbing is missing on the host, for a failure to name."""
    causes = []
    forwarding = docker_host.run(["sysctl", "-n", "net.ipv4.ip_forward"]).stdout.strip()
    if forwarding != "1":
        causes.append(f"{docker_host.name} does not forward packets (net.ipv4.ip_forward={forwarding or '?'})")
    if not any(subnet in r and "MASQUERADE" in r for r in nat_rules):
        causes.append(f"no MASQUERADE rule for {subnet} in {docker_host.name}'s nat POSTROUTING")
    return causes


@check(
    "OVL-EGRESS-001",
    scope="host",
    needs=("overlay",),
    tags=("overlay", "gateway", "egress", "nat"),
    promise="a container on a normal overlay reaches the external network through docker_gwbridge, "
    "leaving with its host's address",
)
def test_overlay_egress(docker_host, workspace, proof, outside, evidence_dir, packet_trace):
    net = workspace.overlay()
    c = workspace.container(docker_host, net)
    where = f"{docker_host.name}, container {c.name} on overlay {net.name}"
    routes, result = c.netns.routes()
    proof.command("container routes", result)
    gateway = docker_host.infra.interface(facts.GATEWAY_BRIDGE)
    subnets = [a for a in gateway.addresses if ":" not in a]
    proof.text(f"{facts.GATEWAY_BRIDGE} addresses", ", ".join(gateway.addresses), where=docker_host.name)
    gw_subnet = _network_of(docker_host, facts.GATEWAY_BRIDGE) or (subnets[0] if subnets else "")
    require_egress(proof, c, docker_host, outside, evidence_dir, gw_subnet, where, packet_trace)


@check(
    "BR-EGRESS-001",
    scope="host",
    tags=("bridge", "egress", "nat"),
    promise="a container on the default bridge or a user-defined bridge reaches the external network, "
    "leaving with its host's address",
)
def test_bridge_egress(docker_host, workspace, proof, outside, evidence_dir, packet_trace):
    default = workspace.default_bridge(docker_host)
    on_default = workspace.container(docker_host, default, role="def")
    require_egress(
        proof,
        on_default,
        docker_host,
        outside,
        evidence_dir,
        default.subnet,
        f"{docker_host.name}, container {on_default.name} on the default bridge",
        packet_trace,
    )
    user = workspace.bridge(docker_host)
    on_user = workspace.container(docker_host, user, role="usr")
    require_egress(
        proof,
        on_user,
        docker_host,
        outside,
        evidence_dir,
        user.subnet,
        f"{docker_host.name}, container {on_user.name} on bridge {user.name}",
        packet_trace,
    )


def _network_of(docker_host, network: str) -> str | None:
    """A local network's subnet as Docker says it (docker_gwbridge's, for the NAT rule)."""
    try:
        config = docker_host.docker().networks.get(network).attrs["IPAM"]["Config"]
    except Exception:  # noqa: BLE001 - the capture decides the verdict; this only names the rule
        return None
    return config[0].get("Subnet") if config else None
