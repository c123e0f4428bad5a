"""MESH-001: a swarm service's published port answers on every node (the routing mesh), and its virtual IP
answers on its network.

Behaviour: a service of one task, placed on the first docker host, serving a page and published through the
ingress network on a port Docker chooses. Every docker host's underlay address answers on that port, the hosts
that run no task included, to a client outside the swarm (the lab's outside host; on a lab without one, another
docker host). A container on the service's network on another host resolves the service's name to its virtual
IP and fetches the page from it. The mechanism: the ingress network, and the rule of each node's nat table that
sends the port into it (DOCKER-INGRESS), recorded.

Service VIPs and the routing mesh are IPVS in the kernel: where a host's kernel lacks it the check is skipped with
the kernel's own answer (this machine's netns labs, see LAB-NOTES), and runs on VMs.
"""

from __future__ import annotations

import pytest

from netproof.kit import budgets, check, probes, wait


def mesh_rules(host, port: int) -> list[str]:
    """The nat rules of DOCKER-INGRESS for the port on a node (the routing mesh's way in)."""
    listing = host.run(["iptables", "-t", "nat", "-S", "DOCKER-INGRESS"]).stdout.splitlines()
    return [rule for rule in listing if f"--dport {port}" in rule]


@check(
    "MESH-001",
    needs=("overlay", "swarm", "kernel:ipvs"),
    scope="lab",
    tags=("overlay", "swarm", "published"),
    promise="a swarm service's port published through the routing mesh answers on every node's underlay address, "
    "nodes that run none of its tasks included, and its virtual IP answers from a container on its network",
    reference="Docker's docs: use swarm mode routing mesh (docker service create --publish)",
)
def test_routing_mesh(lab, workspace, proof):
    hosts = lab.docker_hosts
    if len(hosts) < 2:
        pytest.skip("the routing mesh needs a node with no task: this lab has one docker host")
    net = workspace.overlay(role="mesh")
    home = hosts[0]
    service = workspace.service(net, replicas=1, serving=True, publish=True, on=home, role="mesh")
    port = service.published_port
    proof.text(
        f"service {service.name}",
        f"one task on {home.name} ({', '.join(service.task_addresses)}), virtual IP {service.virtual_ip}, "
        f"published on port {port} of every node",
    )
    proof.require(
        port is not None and service.virtual_ip is not None,
        expected="a published port and a virtual IP",
        observed=f"published port {port}, virtual IP {service.virtual_ip}",
        where=f"{lab.manager.name}: docker service inspect {service.name}",
    )
    outside = lab.topology.role("outside")
    settle = workspace.budget(budgets.SETTLE)
    silent = []
    for target in hosts:
        client = lab.host(outside.name) if outside else next(h for h in hosts if h is not target)
        fetch, answered = wait.poll(  # every node learns the service from the swarm a moment after it starts
            lambda c=client, t=target: probes.http_get(probes.on_host(c), t.address, port, timeout=2),
            holds=lambda f: f.through,
            timeout=settle,
            interval=0.5,
        )
        runs_task = " (runs the task)" if target is home else " (runs no task)"
        proof.command(f"{client.name} -> {target.name}:{port}{runs_task}", fetch.result)
        proof.data(f"DOCKER-INGRESS rules for {port}", mesh_rules(target, port), where=target.name)
        if not answered:
            silent.append(f"{target.name} {target.address}:{port}{runs_task}: {fetch}")
    proof.require(
        not silent,
        expected=f"port {port} answers on every node within {settle:.0f} s",
        observed="; ".join(silent),
        where=f"the routing mesh of service {service.name}",
    )

    require_the_virtual_ip_answers(proof, workspace, hosts[-1], net, service, settle)
    proof.mechanism("published through", "the ingress network (routing mesh)")
    proof.mechanism("nat rule per node", sorted({r.split(" -j ")[-1].split()[0] for r in mesh_rules(home, port)}))


def require_the_virtual_ip_answers(proof, workspace, host, net, service, settle: float) -> None:
    """From a container on the service's network, its name resolves to its virtual IP, which answers."""
    asker = workspace.container(host, net, role="vipc")
    result, answered, took = probes.settled_lookup(
        lambda argv: asker.exec(argv, timeout=15), service.name, lambda found: found == [service.virtual_ip], settle
    )
    proof.command(f"nslookup {service.name} from {asker.name} (after {took:.1f} s)", result)
    proof.require(
        answered == [service.virtual_ip],
        expected=f"{service.name} resolves to its virtual IP {service.virtual_ip}",
        observed=", ".join(answered) or "no answer",
        where=f"{asker} on {net.name}",
    )
    fetch = probes.http_get(asker.exec, service.virtual_ip, probes.HTTP_PORT, timeout=3)
    proof.command(f"GET the virtual IP from {asker.name}", fetch.result)
    proof.require(
        fetch.through,
        expected=f"the virtual IP {service.virtual_ip} answers on {probes.HTTP_PORT}",
        observed=str(fetch),
        where=f"{asker} on {net.name}",
    )
