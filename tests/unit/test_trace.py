"""Where a packet died, read from traces recorded in the lab (kit/trace.py): `nft monitor trace` of a probe repeated
with Docker's rules broken by hand, on 28.5 (iptables-nft) and on 29.7's nftables backend."""

from __future__ import annotations

import json
from pathlib import Path

from netproof.kit import trace

FIXTURES = Path(__file__).parent / "fixtures"


def recorded_egress() -> trace.Traced:
    """docker1 (28.5) with DOCKER-FORWARD's jump to DOCKER-CT deleted: a container's GET of the outside host."""
    text = (FIXTURES / "nftrace-egress-reply-dropped-28.5.txt").read_text()
    conversation = trace.Conversation("172.17.0.2", "198.51.100.10", 80)
    return trace.Traced(conversation, trace.parse("docker1", text), {"docker1": text}, [])


def recorded_published() -> trace.Traced:
    """docker2 (29.7, nftables) with its bridge's accept for a published port deleted: the outside host's GET."""
    texts = json.loads((FIXTURES / "nftrace-published-request-dropped-29.7-nftables.json").read_text())
    segments = [s for host, text in texts.items() for s in trace.parse(host, text)]
    return trace.Traced(trace.Conversation("198.51.100.10", "10.10.10.102", 32774), segments, texts, [])


def test_a_reply_dropped_by_dockers_rule_is_named_with_its_chain_and_the_rule():
    traced = recorded_egress()
    traced.lacking = {"docker1 ip filter DOCKER-FORWARD": ["jump DOCKER-CT"]}
    assert traced.line() == (
        'dropped at docker1: ip filter DOCKER rule `iifname != "docker0" oifname "docker0" drop` (Docker\'s); '
        "the reply 198.51.100.10:80 -> 172.17.0.2:45274 (in eth0 out docker0); docker1 ip filter DOCKER-FORWARD "
        "lacks `jump DOCKER-CT`, which a healthy peer's has (request seen at docker1; reply seen at docker1)"
    )


def test_the_requests_way_through_the_hosts_and_the_rule_of_docker_29s_own_table():
    line = recorded_published().line()
    assert line.startswith(
        "dropped at docker2: ip docker-bridges filter-forward-in__br-c22bbe5f34cc rule "
        '`drop comment "UNPUBLISHED PORT DROP"` (Docker\'s); the request 198.51.100.10:'
    ), line
    assert line.endswith("(request seen at outside, router, docker2; no reply seen)"), line


def test_netproofs_own_marking_table_says_only_that_a_host_saw_the_packet():
    traced = recorded_published()
    at_router = [s for s in traced.segments if s.host == "router"]
    assert at_router and all(not s.steps for s in at_router)  # the router has no rules but netproof's
    assert all(step.table != trace.TRACE_TABLE for s in traced.segments for step in s.steps)


def test_other_conversations_with_the_same_server_are_not_the_probes():
    text = (FIXTURES / "nftrace-egress-reply-dropped-28.5.txt").read_text()
    stranger = text.replace("172.17.0.2", "172.17.0.9").replace("45274", "51000").replace("trace id ", "trace id x")
    traced = trace.Traced(
        trace.Conversation("172.17.0.2", "198.51.100.10", 80), trace.parse("docker1", text + stranger), {}, []
    )
    assert traced.segments and {s.packet["sport"] for s in traced.ours()} | {
        s.packet["dport"] for s in traced.ours()
    } >= {"45274"}
    assert not any("51000" in (s.packet.get("sport"), s.packet.get("dport")) for s in traced.ours())


def test_whose_rule_it_is():
    def step(family, table, chain, kind="rule", text="drop"):
        return trace.Step(family, table, chain, kind, text, "drop")

    assert trace.owner(step("ip", "filter", "DOCKER-USER")) == "the user's (DOCKER-USER)"
    assert trace.owner(step("ip", "filter", "DOCKER-ISOLATION-STAGE-2")) == "Docker's"
    assert trace.owner(step("ip", "docker-bridges", "filter-FORWARD")) == "Docker's"
    assert trace.owner(step("ip", "filter", "FORWARD", "policy")) == "the chain's policy"
    assert trace.owner(step("ip", "filter", "INPUT", text="udp dport 7946 drop")) == "the host's own, not Docker's"
    assert trace.owner(step("inet", "fw", "input")) == "the host's own table inet fw, not Docker's"


def test_a_chain_compared_with_a_peers_leaves_out_what_differs_by_the_networks_each_host_holds():
    here = ["counter packets 3 bytes 180 jump DOCKER-ISOLATION-STAGE-1", 'iifname "br-0123456789ab" accept']
    peer = [
        "counter packets 0 bytes 0 jump DOCKER-CT",
        "counter packets 9 bytes 540 jump DOCKER-ISOLATION-STAGE-1",
        'iifname "br-ba9876543210" accept',
        'oifname "br-ba9876543210" ip daddr 172.18.0.2 tcp dport 8080 accept',
    ]
    assert trace.lacks(here, peer) == ["jump DOCKER-CT"]


def test_a_probe_that_met_no_drop_says_where_it_was_seen():
    text = (FIXTURES / "nftrace-egress-reply-dropped-28.5.txt").read_text()
    kept = "\n".join(line for line in text.splitlines() if "drop" not in line)
    traced = trace.Traced(
        trace.Conversation("172.17.0.2", "198.51.100.10", 80), trace.parse("docker1", kept), {"docker1": kept}, []
    )
    assert traced.line() == "no rule dropped it on docker1 (request seen at docker1; reply seen at docker1)"


def test_on_a_users_hosts_nothing_is_traced_and_the_line_says_why():
    traced = trace.follow(trace.Conversation("a", "b", 1), [], lambda: None, may_change=False)
    assert traced.line() == "not traced: the hosts are the user's (netproof adds no tracing table to them)"
