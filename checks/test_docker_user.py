"""FW-USER-001, FW-USER-002: where users filter what reaches containers, DOCKER-USER and a table of their own.

Behaviour: a container's published port answers the outside host; a DROP inserted at the head of
DOCKER-USER for the outside host's address to that port stops it (every probe of a window), still
after Docker creates another network (Docker does not reorder the user's chain); deleting the rule
restores the service. A DROP appended to DOCKER-USER is recorded, not required: before 28.2.2 the
chain ended with a RETURN that an appended rule sits behind (moby/moby#50098), so which of the two
works is an engine's fact for the upgrade diff. The chain as seen is the mechanism.

FW-USER-002: the same DROP in an nftables table of the user's own, in a chain hooked at forward just before
the filter priority: where users filter with Docker 29's nftables backend, which has no DOCKER-USER (Docker's
docs: migrating from iptables to nftables), and beside Docker's iptables-nft rules too. Docker must leave the
table alone when it creates networks.

FW-OTHER-001: a DROP another tool appends to FORWARD (as a host firewall or a VM manager adds its policy after
Docker started), here for everything to and from the check's own network, stops neither the published port nor the
container's way out: Docker's jumps head FORWARD and accept its traffic before an appended rule is reached. The
appended rules' counters (nothing of the check's reached them) and FORWARD's head are the mechanism. The nftables
backend does not promise it: another table's drop is final there (Docker's docs: Docker with nftables).

FW-MARK-001: with bridge-accept-fwmark in its daemon settings (29.0, moby/moby#50476: the way for a user's own
nftables table to overrule Docker's forward filter, which an accept elsewhere cannot), a packet the user marks so
passes it: a container on another bridge network, kept by Docker's forward filter from an unpublished port on a
routed network (gateway mode routed: no raw drop of what is sent to a container's own address, which the mark does
not pass), reaches it once a table of the user's, hooked at forward before Docker's filtering, marks its
connection's packets; unmarked, every probe is stopped. Docker's accept for the mark is the mechanism. Runs where a
host's daemon says so (labs/nftables.yml's docker2).
"""

from __future__ import annotations

import re
from contextlib import contextmanager

from netproof.kit import (
    OUTSIDE_HTTP_PORT,
    LabBroken,
    Window,
    check,
    defects,
    facts,
    firewall,
    host_clock,
    networks_created,
    probes,
    trace,
)


@contextmanager
def user_rule(proof, docker_host, how: str, rule: list[str]):
    """A rule in DOCKER-USER (-I: at its head, -A: at its end), deleted however the check ends."""
    added = proof.command(
        f"iptables {how} {facts.DOCKER_USER} {' '.join(rule)}",
        docker_host.run(["iptables", how, facts.DOCKER_USER, *rule]),
    )
    try:
        yield added.ok
    finally:
        docker_host.run(["iptables", "-D", facts.DOCKER_USER, *rule])


def begins_with_user_jump(forward: list[str]) -> bool:
    """FORWARD as `iptables -S` lists it (its policy first) begins with the jump to DOCKER-USER."""
    return len(forward) > 1 and forward[1] == f"-A FORWARD -j {facts.DOCKER_USER}"


def fetches(outside, docker_host, port: int, tries: int = 2) -> list[probes.Fetch]:
    """Probes the DROP must stop: each given a second, as a window's probes are."""
    return [probes.http_get(probes.on_host(outside), docker_host.address, port, timeout=1) for _ in range(tries)]


def answers(outside, docker_host, port: int) -> probes.Fetch:
    """A probe that must get through: given 3 s, as in the other checks' positive probes, so that a first SYN
    lost on a loaded host is sent again (TCP's first retransmission is after 1 s; seen in CI on 20.10)."""
    return probes.http_get(probes.on_host(outside), docker_host.address, port, timeout=3)


def published_and_answering(docker_host, workspace, proof, outside) -> tuple:
    """A server on a user bridge with its port published, answering the outside host before any rule:
    (its network, the host port, where the probes go)."""
    net = workspace.bridge(docker_host, role="usr")
    c = workspace.server(docker_host, net, ports={f"{probes.HTTP_PORT}/tcp": None})
    port = c.host_port(probes.HTTP_PORT)
    where = f"{outside.name} -> {docker_host.name}:{port} ({c.name})"
    proof.require(port is not None, expected=f"{c.name}'s port published", observed="no host port", where=where)
    before = answers(outside, docker_host, port)
    proof.command("before any rule", before.result)
    proof.require(before.result.ok, expected="the published port answers", observed=str(before), where=where)
    return net, port, where


