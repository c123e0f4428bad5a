"""Docker 29's nftables firewall backend: every check runs on it (those of overlays skipped, saying why: Docker
runs no swarm with it), the footprint holds its ruleset, and the diff from the same lab on iptables shows what a
user who switches meets; a swarm asked for with it is refused in Docker's words, in one line."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace

import pytest

from netproof.footprint import compare
from netproof.lab.model import loader

from .conftest import ROOT, assert_nothing_left, claim, run_checks
from .test_checks_catch_breakage import assert_fails, checks_on

NFTABLES = ROOT / "labs" / "nftables.yml"


def test_a_swarm_with_the_nftables_backend_is_refused_in_dockers_words(machine):
    done = subprocess.run(
        [sys.executable, "-m", "netproof.cli", "lab", "up", str(NFTABLES), "--control-plane", "swarm"]
        + ["--name", claim("t-nft-swarm")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode != 0
    assert done.stderr.strip().splitlines()[-1] == (
        "netproof: error: docker1: Docker refuses to form a swarm: --firewall-backend=nftables is incompatible with "
        "swarm mode (use control_plane: none, bridges only)"
    ), done.stderr
    assert_nothing_left("t-nft-swarm", machine)


# Nightly (two full runs, 223 s in CI): CI keeps the backend's own tests below (a swarm refused, IPv6 forwarding,
# a dropped reply named in Docker's table).
@pytest.mark.nightly
def test_the_checks_on_nftables_and_what_changes_from_iptables(machine, tmp_path, bring_up):
    nft = loader.load(NFTABLES).with_overrides(name="t-nft")
    iptables_daemon = {n: {k: v for k, v in h.daemon.items() if k != "firewall-backend"} for n, h in nft.hosts.items()}
    on_iptables = replace(nft, hosts={n: replace(h, daemon=iptables_daemon[n]) for n, h in nft.hosts.items()})
    runs = {}
    for backend, topo in (("iptables", on_iptables.with_overrides(name="t-nft-ipt")), ("nftables", nft)):
        lab = bring_up(topo)
        runs[backend] = run_checks(topo.name, tmp_path / backend, footprint=True)
        lab.down()
    for backend, run in runs.items():
        assert run.returncode == 0, f"{backend}: {run.output[-3000:]}"
        cases = run.results().checks
        assert {c.outcome for c in cases} <= {"passed", "skipped", "known-defect"}, [(c.id, c.outcome) for c in cases]
        defects = {(c.id, c.defect) for c in cases if c.outcome == "known-defect"}  # 29.7, either backend
        assert defects <= {("PUB-004", "moby/moby#53384")}, (backend, defects)
        skipped = [c for c in cases if c.outcome == "skipped"]
        for case in skipped:
            overlay = "overlays need a control plane; this lab has none" in case.message
            nftables = (
                case.id in ("FW-USER-001", "FW-OTHER-001")
                and backend == "nftables"
                and "has no DOCKER-USER chain and no jumps heading iptables' FORWARD" in case.message
            )
            direct = case.id == "PUB-007" and "daemon.json does not set allow-direct-routing" in case.message
            direct |= case.id == "FW-MARK-001" and "daemon.json does not set bridge-accept-fwmark" in case.message
            assert overlay or nftables or direct, (backend, case.id, case.case, case.message)
        assert [c for c in cases if c.outcome == "passed" and c.id.startswith(("PUB-", "ICC-", "BR-", "ISO-INT-001"))]
    # Behaviour first: a user's DOCKER-USER rules have nowhere to go on nftables.
    before, after = (runs[b].results() for b in ("iptables", "nftables"))
    changed = {c.id for c in after.checks if c.outcome != {o.nodeid: o for o in before.checks}[c.nodeid].outcome}
    assert changed == {"FW-USER-001", "FW-OTHER-001"}, changed
    # The footprint: Docker's table in nftables instead of its iptables chains, on every host.
    changes = compare.compare(compare.load(runs["iptables"].report), compare.load(runs["nftables"].report))
    new = [c for c in changes if c.kind == "firewall" and c.item == "host: nftables"]
    assert len(new) == 1 and new[0].scope == "on 4 of 4 hosts", [(c.item, c.scope) for c in changes]
    assert "+ table ip docker-bridges {" in new[0].lines, new[0].lines[:10]
    assert_nothing_left("t-nft", machine)
    assert_nothing_left("t-nft-ipt", machine)


def test_a_host_not_forwarding_ipv6_under_the_nftables_backend_is_named(machine, tmp_path, bring_up):
    """Issue 26: Docker's nftables backend leaves IPv6 forwarding to the host's operator, and refuses an IPv6 network
    without it. Off on one host, the doctor names it, and there the IPv6 checks are errors saying so, not Docker's
    failures, while the host's other checks run."""
    lab = bring_up(loader.load(NFTABLES).with_overrides(name="t-nft-v6"))
    lab.host("docker1").run(["sysctl", "-qw", "net.ipv6.conf.all.forwarding=0"], check=True)
    cause = "docker1 does not forward IPv6 (net.ipv6.conf.all.forwarding=0) and its Docker uses the nftables backend"
    run = run_checks("t-nft-v6", tmp_path, select="(IPV6-001 or ICC-001) and docker1", workers=None, timeout=300)
    assert run.outcomes == {"IPV6-001[none-docker1]": "error", "ICC-001[none-docker1]": "passed"}, run.output[-3000:]
    [errored] = [c for c in run.results().checks if c.outcome == "error"]
    assert errored.message.startswith("LAB BROKEN, not a Docker failure: the lab doctor found, before the checks")
    assert cause in errored.message, errored.message
    lab.down()
    assert_nothing_left("t-nft-v6", machine)


