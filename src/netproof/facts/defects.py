"""Known Docker defects, as data: what each is, where it lives, and the symptoms that point to it.

A symptom is a tag, never a sentence: a check records one where it sees it (`proof.symptom(...)`), the kit
records one where Docker answers a request so (`EngineError(symptoms=...)`), and Docker's or a tool's own words
are read into tags here (`symptoms_in`), from what Docker and the tools printed, never from netproof's prose.
Rewording a check's message changes no verdict.

A failure is put down to a defect only when it shows one of the defect's symptoms and the defect's mechanism is
found on a host the check used at that moment (`netproof.kit.known_defects`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

# Symptoms: what was seen, in netproof's vocabulary.
KV_STORE_UNREACHABLE = "kv-store-unreachable"  # dockerd could not talk to its key-value store
NETWORK_NOT_FOUND = "network-not-found"  # Docker did not find a network it has
NO_ADDRESS = "container-without-address"  # a container started on a network with no IP address on it
REMOTE_NAME_UNKNOWN = "remote-name-unknown"  # a remote container's name never reached the embedded DNS
ACTIVE_ENDPOINTS = "network-has-active-endpoints"  # a network Docker will not remove for endpoints long gone
USER_JUMP_MISSING = "docker-user-jump-missing"  # FORWARD did not begin with its jump to DOCKER-USER
BYPASSED_WHILE_CREATING = "bypassed-while-networks-created"  # a user's rule bypassed while Docker created networks
FLOWS_PAUSED_AT_START = "flows-paused-while-dockerd-started"  # running containers' flows paused as dockerd started
UDP_THROUGH_PROXY = "udp-delivered-through-the-proxy"  # a published udp port's datagrams reached the container from
# docker-proxy (the bridge's gateway as their source), not by DNAT with the client's own address
EXTERNAL_NAMES_LOST = "external-names-lost-after-restart"  # a container the old engine made, restarted by the new,
# gets no answer for names outside Docker from its embedded DNS
OTHER_NETWORKS_CUT = "published-port-cut-from-other-networks"  # a container on another network got no answer from
# a port published on the host's address, where every other place did

# Docker's and the tools' own words, and the symptom each shows.
WORDS = (
    (re.compile(r"network is unreachable|etcd cluster is unavailable|from store"), KV_STORE_UNREACHABLE),
    (re.compile(r"network \S+ not found"), NETWORK_NOT_FOUND),
    (re.compile(r"has active endpoints"), ACTIVE_ENDPOINTS),
    # busybox ping of a name the embedded DNS does not know; nslookup's answer once the name was sent on to the
    # lab's DNS server, which refuses what is not its own zone.
    (re.compile(r"bad address|server can't find \S+: REFUSED"), REMOTE_NAME_UNKNOWN),
)


def symptoms_in(words: str | Iterable[str]) -> frozenset[str]:
    """The symptoms Docker's or a tool's own words show."""
    texts = [words] if isinstance(words, str) else list(words)
    return frozenset(tag for pattern, tag in WORDS for text in texts if pattern.search(text))


@dataclass(frozen=True)
class KnownDefect:
    reference: str  # the moby issue or PR
    summary: str
    symptoms: frozenset[str]  # any of these points to it
    mechanism: str  # what is looked for on the check's hosts to confirm it (kit/known_defects.py)
    lacking: str  # said when a symptom shows without the mechanism
    control_planes: tuple[str, ...] = ("swarm", "kv", "none")  # where the defect lives
    fixed_in: str | None = None  # the first release without it
    since: str | None = None  # the first release netproof saw it on, where older ones were seen without it
    reproduced_by: tuple[str, ...] = ()  # the checks (or continuity promises) that met it on netproof's labs
    workaround: str = ""
    needs_setting: str = ""  # a daemon.json setting without which it cannot strike (live-restore), if any
    # Where netproof itself met it and where its reproducing checks ran without meeting it (full engine versions,
    # from runs on its own labs): the range above as observed, not only as declared.
    observed_on: tuple[str, ...] = ()
    clear_on: tuple[str, ...] = ()

    @property
    def versions(self) -> str:
        """The engines it affects, in words: from the release it was first seen on to the one that fixed it."""
        start = f"{self.since} and later" if self.since else "every release netproof runs"
        return f"{start}, until {self.fixed_in}" if self.fixed_in else f"{start} (not fixed)"

    def affects(self, version: str) -> bool:
        from netproof.facts.versions import at_least

        return not (self.fixed_in and at_least(version, self.fixed_in)) and not (
            self.since and not at_least(version, self.since)
        )

    def to_dict(self) -> dict:
        return {
            "reference": self.reference,
            "summary": self.summary,
            "symptoms": sorted(self.symptoms),
            "mechanism": self.mechanism,
            "control_planes": list(self.control_planes),
            "fixed_in": self.fixed_in,
            "since": self.since,
            "reproduced_by": list(self.reproduced_by),
            "workaround": self.workaround,
            "needs_setting": self.needs_setting,
            "observed_on": list(self.observed_on),
            "clear_on": list(self.clear_on),
        }


KNOWN_DEFECTS = (
    KnownDefect(
        "moby/libnetwork#1838",
        "with the key-value store control plane, the overlay driver leaves daemon threads in overlay namespaces; "
        "work scheduled on them (talking to the store, allocating addresses, running iptables) fails",
        # The store unreachable from a stuck thread shows as any of these, as seen in this lab: the dial itself, a
        # read that comes back empty (a network not found, by ID, or by name when a container is started on it; no
        # address allocated), and a remote container's name never reaching the embedded DNS. See also
        # moby/libnetwork#646: "whenever libnetwork perceives that the cluster-store is unreachable ... things fall
        # apart". And iptables run from a stuck thread acts in that namespace: after a bridge is created the jump to
        # DOCKER-USER is not put back at FORWARD's head, so the user's rules are bypassed (FW-USER-001). And a
        # container removed from a stuck thread leaves its overlay's endpoint count in the store undecremented: the
        # network can then never be removed (seen in CI removing the footprint's internal overlay).
        frozenset(
            {KV_STORE_UNREACHABLE, NETWORK_NOT_FOUND, NO_ADDRESS, REMOTE_NAME_UNKNOWN, USER_JUMP_MISSING}
            | {ACTIVE_ENDPOINTS}
        ),
        "stuck-threads",
        "no dockerd thread stuck in another network namespace on the check's hosts",
        # A swarm's dockerd has threads in other namespaces too, for a moment, as it sets a load balancer's up (seen
        # in CI on 28.5: one in lb_<network>): the stuck threads of the kv store's overlay driver only count where
        # that driver runs.
        control_planes=("kv",),
        fixed_in="23.0",  # not fixed: the key-value store control plane was removed in 23.0
        workaround="move to swarm: the key-value store control plane was removed in Docker 23.0",
        reproduced_by=("OVL-VXLAN-001", "FW-USER-001"),
    ),
    KnownDefect(
        "moby/moby#43585",
        "before 28.0, Docker rearranges FORWARD for each network it creates, deleting its jumps (to DOCKER-USER, and "
        "to DOCKER-ISOLATION-STAGE-1: ensureJumpRule, moby/libnetwork#1658) and inserting them again at the top, and "
        "does not order two creations against each other: while networks are created, and after two were created at "
        "once, a jump can be missing or below a bridge's own rules, and what arrives then bypasses the user's rules "
        "or the isolation of one bridge from another",
        # The jump found missing with no network created meanwhile is not this defect's doing (but may be the kv
        # store's, moby/libnetwork#1838): FW-USER-001 says when networks were created while its probes got through.
        frozenset({BYPASSED_WHILE_CREATING}),
        "reinserts-user-jump",
        "the check's hosts run Docker 28.0 or later, which leaves the jump in place",
        fixed_in="28.0",  # 28.0 leaves the jump in place (moby/moby#49538)
        workaround="upgrade to 28.0 or later; before that, create no networks while the user's rules must hold",
        reproduced_by=("FW-USER-001", "BR-ISO-001"),
    ),
    KnownDefect(
        "moby/moby#34660",
        "with live-restore, a starting dockerd deletes its iptables chains and builds them again rule by rule while "
        "the containers it restores keep running: until their rules are back, their traffic meets FORWARD's DROP "
        "policy (reported on 17.03 and open; the pause grows with the number of containers and ports)",
        frozenset({FLOWS_PAUSED_AT_START}),
        "forward-policy-counted",  # seen by the continuity scenario itself, before and after the restart
        "FORWARD's DROP policy counted no packet while dockerd started",
        # On this lab (two containers, two published ports): 20.10 and 26.1 kept every flow without a gap (they
        # add what is missing); 28.5 and 29.7 delete DOCKER-FORWARD's rules, DOCKER-CT, DOCKER-BRIDGE, the
        # isolation chains and nat's DOCKER on start and make them again: every flow paused about 0.45 s.
        since="28.0",
        workaround="none in Docker: keep restarts of dockerd short and rare on hosts whose connections must not pause",
        reproduced_by=("CONT-LIVE-001",),
        needs_setting="live-restore",
    ),
    KnownDefect(
        "moby/moby#51614",
        "29.1.0 takes the /etc/resolv.conf of a container an earlier engine made for one the user modified (the "
        "digest it keeps beside the file is out of date), and on the container's next start gives its embedded DNS "
        "no servers to forward to: names outside Docker get SERVFAIL on every custom network, while containers' "
        "names still resolve",
        frozenset({EXTERNAL_NAMES_LOST}),
        "resolv-conf-digest-stale",  # read on the host: the file's digest against resolv.conf.hash
        "no container on the host has a resolv.conf that differs from the digest Docker kept of it",
        # Brought by moby/moby#51507 (29.1.0), reverted by moby/moby#51615 (29.1.1). Met by the upgrade's carried
        # workload: containers made by 28.5, restarted by 29.1.0; containers 29.1.0 makes itself resolve (DNS-002).
        since="29.1.0",
        fixed_in="29.1.1",
        workaround="upgrade straight to 29.1.1 or later, or recreate (not restart) the containers after the upgrade",
        reproduced_by=("CONT-CARRY-001",),  # netproof upgrade's carried workload
        observed_on=("29.1.0",),
        clear_on=("29.5.0", "29.7.2"),
    ),
    KnownDefect(
        "moby/moby#53384",
        "when a container publishing a udp port starts, Docker flushes the port's conntrack entries by the container "
        "port instead of the host port: with -p HOST:CONTAINER/udp and HOST != CONTAINER, a client that kept "
        "sending keeps its old entry, so its datagrams go to docker-proxy and reach the container from the bridge's "
        "gateway instead of the client's own address (or nowhere without the proxy)",
        frozenset({UDP_THROUGH_PROXY}),
        "udp-entry-unflushed",  # seen by PUB-004 in the host's conntrack table, for its own flow
        "no conntrack entry of the client's flow to the host port was left without its DNAT",
        # Begins with moby/moby#52423 (29.5.0, commit a836506d19: the flush takes a PortBinding and filters on its
        # container port; 29.4's filtered on the host port), read in moby's source at docker-v29.4.0 and
        # docker-v29.5.0. On 29.5.0 the defect below hides it (no entry is flushed at all).
        since="29.5.0",
        workaround="publish udp ports on the container's own port number (-p 7102:7102/udp), or delete the port's "
        "entries after the container starts: conntrack -D -p udp --orig-port-dst <host port>",
        reproduced_by=("PUB-004",),
        observed_on=("29.7.2",),
        clear_on=("28.5.2", "29.1.0"),
    ),
    KnownDefect(
        "moby/moby#52640",
        "29.5.0 flushes a published udp port's conntrack entries only where they go to the address the port is "
        "bound to, and a port published on every address (-p without an address, the usual form) is bound to "
        "0.0.0.0, which no entry goes to: nothing is flushed, so a client that kept sending keeps its old entry and "
        "its datagrams reach the container from the bridge's gateway through docker-proxy (or nowhere without the "
        "proxy), whatever form of -p published it (moby/moby#52423 added the address; #52640 skips it when unset)",
        frozenset({UDP_THROUGH_PROXY}),
        "udp-entries-unflushed-every-port",  # PUB-004: its own flows' entries unflushed, the same-port one included
        "the entries left without their DNAT were not those of every form of -p, the same port on both sides included",
        since="29.5.0",
        fixed_in="29.5.1",  # docker-v29.5.1's conntrack.go skips the unspecified address (moby's source)
        workaround="upgrade to 29.5.1 or later; on 29.5.0, delete a udp port's entries after its container starts: "
        "conntrack -D -p udp --orig-port-dst <host port>",
        reproduced_by=("PUB-004",),
        observed_on=("29.5.0",),
        clear_on=("28.5.2", "29.1.0", "29.7.2"),
    ),
    KnownDefect(
        "moby/moby#38784",
        "with the userland proxy disabled, a container on one bridge network cannot reach a port another network's "
        "container publishes on the docker host's address: the request is DNAT'ed to the other bridge and Docker's "
        "inter-network isolation (DOCKER-ISOLATION-STAGE-2's drop for that bridge) drops it; with the proxy, "
        "docker-proxy carries it. 29.0 dropped those rules (moby/moby#49981)",
        frozenset({OTHER_NETWORKS_CUT}),
        "isolation-drops-between-bridges",  # PUB-005: the server's bridge in DOCKER-ISOLATION-STAGE-2, proxy off
        "no inter-network isolation rule drops what goes to the server's bridge, or the userland proxy is on",
        fixed_in="29.0",
        workaround="keep the userland proxy on (the default), or connect the client container to the server's "
        "network, or upgrade to 29.0 or later",
        reproduced_by=("PUB-005",),
        observed_on=("28.5.2",),
        clear_on=("29.7.2",),
    ),
    KnownDefect(
        "moby/moby#44688",
        "a client that kept sending to a published udp port while its container restarted has its first datagrams "
        "after the start delivered by docker-proxy, from the bridge's gateway instead of the client's own address: "
        "docker-proxy listens before the port's stale conntrack entries are flushed (the flush of #44742, 23.0, "
        "closed the issue; the race it leaves shows on 26.1)",
        frozenset({UDP_THROUGH_PROXY}),
        "udp-proxied-before-flush",  # seen by PUB-004: the container's echo to the proxy in the host's conntrack table
        "the container sent nothing back to docker-proxy at the bridge's gateway",
        # Seen on 26.1.5 with -p 7101:7101/udp; 28.5 and 29.7 (whose daemon binds the port itself and sets its rules
        # before the proxy gets it, moby/moby#48132) passed; 27.x was not run here.
        since="23.0",
        fixed_in="28.0",
        workaround="upgrade to 28.0 or later; before that, a service that tells its clients apart by their source "
        "address cannot trust the first datagrams after its container restarts (seen: one or two per flow)",
        reproduced_by=("PUB-004",),
        observed_on=("26.1.5",),
        clear_on=("28.5.2", "29.7.2"),
    ),
)
