"""ICC-001: a bridge with inter-container communication off keeps its containers apart, while a port
one of them publishes still answers the outside host.

The negative half is a window of probes both ways between the two containers (ping and HTTP), with
a capture at each far end, so a packet that gets through one way only still counts. The firewall
rules that name the bridge are the mechanism.
"""

from __future__ import annotations

from netproof.kit import between_containers, check, facts, firewall, probes


@check(
    "ICC-001",
    scope="host",
    tags=("bridge", "isolation", "firewall"),
    promise="containers on a bridge with com.docker.network.bridge.enable_icc=false cannot reach each other, "
    "while their published ports still answer from outside",
)
def test_icc_off(docker_host, workspace, proof, outside, evidence_dir):
    net = workspace.bridge(docker_host, options={facts.ICC_OPTION: "false"}, role="noicc")
    a = workspace.server(docker_host, net, role="a")
    b = workspace.server(docker_host, net, role="b", ports={f"{probes.HTTP_PORT}/tcp": None})
    where = f"{docker_host.name}, bridge {net.name} (enable_icc=false)"

    window = between_containers(a, b, evidence_dir)
    window.require_nothing_through(
        proof, expected="every probe between the two containers stopped, both ways", where=where
    )

    bridge = net.options.get(facts.BRIDGE_NAME_OPTION) or f"br-{net.id[:12]}"
    rules = firewall.rules(docker_host, "filter")
    proof.data(f"firewall of {docker_host.name} (Docker's rules)", rules, where=docker_host.name)
    proof.mechanism("rules naming the bridge", [r.replace(bridge, "<bridge>") for r in rules if bridge in r])

    published = b.host_port(probes.HTTP_PORT)
    proof.require(
        bool(published),
        expected=f"{b.name}'s port {probes.HTTP_PORT} published on a host port",
        observed="no host port",
        where=where,
    )
    fetch = probes.http_get(probes.on_host(outside), docker_host.address, published, timeout=3)
    proof.command(f"{outside.name}: GET http://{docker_host.address}:{published}/", fetch.result)
    proof.require(
        fetch.result.ok and "netproof" in fetch.result.stdout,
        expected=f"{outside.name} reaches {b.name}'s published port on {docker_host.address}:{published}",
        observed=str(fetch),
        where=f"{outside.name} -> {docker_host.name}",
    )