@check(
    "FW-USER-001",
    needs=("iptables",),
    scope="host",
    tags=("bridge", "firewall"),
    promise="a DROP the user inserts in DOCKER-USER stops traffic to a published port, survives Docker creating "
    "networks, and removing it restores the service",
)
def test_docker_user(docker_host, workspace, proof, outside):
    # From here on, other networks Docker creates on the host can disturb FORWARD (moby/moby#43585).
    since = host_clock(docker_host)
    net, port, where = published_and_answering(docker_host, workspace, proof, outside)

    rule = ["-s", outside.address, "-p", "tcp", "-m", "conntrack", "--ctorigdstport", str(port), "-j", "DROP"]
    with user_rule(proof, docker_host, "-I", rule) as added:
        proof.require(added, expected="the rule is accepted", observed="iptables refused it", where=docker_host.name)
        stopped = fetches(outside, docker_host, port)
        forward = docker_host.infra.iptables.rules("filter", "FORWARD")
        proof.data("FORWARD during the first probes", forward, where=docker_host.name)
        if not begins_with_user_jump(forward):  # what may have taken the jump away is looked for now
            proof.symptom(defects.USER_JUMP_MISSING, on=docker_host)
        created = workspace.bridge(docker_host, role="new")  # Docker rewrites its chains: the user's must stay
        chain = docker_host.infra.iptables.rules("filter", facts.DOCKER_USER)
        proof.data(f"{facts.DOCKER_USER} after another network was created", chain, where=docker_host.name)
        stopped += fetches(outside, docker_host, port)
        through = [str(f) for f in stopped if f.through]
        proof.text("probes with the DROP inserted", "\n".join(str(f) for f in stopped))
        if through:  # FORWARD as the later probes met it: creating a network rewrites it on engines before 28.0
            later = proof.data(
                "FORWARD after the later probes",
                docker_host.infra.iptables.rules("filter", "FORWARD"),
                where=docker_host.name,
            )
            for when, rules in (("during the first probes", forward), ("after the later probes", later)):
                if not begins_with_user_jump(rules):
                    proof.symptom(defects.USER_JUMP_MISSING)
                    first_rule = rules[1] if len(rules) > 1 else "(none)"  # rules[0] is the policy
                    through.append(f"FORWARD {when} began with {first_rule!r}, not the jump to {facts.DOCKER_USER}")
        if through:  # were other checks creating networks on this host meanwhile (moby/moby#43585)?
            mine = {net.name, created.name}
            others = [n for n in networks_created(docker_host, since, host_clock(docker_host)) if n not in mine]
            proof.text("networks created on the host meanwhile", "\n".join(others) or "none", where=docker_host.name)
            if others:
                proof.symptom(defects.BYPASSED_WHILE_CREATING)
                through.append(f"while Docker created {len(others)} other network(s) on {docker_host.name}")
        proof.require(
            not through,
            expected="every probe stopped by the inserted DROP, before and after Docker created a network",
            observed="got through: " + "; ".join(through),
            where=where,
        )
        first = chain[1] if len(chain) > 1 else ""
        proof.require(
            "DROP" in first and outside.address in first,
            expected=f"the user's DROP still first in {facts.DOCKER_USER}",
            observed="\n".join(chain),
            where=docker_host.name,
        )
    after = answers(outside, docker_host, port)
    proof.command("after the rule was deleted", after.result)
    proof.require(after.result.ok, expected="the service answers again", observed=str(after), where=where)

    with user_rule(proof, docker_host, "-A", rule):
        appended = fetches(outside, docker_host, port)
        chain = docker_host.infra.iptables.rules("filter", facts.DOCKER_USER)
    proof.data(f"{facts.DOCKER_USER} with the DROP appended", chain, where=docker_host.name)
    proof.mechanism(f"{facts.DOCKER_USER} chain as Docker leaves it", [r for r in chain if outside.address not in r])
    proof.mechanism("an appended DROP is honoured", not any(f.through for f in appended))


