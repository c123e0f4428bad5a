"""DNS-004, DNS-005, DNS-006: a container's own --dns servers, what the embedded DNS does when they fail, and the
--dns-search and --dns-opt a container is given.

Behaviour: DNS servers of the check's own, each answering one way (kit/dns_agent.py: a name's address, NXDOMAIN,
SERVFAIL, REFUSED, or nothing), run in containers of a user bridge; containers started with `--dns` pointing at them
in a given order ask the embedded DNS (127.0.0.11) for a name from a socket of their own. The answer's response
code is read exactly, and each server's own log says whether the embedded DNS asked it, and when.

DNS-004: a server that answers SERVFAIL or REFUSED, or nothing within 4 s, is passed over for the next
(docker/libnetwork#2121 for SERVFAIL, #2171 for REFUSED). DNS-005: an NXDOMAIN is an answer, passed on to the
container and no other server asked (moby/moby#45565, in 24.0.1). Before, the embedded DNS asked the next server
after an NXDOMAIN that was not authoritative, which a forwarding resolver's never is: a name one upstream does not
know was looked up on the next.

DNS-006: a container started with --dns-search and --dns-opt gets them in its resolv.conf, as given, and its own
resolver acts on the search domain: a short name is looked up there, as the server's log shows. What the options
do is the container's resolver library's (busybox's nslookup ignores ndots: seen here, it asked for a dotted name
as it is and never in the search domain), so of them the check requires only that Docker wrote them.

Mechanism: the container's resolv.conf (Docker's embedded DNS, and the servers it forwards to as Docker writes them).
"""

from __future__ import annotations

import re

from netproof.kit import check, facts, probes, upstreams

ZONE = "upstream.test"
NAME = f"service.{ZONE}"  # a name only the check's own servers know
ADDRESS = "192.0.2.44"  # its address (TEST-NET-1): an answer, never a destination
ASK_TIMEOUT = 3 * facts.EXTERNAL_DNS_TIMEOUT  # room for one server's silence and the next one's answer


@check(
    "DNS-004",
    scope="host",
    tags=("bridge", "dns"),
    reference="docker/libnetwork#2121 (on SERVFAIL), docker/libnetwork#2171 (on REFUSED)",
    promise="the embedded DNS asks a container's --dns servers in order, moving on to the next when one answers "
    "SERVFAIL or REFUSED or does not answer, and the container gets the next one's answer",
)
def test_upstream_failover(docker_host, workspace, proof):
    net = workspace.bridge(docker_host, role="dns")
    answering = workspace.dns_upstream(docker_host, net, "answer", {NAME: ADDRESS})
    failing = {mode: workspace.dns_upstream(docker_host, net, mode) for mode in ("servfail", "refused", "silent")}
    orders = {
        "SERVFAIL, then REFUSED": [failing["servfail"], failing["refused"], answering],
        f"no answer in {facts.EXTERNAL_DNS_TIMEOUT:.0f} s": [failing["silent"], answering],
    }
    for after, servers in orders.items():
        asker = ask_through(proof, workspace, docker_host, net, servers)
        answer, got = ask(proof, asker, servers)
        proof.require(
            answer.rcode == "NOERROR" and answer.addresses == (ADDRESS,),
            expected=f"{NAME} resolves to {ADDRESS}: the embedded DNS asks the next server after {after}",
            observed=f"{answer}; {said(got)}",
            where=f"{asker} on {net.name}, --dns {' '.join(s.address for s in servers)}",
        )
        firsts = [min(q.at for q in got[s]) if got[s] else None for s in servers]
        proof.require(
            None not in firsts and firsts == sorted(firsts),
            expected="every server asked, in the order given, up to the one that answered",
            observed=said(got),
            where=f"{asker} on {net.name}",
        )


