"""BR-MULTI-001: a container on two bridge networks leaves by the one its gw-priority names, by the other once that
one is disconnected, and has both back after a stop and start.

Behaviour: a container is started on one bridge network and connected to a second with `--gw-priority 10` (28.0,
moby/moby#48936: the endpoint of the highest priority gives the default gateway). It fetches the outside host's
page three times, each request marked: with both networks, after `docker network disconnect` of the second, and after
it is connected again and the container is stopped and started. Captures on both bridges in the docker host's own
namespace say which one each request crossed: the second, then the first, then the second again.

Mechanism: the container's default route after each step, and its addresses on both networks after the restart.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from netproof.kit import OUTSIDE_HTTP_PORT, check, probes, wire
from netproof.kit.namespaces import NetNamespace

PRIORITY = 10
FIRST, SECOND = "the first network", "the second network (gw-priority 10)"


@check(
    "BR-MULTI-001",
    scope="host",
    tags=("bridge", "multi-network", "routing"),
    since="28.0",
    reference="moby/moby#48936 (28.0): gw-priority",
    promise="a container on two bridge networks leaves by the one with the higher gw-priority, by the other once that "
    "one is disconnected, and has both networks and their addresses back after a stop and start",
)
def test_gateway_priority(docker_host, workspace, proof, outside, evidence_dir):
    first = workspace.bridge(docker_host, role="gwa")
    second = workspace.bridge(docker_host, role="gwb")
    c = workspace.container(docker_host, first, role="gwp")
    joined, _ = workspace.connect(docker_host, second, c.name, gw_priority=PRIORITY)
    proof.command(f"{c.name} joins {second.name} with gw-priority {PRIORITY}", joined)
    proof.require(joined.ok, expected=f"Docker connects {c.name} to {second.name} with --gw-priority {PRIORITY}",
                  observed=joined.stderr.strip(), where=docker_host.name)  # fmt: skip
    host_ns = NetNamespace.of_host(docker_host)
    bridges = {FIRST: f"br-{first.id[:12]}", SECOND: f"br-{second.id[:12]}"}  # stable names, for the mechanism
    captures = {
        name: wire.Capture(host_ns, bridge, f"tcp dst port {OUTSIDE_HTTP_PORT}", evidence_dir / f"{bridge}.pcap", 90)
        for name, bridge in bridges.items()
    }
    steps, routes = [], {}
    with captures[FIRST], captures[SECOND]:
        steps.append(leave(proof, c, outside, "with both networks", SECOND))
        routes["with both networks"] = default_route(proof, c)
        gone = proof.command(f"{c.name} leaves {second.name}",
                             docker_host.run(["docker", "network", "disconnect", second.name, c.name]))  # fmt: skip
        proof.require(gone.ok, expected="Docker disconnects it", observed=gone.stderr.strip(), where=docker_host.name)
        steps.append(leave(proof, c, outside, f"after disconnecting {SECOND}", FIRST))
        routes[f"after disconnecting {SECOND}"] = default_route(proof, c)
        again, _ = workspace.connect(docker_host, second, c.name, gw_priority=PRIORITY)
        proof.command(f"{c.name} joins {second.name} again", again)
        if again.ok:
            for argv in (["docker", "stop", "-t", "0", c.name], ["docker", "start", c.name]):
                docker_host.run(argv, check=True)
            steps.append(leave(proof, c, outside, "after a stop and start", SECOND))
            routes["after a stop and start"] = default_route(proof, c)
    for capture in captures.values():
        proof.pcap(capture.describe(), capture.dest, where=docker_host.name)
    crossed = {
        step.when: [n for n, capture in captures.items() if wire.carrying(capture.dest, step.mark.encode())]
        for step in steps
    }
    proof.data("which bridge each request crossed", crossed, where=docker_host.name)
    networks = docker_host.docker().containers.get(c.name).attrs["NetworkSettings"]["Networks"]
    addressed = sorted(n for n in (first.name, second.name) if (networks.get(n) or {}).get("IPAddress"))
    wrong = [f"{s.when}: {s.fetch}" for s in steps if not s.fetch.through]
    wrong += [f"{s.when}: crossed {', '.join(crossed[s.when]) or 'no bridge'}, not {s.expected}"
              for s in steps if s.fetch.through and crossed[s.when] != [s.expected]]  # fmt: skip
    if not again.ok:
        wrong.append(f"Docker did not connect it to {second.name} again: {again.stderr.strip()}")
    elif len(addressed) != 2:
        wrong.append(f"after a stop and start it has addresses on {', '.join(addressed) or 'no network'} only")
    proof.require(
        not wrong,
        expected=f"it leaves by {second.name} (gw-priority {PRIORITY}), by {first.name} once {second.name} is "
        f"disconnected, by {second.name} again after a stop and start, with both networks' addresses "
        f"({FIRST}: {first.name}, {SECOND}: {second.name})",
        observed="; ".join(wrong),
        where=f"{c.name} on {docker_host.name}",
    )
    named = {first.gateway.split("/")[0]: "<first's gateway>", second.gateway.split("/")[0]: "<second's gateway>"}
    proof.mechanism(
        "the default route after each step",
        {when: " ".join(named.get(w, w) for w in route.split()) for when, route in routes.items()},
    )


@dataclass(frozen=True)
class Step:
    """One marked request out, and the bridge it should cross."""

    when: str
    mark: str
    fetch: probes.Fetch
    expected: str


def leave(proof, container, outside, when: str, expected: str) -> Step:
    mark = f"{container.name}-{secrets.token_hex(3)}"
    fetch = probes.http_get(container.exec, outside.address, OUTSIDE_HTTP_PORT, timeout=3, query=mark)
    proof.command(f"{when}: {container.name} GETs {fetch.url}", fetch.result)
    return Step(when, mark, fetch, expected)


def default_route(proof, container) -> str:
    shown = proof.command(f"{container.name}'s default route", container.exec(["ip", "route", "show", "default"]))
    return " ".join(shown.stdout.split()[:5])  # default via <gateway> dev <interface>