@contextmanager
def user_table(proof, docker_host, name: str, rule: str):
    """The user's own nftables table with a chain at the forward hook just before the filter priority (Docker's
    forward filtering, iptables-nft's or its nftables table's, comes after), holding `rule`; deleted however the
    check ends."""
    commands = [
        f"add table ip {name}",
        f"add chain ip {name} forward {{ type filter hook forward priority -1; policy accept; }}",
        f"add rule ip {name} forward {rule}",
    ]
    added = [proof.command(f"nft {c}", docker_host.run(["nft", c])) for c in commands]
    try:
        yield all(a.ok for a in added)
    finally:
        docker_host.run(["nft", "delete", "table", "ip", name])


@check(
    "FW-USER-002",
    scope="host",
    tags=("bridge", "firewall", "nftables"),
    promise="a DROP the user puts in an nftables table of their own, hooked at forward before Docker's filtering, "
    "stops traffic to a published port, survives Docker creating networks, and removing it restores the service",
)
def test_user_nftables_table(docker_host, workspace, proof, outside):
    # Where users filter with nftables; the place Docker's docs give them with its nftables backend (which has no
    # DOCKER-USER, FW-USER-001), and one that works beside its iptables rules (iptables-nft) as well.
    if not docker_host.run(["nft", "--version"]).ok:
        raise LabBroken(f"{docker_host.name} has no nft tool: apt-get install nftables")
    net, port, where = published_and_answering(docker_host, workspace, proof, outside)

    table = workspace.unique("fw").replace("-", "_")
    rule = f"ip saddr {outside.address} meta l4proto tcp ct original proto-dst {port} drop"
    with user_table(proof, docker_host, table, rule) as added:
        proof.require(added, expected="nft accepts the user's table", observed="nft refused it", where=docker_host.name)
        stopped = fetches(outside, docker_host, port)
        workspace.bridge(docker_host, role="new")  # Docker rewrites its own rules: the user's table must stay
        stopped += fetches(outside, docker_host, port)
        listed = docker_host.run(["nft", "-s", "list", "table", "ip", table])
        proof.command(f"the user's table after Docker created a network [{docker_host.name}]", listed)
        through = [str(f) for f in stopped if f.through]
        proof.text("probes with the user's DROP", "\n".join(str(f) for f in stopped))
        kept = listed.ok and outside.address in listed.stdout and f"ct original proto-dst {port} drop" in listed.stdout
        if through and not kept:
            through.append(f"the user's table {table} was gone or changed after Docker created a network")
        proof.require(
            not through,
            expected="every probe stopped by the DROP in the user's table, before and after Docker created a network",
            observed="got through: " + "; ".join(through),
            where=where,
        )
        proof.require(
            kept,
            expected=f"the user's table {table} as the user left it",
            observed=listed.stdout.strip() or listed.stderr.strip(),
            where=docker_host.name,
        )
        proof.mechanism(
            "the user's chain",
            [
                line.strip().replace(str(port), "<port>").replace(outside.address, "<outside>")
                for line in listed.stdout.splitlines()
                if line.strip() and not line.strip().startswith(("table", "chain", "}"))
            ],
        )
    after = answers(outside, docker_host, port)
    proof.command("after the table was deleted", after.result)
    proof.require(after.result.ok, expected="the service answers again", observed=str(after), where=where)


@contextmanager
def appended_to_forward(proof, docker_host, rules: list[list[str]]):
    """Rules appended to FORWARD, as another tool adds them after Docker started; deleted however the check ends."""
    added = [proof.command(f"iptables -A FORWARD {' '.join(r)}", docker_host.run(["iptables", "-A", "FORWARD", *r]))
             for r in rules]  # fmt: skip
    try:
        yield all(a.ok for a in added)
    finally:
        for rule in rules:
            docker_host.run(["iptables", "-D", "FORWARD", *rule])


