"""DNS-001, DNS-002: names resolve as Docker promises.

DNS-001: the embedded DNS server (127.0.0.11) answers a container's name and its network alias with
the container's address on that network, across hosts on an overlay; a container's name is not
resolvable from a network it is not on. DNS-002: a name of the lab's own zone (the outside host's
DNS server, see labs/) resolves from a container on a normal network, through the host's resolver;
from a container on an --internal network nothing outside answers (since 26.0, CVE-2024-29018).
"""

from __future__ import annotations

import pytest

from netproof.kit import LAB_ZONE, LabBroken, budgets, check, facts, kernel, probes


def lookup(container, name: str):
    """busybox nslookup in the container (its resolver is Docker's embedded DNS); the addresses answered."""
    return probes.nslookup(_in(container), name)


def settled_lookup(container, name: str, holds, timeout: float):
    return probes.settled_lookup(_in(container), name, holds, timeout)


def _in(container):
    return lambda argv: container.exec(argv, timeout=15)


@check(
    "DNS-001",
    scope="pair",
    needs=("overlay",),
    tags=("overlay", "dns"),
    promise="a container's name and network alias resolve, through the embedded DNS, to its address on that "
    "network from containers on the same network on any host, and not from a network it is not on",
)
def test_embedded_dns(pair, workspace, proof):
    net = workspace.overlay()
    b = workspace.container(pair.dst, net, role="b")
    a = workspace.container(pair.src, net, role="a")
    where = f"{a} on {pair.src.name}, asking for {b.name} on {pair.dst.name} ({net.name})"
    resolv = proof.command(f"{a.name}: /etc/resolv.conf", a.exec(["cat", "/etc/resolv.conf"]))
    proof.require(
        f"nameserver {facts.EMBEDDED_DNS}" in resolv.stdout,
        expected=f"the container's resolver is Docker's embedded DNS ({facts.EMBEDDED_DNS})",
        observed=resolv.stdout.strip(),
        where=where,
    )
    settle = workspace.budget(budgets.SETTLE)
    require_resolves(proof, a, b.name, b.ip, where, settle)

    aliased = workspace.overlay(role="al")
    alias = f"{b.name}-alias"
    connected, alias_ip = workspace.connect(pair.dst, aliased, b.name, alias=alias)
    proof.command(f"{b.name} joins {aliased.name} with the alias {alias}", connected)
    proof.require(
        connected.ok and bool(alias_ip),
        expected=f"{b.name} connected to {aliased.name}, with an address there",
        observed=connected.stderr.strip() or f"connected, with no address on {aliased.name}",
        where=f"{b} on {pair.dst.name}",
    )
    c = workspace.container(pair.src, aliased, role="c")
    require_resolves(proof, c, alias, alias_ip, f"{c} on {aliased.name}", settle)

    # a is on net alone: from aliased, its name must not resolve.
    result, answered = lookup(c, a.name)
    proof.command(f"nslookup {a.name} from {c.name} on {aliased.name}", result)
    proof.require(
        not answered,
        expected=f"{a.name} does not resolve from {aliased.name}, a network it is not on",
        observed=f"resolved to {', '.join(answered)}",
        where=f"{c} on {aliased.name}",
    )
    proof.mechanism(
        "container resolver", [line for line in resolv.stdout.splitlines() if line.startswith("nameserver")]
    )


def require_resolves(proof, asker, name: str, address: str, where: str, settle: float) -> None:
    """The name resolves to the address alone, within the moment the control plane needs to bring a
    remote name to the asker's host (the time it took is recorded)."""
    result, answered, took = settled_lookup(asker, name, lambda found: found == [address], settle)
    proof.command(
        f"nslookup {name} from {asker.name} (answered as expected after {took:.1f} s)"
        if answered == [address]
        else f"nslookup {name} from {asker.name} for {took:.0f} s",
        result,
    )
    proof.require(
        answered == [address],
        expected=f"{name} resolves to {address} alone within {settle:.0f} s",
        observed=", ".join(answered) or f"no answer ({(result.stdout + result.stderr).strip().splitlines()[-1:]})",
        where=where,
    )