@check(
    "DNS-005",
    scope="host",
    tags=("bridge", "dns"),
    since="24.0.1",
    reference="moby/moby#45565, in 24.0.1 by #45573: an upstream's answer is passed on as it is",
    promise="an NXDOMAIN from a container's first --dns server is the container's answer: the embedded DNS does not "
    "ask the next server",
)
def test_nxdomain_is_an_answer(docker_host, workspace, proof):
    net = workspace.bridge(docker_host, role="dns")
    denying = workspace.dns_upstream(docker_host, net, "nxdomain")
    answering = workspace.dns_upstream(docker_host, net, "answer", {NAME: ADDRESS})
    servers = [denying, answering]
    asker = ask_through(proof, workspace, docker_host, net, servers)
    answer, got = ask(proof, asker, servers)
    where = f"{asker} on {net.name}, --dns {denying.address} --dns {answering.address}"
    proof.require(
        bool(got[denying]),
        expected=f"the first server, {denying}, asked for {NAME}",
        observed=said(got),
        where=where,
    )
    proof.require(
        answer.rcode == "NXDOMAIN" and not got[answering],
        expected=f"{NAME} answered NXDOMAIN, as the first server said, and the second server not asked",
        observed=f"{answer}; {said(got)}",
        where=where,
    )


@check(
    "DNS-006",
    scope="host",
    tags=("bridge", "dns"),
    reference="docker run --dns-search, --dns-opt (docs.docker.com/engine/network/#dns-services)",
    promise="a container's --dns-search domains are its resolver's search list, so a short name resolves in them, and "
    "its --dns-opt options are written into its resolv.conf as given",
)
def test_search_domains_and_options(docker_host, workspace, proof):
    net = workspace.bridge(docker_host, role="dns")
    server = workspace.dns_upstream(docker_host, net, "answer", {NAME: ADDRESS})
    asker = workspace.container(
        docker_host, net, role="ask", dns=[server.address], dns_search=[ZONE], dns_opt=["ndots:2", "timeout:3"]
    )
    resolv = proof.command(f"{asker.name}: /etc/resolv.conf", asker.exec(["cat", "/etc/resolv.conf"]))
    said = [line.strip() for line in resolv.stdout.splitlines() if line.startswith(("search", "options"))]
    proof.mechanism("resolver of a container given --dns-search and --dns-opt", said)
    where = f"{asker} on {net.name}, --dns-search {ZONE} --dns-opt ndots:2 --dns-opt timeout:3"
    result, answered = probes.nslookup(asker.exec, "service")
    proof.command(f"nslookup service in {asker.name}", result)
    asked = [q.name for q in server.queries() if q.qtype == "A"]
    proof.text(f"what {server} was asked", ", ".join(asked) or "nothing")
    proof.require(
        answered == [ADDRESS] and NAME in asked,
        expected=f"service resolves to {ADDRESS} as {NAME}, in the search domain",
        observed=f"{', '.join(answered) or 'no answer'}; the server was asked {', '.join(asked) or 'nothing'}",
        where=where,
    )
    proof.require(
        any(line.startswith("search") and ZONE in line for line in said)
        and any("ndots:2" in line and "timeout:3" in line for line in said),
        expected=f"resolv.conf says search {ZONE} and options ndots:2 timeout:3",
        observed="; ".join(said) or "neither",
        where=where,
    )


def ask_through(proof, workspace, host, net, servers):
    """A container on the network whose --dns servers are these, in this order; its resolv.conf recorded, each
    server's address said by the way it answers (the same on every run, to compare engines by)."""
    asker = workspace.container(host, net, role="ask", dns=[s.address for s in servers])
    resolv = proof.command(f"{asker.name}: /etc/resolv.conf", asker.exec(["cat", "/etc/resolv.conf"]))
    said = [line.strip() for line in resolv.stdout.splitlines()]
    lines = [line for line in said if line and (not line.startswith("#") or line.startswith("# ExtServers"))]
    for server in servers:
        lines = [re.sub(rf"\b{re.escape(server.address)}\b", f"<{server.mode}>", line) for line in lines]
    proof.mechanism(f"resolver of a container asking {' then '.join(s.mode for s in servers)}", lines)
    return asker


def ask(proof, asker, servers):
    """The asker's question to its embedded DNS; its answer, and what each server was asked because of it (a server
    may serve several askers: what it had been asked before is not counted)."""
    before = {s: len(s.queries(NAME)) for s in servers}
    result, answer = upstreams.ask(asker, NAME, ASK_TIMEOUT)
    got = {s: s.queries(NAME)[before[s] :] for s in servers}
    proof.command(f"A {NAME}? to {facts.EMBEDDED_DNS} from {asker.name}: {answer}", result)
    proof.text(f"what {asker.name}'s servers were asked", said(got))
    return answer, got


def said(got) -> str:
    return "; ".join(f"{s}: {', '.join(map(str, queries)) or 'not asked'}" for s, queries in got.items())