def test_a_lost_egress_reply_names_the_rule_of_dockers_nftables_table_that_dropped_it(machine, tmp_path, bring_up):
    """Issue 36: with the bridge's accept of established connections deleted from Docker's own nftables table, the
    failure names Docker's chain and rule that dropped the reply, and the rule a peer's chain has."""
    lab = bring_up(loader.load(NFTABLES).with_overrides(name="t-nft-trace"))
    docker2 = lab.host("docker2")
    chain = ["ip", "docker-bridges", "filter-forward-in__docker0"]
    listed = docker2.run(["nft", "-a", "list", "chain", *chain], check=True).stdout
    [handle] = [line.rsplit("# handle ", 1)[1] for line in listed.splitlines() if "established,related" in line]
    docker2.run(["nft", "delete", "rule", *chain, "handle", handle.strip()], check=True)
    run = run_checks("t-nft-trace", tmp_path, select="BR-EGRESS-001 and docker2", workers=None, timeout=300)
    assert run.outcomes == {"BR-EGRESS-001[none-docker2]": "failed"}, run.output[-3000:]
    assert (
        "Packet: dropped at docker2: ip docker-bridges filter-forward-in__docker0 rule "
        '`drop comment "UNPUBLISHED PORT DROP"` (Docker\'s); the reply 198.51.100.10:80 -> 172.17.' in run.output
    ), run.output[-3000:]
    assert (
        "docker2 ip docker-bridges filter-forward-in__docker0 lacks `ct state established,related accept`" in run.output
    ), run.output[-3000:]
    lab.down()
    assert_nothing_left("t-nft-trace", machine)


def test_the_accept_mark_check_fails_naming_dockers_drop_once_its_mark_accept_is_gone(machine, tmp_path, bring_up):
    """Issue 37: docker2's daemon.json sets bridge-accept-fwmark (29.0); FW-MARK-001 passes there and, with Docker's
    accept of the mark deleted as the routed network is made, fails naming the rule of Docker's that dropped it."""
    lab = bring_up(loader.load(NFTABLES).with_overrides(name="t-nft-mark"))
    as_set = checks_on("t-nft-mark", "FW-MARK-001 and (docker1 or docker2)", tmp_path / "as-set")
    assert as_set.outcomes == {"FW-MARK-001[none-docker1]": "skipped", "FW-MARK-001[none-docker2]": "passed"}, (
        as_set.why_failed()
    )
    doctor = as_set.results().doctor  # standalone engines: no overlay's ports wanted (it once wanted 7946 of them)
    assert doctor["healthy"], [f for f in doctor["findings"] if not f["ok"]]
    broken = checks_on("t-nft-mark", "FW-MARK-001 and docker2", tmp_path / "broken", sabotage="markaccept")
    assert_fails(
        broken,
        "FW-MARK-001",
        "the packets marked 0x100 pass Docker's forward filter",
        'rule `drop comment "UNPUBLISHED PORT DROP"` (Docker\'s)',
    )
    lab.down()
    assert_nothing_left("t-nft-mark", machine)
