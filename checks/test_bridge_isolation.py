"""BR-ISO-001: containers on two user-defined bridges of one host cannot reach each other.

A negative check: a window of probes both ways between a container on each bridge, with a capture at each far
end, must let nothing through; a third container, on the first bridge, reaching the first shows the probes can
get through where Docker allows it. The firewall rules that name the two bridges are the mechanism.
"""

from netproof.kit import between_containers, check, firewall, probes


@check(
    "BR-ISO-001",
    scope="host",
    tags=("bridge", "isolation", "firewall"),
    promise="containers on two different user-defined bridge networks of one host cannot reach each other",
    reference="Docker's docs: bridge network driver (containers on different bridge networks cannot communicate)",
)
def test_bridges_are_isolated(docker_host, workspace, proof, evidence_dir):
    one, two = workspace.bridge(docker_host, role="iso1"), workspace.bridge(docker_host, role="iso2")
    a = workspace.server(docker_host, one, role="a")
    b = workspace.server(docker_host, two, role="b")
    where = f"{docker_host.name}, bridges {one.name} and {two.name}"

    control = probes.http_get(workspace.container(docker_host, one, role="c").exec, a.ip, probes.HTTP_PORT)
    proof.command(f"the control: GET {a.ip} from {one.name} itself", control.result)
    proof.require(control.through, expected=f"{a} answers on its own bridge", observed=str(control), where=where)

    window = between_containers(a, b, evidence_dir)
    window.require_nothing_through(
        proof, expected="every probe between the two bridges stopped, both ways", where=where
    )

    bridges = [f"br-{net.id[:12]}" for net in (one, two)]
    rules = firewall.rules(docker_host, "filter")
    proof.data(f"firewall of {docker_host.name} (Docker's rules)", rules, where=docker_host.name)
    proof.mechanism("rules naming the bridges", sorted({r for r in rules if any(br in r for br in bridges)}))
