"""A swarm node's blip (CONT-BLIP-001, issue 35): docker4 cut off the underlay at the lab's router for 20 s, then
healed, while docker1 to docker3 ask for the names of the services whose tasks run on it. On 28.5 and 29.7.2 the
names and tasks. records came back and connected (within about 36 s here): moby/moby#53141's NXDOMAIN for good did not
strike on this lab, although 29.7.2 lacks its fix (moby/moby#53142 is not in tag docker-v29.7.2). And its breakage:
with NetworkDB's gossip port dropped at docker4 after the heal, names stay lost, and the blip says the lab broke,
naming the port, never Docker."""

from __future__ import annotations

import pytest

from netproof.errors import ExitStatus
from netproof.facts.docker import GOSSIP_PORT
from netproof.jobs import blip
from netproof.lab.model import loader
from netproof.progress import QUIET

from .conftest import ROOT


def seed(bring_up, name: str, engine: str):
    return bring_up(loader.load(ROOT / "labs" / "seed.yml").with_overrides(name=name, engine=engine))


@pytest.mark.nightly  # about 70 s each: nightly, so that CI stays near 40 minutes
@pytest.mark.parametrize("engine", ["28.5", "29.7"])
def test_names_come_back_after_a_node_s_blip(engine, machine, bring_up):
    lab = seed(bring_up, f"t-blip{engine.replace('.', '')}", engine)
    done = blip.run_blip(lab, "docker4", QUIET)
    assert done.held and done.exit_status == ExitStatus.PASSED, done.render_terminal()
    assert len(done.watches) == 12 and all(w.resolved is not None for w in done.watches)


@pytest.mark.nightly
def test_gossip_dropped_after_the_heal_is_the_labs_fault_never_dockers(machine, bring_up, monkeypatch):
    lab = seed(bring_up, "t-blip-broken", "28.5")
    docker4, healed = lab.host("docker4"), blip.cut
    drops = [["INPUT", "-p", proto, "--dport", str(GOSSIP_PORT), "-j", "DROP"] for proto in ("udp", "tcp")]

    def cut_and_keep_gossip_out(lab, host, down):
        healed(lab, host, down)
        if not down:  # the link is back, NetworkDB's gossip is not
            for drop in drops:
                docker4.run(["iptables", "-I", *drop], check=True)

    monkeypatch.setattr(blip, "cut", cut_and_keep_gossip_out)
    try:
        done = blip.run_blip(lab, "docker4", QUIET)
    finally:
        for drop in drops:
            docker4.run(["iptables", "-D", *drop])
    assert not done.held and not done.mechanism, done.render_terminal()
    assert done.exit_status == ExitStatus.LAB_BROKEN and str(GOSSIP_PORT) in done.lab_broken, done.render_terminal()