@check(
    "DNS-002",
    scope="host",
    tags=("bridge", "dns", "isolation"),
    since="26.0",
    reference="CVE-2024-29018, moby/moby#47589: the embedded DNS forwards nothing for --internal networks",
    promise="a container on a normal network resolves external names through its host's resolver, and one on "
    "an --internal network gets no answer from outside",
)
def test_external_names(docker_host, workspace, proof, outside):
    name = f"www.{LAB_ZONE}"
    # The lab's DNS server is the lab's: if the host itself gets no answer, the lab is broken, not Docker.
    result, answered = probes.nslookup(probes.on_host(docker_host), name)
    proof.command(f"nslookup {name} on {docker_host.name} itself", result)
    if answered != [outside.address]:
        said = (result.stdout + result.stderr).strip().splitlines()[-1:]
        raise LabBroken(
            f"the lab's DNS server on {outside.name} ({outside.address}) does not answer {docker_host.name} for "
            f"{name}: {said}; is dnsmasq running there (netproof lab status)?"
        )
    normal = workspace.bridge(docker_host, role="ext")
    a = workspace.container(docker_host, normal, role="a")
    result, answered = lookup(a, name)
    proof.command(f"nslookup {name} on {normal.name}", result)
    proof.require(
        answered == [outside.address],
        expected=f"{name} resolves to {outside.address} (the lab's DNS server, through {docker_host.name}'s resolver)",
        observed=", ".join(answered) or "no answer",
        where=f"{a} on bridge {normal.name}",
    )
    internal = workspace.bridge(docker_host, internal=True, role="int")
    b = workspace.container(docker_host, internal, role="b")
    result, answered = lookup(b, name)
    proof.command(f"nslookup {name} on internal {internal.name}", result)
    proof.require(
        not answered,
        expected=f"no answer for {name} on an --internal network",
        observed=f"resolved to {', '.join(answered)}",
        where=f"{b} on internal bridge {internal.name}",
    )


@check(
    "DNS-003",
    needs=("overlay", "swarm"),
    scope="lab",
    tags=("overlay", "dns", "swarm"),
    promise="a swarm service resolves from containers on its network on every host: with --endpoint-mode dnsrr "
    "its name to its tasks' addresses, in vip mode to its virtual IP; tasks.<service> to its tasks' addresses",
    variants=("dnsrr", "vip"),  # the endpoint modes
)
def test_service_dns(lab, workspace, proof, variant):
    endpoint_mode = variant
    if endpoint_mode == "vip":  # a VIP is an IPVS service in each container's namespace
        missing = [why for why in (kernel.lacking(h, "ipvs") for h in lab.docker_hosts) if why]
        if missing:
            pytest.skip(f"{missing[0]}; VIP services run on VMs (lab providers vagrant, ssh)")
    net = workspace.overlay()
    service = workspace.service(net, replicas=2, endpoint_mode=endpoint_mode)
    own = service.virtual_ip if endpoint_mode == "vip" else None
    proof.text(
        f"service {service.name} ({endpoint_mode})",
        f"tasks on {net.name}: {', '.join(service.task_addresses)}" + (f"; virtual IP {own}" if own else ""),
    )
    expected = {
        service.name: [own] if endpoint_mode == "vip" else service.task_addresses,
        f"tasks.{service.name}": service.task_addresses,
    }
    settle = workspace.budget(budgets.SETTLE)
    for host in lab.docker_hosts:
        asker = workspace.container(host, net, role="ask")
        for name, addresses in expected.items():
            result, answered, took = settled_lookup(asker, name, lambda found, a=addresses: sorted(found) == a, settle)
            proof.command(f"nslookup {name} from {asker.name} on {host.name} (after {took:.1f} s)", result)
            proof.require(
                sorted(answered) == addresses,
                expected=f"{name} resolves to {', '.join(map(str, addresses))} within {settle:.0f} s",
                observed=", ".join(sorted(answered)) or "no answer",
                where=f"{asker} on {net.name}",
            )
    proof.mechanism("service endpoint mode", service.endpoint_mode)