@check(
    "FW-OTHER-001",
    needs=("iptables",),
    scope="host",
    tags=("bridge", "firewall", "published-ports"),
    reference="Docker's docs, Docker with iptables: Docker's jumps head FORWARD (DOCKER-USER, then DOCKER-FORWARD)",
    promise="a DROP another tool appends to FORWARD stops neither a published port nor its container's way out: "
    "Docker's rules come first",
)
def test_a_drop_appended_to_forward(docker_host, workspace, proof, outside, packet_trace):
    net, port, where = published_and_answering(docker_host, workspace, proof, outside)
    client = workspace.container(docker_host, net, role="out")
    drops = [["-d", net.subnet, "-j", "DROP"], ["-s", net.subnet, "-j", "DROP"]]
    with appended_to_forward(proof, docker_host, drops) as added:
        proof.require(added, expected="iptables appends both", observed="it refused", where=docker_host.name)
        inward = answers(outside, docker_host, port)
        proof.command(f"{outside.name} GETs the published port", inward.result)
        if not inward.through:
            conversation = trace.Conversation(outside.address, docker_host.address, port)
            packet_trace.why_lost(conversation, [outside, docker_host], lambda: answers(outside, docker_host, port))
        outward = probes.http_get(client.exec, outside.address, OUTSIDE_HTTP_PORT, timeout=3)
        proof.command(f"{client.name} GETs the outside host's page", outward.result)
        listed = docker_host.run(["iptables", "-S", "FORWARD", "-v"])
    proof.command(f"FORWARD with the appended DROPs [{docker_host.name}]", listed)
    reached = [r for r in listed.stdout.splitlines() if net.subnet in r]
    wrong = [f"{what}: {fetch}" for what, fetch in (("the published port", inward), ("the way out", outward))
             if not fetch.through]  # fmt: skip
    proof.require(
        not wrong,
        expected=f"the published port answers {outside.name} and {client.name} reaches it, with DROPs for "
        f"{net.subnet} appended to FORWARD",
        observed="; ".join(wrong),
        where=where,
    )
    head = [re.sub(r" -c \d+ \d+", "", r) for r in listed.stdout.splitlines() if r.startswith("-A FORWARD")][:2]
    proof.mechanism("FORWARD's head, ahead of what others append", head)
    proof.mechanism("packets of the check's network that reached the appended DROPs",
                    sum(int(r.split(" -c ")[1].split()[0]) for r in reached if " -c " in r))  # fmt: skip


@check(
    "FW-MARK-001",
    needs=("daemon:bridge-accept-fwmark",),
    scope="host",
    tags=("bridge", "firewall", "isolation"),
    since="29.0",
    reference="moby/moby#50476 (29.0): the daemon's bridge-accept-fwmark",
    promise="with bridge-accept-fwmark in its daemon settings, a packet the user marks so passes Docker's forward "
    "filter: a container on another network reaches an unpublished port of a routed network it is otherwise kept from",
)
def test_the_accept_mark(docker_host, workspace, proof, packet_trace):
    mark = str(docker_host.spec.daemon["bridge-accept-fwmark"]).split("/")[0]  # <mark>[/<mask>]: the mark matches
    routed = workspace.bridge(docker_host, role="mks", options={facts.GATEWAY_MODE_IPV4: "routed"})  # no raw drops
    server = workspace.server(docker_host, routed, role="mks")
    client = workspace.container(docker_host, workspace.bridge(docker_host, role="mkc"), role="mkc")
    where = f"{client.name} -> {server.ip}:{probes.HTTP_PORT} (another network, unpublished)"
    window = Window(f"{client.name} to an unpublished port on another network, unmarked")
    window.http(client.exec, server.ip, probes.HTTP_PORT, tries=2)
    window.require_nothing_through(proof, expected="no connection: Docker keeps networks apart", where=where)
    table = workspace.unique("mk").replace("-", "_")
    rule = f"ip saddr {client.ip} ip daddr {server.ip} tcp dport {probes.HTTP_PORT} meta mark set {mark}"
    with user_table(proof, docker_host, table, rule) as added:
        proof.require(added, expected="nft accepts the user's table", observed="nft refused it", where=docker_host.name)
        marked = probes.http_get(client.exec, server.ip, probes.HTTP_PORT, timeout=3)
        proof.command(f"{client.name} GETs it, its packets marked {mark}", marked.result)
        if not marked.through:
            again = lambda: probes.http_get(client.exec, server.ip, probes.HTTP_PORT, timeout=3)  # noqa: E731
            packet_trace.why_lost(trace.Conversation(client.ip, server.ip, probes.HTTP_PORT), [docker_host], again)
    accepting = [r for r in firewall.rules(docker_host, "filter") if "mark" in r and "accept" in r.lower()]
    proof.data(f"{docker_host.name}'s filter rules accepting a mark", accepting, where=docker_host.name)
    proof.require(
        marked.through,
        expected=f"the packets marked {mark} pass Docker's forward filter to the unpublished port",
        observed=f"{marked}" + ("" if accepting else f"; no accept of mark {mark} in {docker_host.name}'s filter"),
        where=where,
    )
    on_bridges = {r for r in accepting if "docker0" not in r}  # each bridge's, one line for them all
    proof.mechanism("Docker's accept for the mark (the topology's) on a bridge network", sorted(on_bridges))
