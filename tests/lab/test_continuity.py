"""Issue 28: connections held through what is done to dockerd, measured by long-lived flows (`netproof continuity`).
On Docker 28.5: a reload keeps every flow without a gap (CONT-RELOAD-001); a live-restore restart keeps every
connection but pauses them all for about half a second while dockerd makes its iptables rules again, which is
moby/moby#34660, recognised by FORWARD's DROP policy counting meanwhile. And the flows see what they claim: a DROP
put in by hand for a second is a gap of that length in the flows it stops, and in no other."""

from __future__ import annotations

import json
import time

from netproof.jobs.continuity import FlowSet
from netproof.kit import facts
from netproof.lab.model import loader
from netproof.progress import QUIET

from .conftest import ROOT, assert_nothing_left, claim, netproof

LIVE_RESTORE = ROOT / "labs" / "live-restore.yml"


def continuity(scenario: str, name: str, tmp_path) -> tuple[int, dict]:
    done = netproof("continuity", scenario, str(LIVE_RESTORE), "--name", claim(name), "--reports", str(tmp_path),
                    "--json", check=False)  # fmt: skip
    assert done.stdout.strip(), done.stderr[-3000:]
    return done.returncode, json.loads(done.stdout)


def test_a_reload_keeps_every_flow_and_a_live_restore_restart_pauses_them_as_moby_34660_says(machine, tmp_path):
    rc, reload = continuity("reload", "t-cont-reload", tmp_path / "reload")
    assert rc == 0 and reload["promise"]["id"] == "CONT-RELOAD-001", reload
    assert len(reload["flows"]) == 4 and {f["verdict"] for f in reload["flows"]} == {"kept"}, reload["flows"]
    assert all(f["sent"] > 150 and f["echoed"] == f["sent"] for f in reload["flows"])
    # the containers' own names and the outside host's, asked of their embedded DNS afterwards (moby/moby#45646)
    assert len(reload["names"]) == 2 and all(n["resolved"] for n in reload["names"]), reload["names"]
    rc, restart = continuity("restart", "t-cont-restart", tmp_path / "restart")
    assert restart["promise"]["id"] == "CONT-LIVE-001"
    for f in restart["flows"]:  # every flow paused, none broken: the connections and the udp stream survived
        assert f["verdict"] == "known-defect" and f["survived"], f
        assert 0 < f["longest_gap"] < 3 and "moby/moby#34660" in f["why"], f
    assert rc == 0 and restart["known_defects"][0]["reference"] == "moby/moby#34660"
    assert len(restart["names"]) == 2 and all(n["resolved"] for n in restart["names"]), restart["names"]
    assert (tmp_path / "restart").glob("continuity-*/continuity.html")
    assert_nothing_left("t-cont-reload", machine)
    assert_nothing_left("t-cont-restart", machine)


def test_the_flows_see_a_drop_put_in_by_hand_for_a_second_and_nothing_else(machine, bring_up):
    lab = bring_up(loader.load(LIVE_RESTORE).with_overrides(name="t-cont-sanity"))
    docker1, outside = lab.host("docker1"), lab.topology.role("outside")
    # What the outside host sends of the flows it began (to the published ports), not its replies to the masquerade's
    rule = ["-s", str(outside.address), "-m", "conntrack", "--ctdir", "ORIGINAL", "-j", "DROP"]
    flows = FlowSet.start(lab, "docker1", QUIET)
    try:
        time.sleep(2)
        docker1.run(["iptables", "-I", facts.DOCKER_USER, *rule], check=True)
        time.sleep(1)
        docker1.run(["iptables", "-D", facts.DOCKER_USER, *rule], check=True)
        time.sleep(3)
        assert all(n["resolved"] for n in flows.names())
        # and a name question sees an embedded DNS that no longer answers: its rules gone from the container
        client = flows.questions[0].asker
        client.netns.run(["iptables", "-t", "nat", "-F"], timeout=15)
        assert not any(n["resolved"] for n in flows.names() if n["asker"] == client.name)
    finally:
        timelines, _ = flows.stop()
    by_name = {t.flow.split(":")[0] + " " + t.proto: t for t in timelines}
    bridge, published, datagrams = by_name["bridge tcp"], by_name["published tcp"], by_name["published udp"]
    assert bridge.gaps == [] and by_name["masquerade tcp"].gaps == [], (bridge.gaps, by_name["masquerade tcp"].gaps)
    [gap] = published.gaps
    assert 0.9 < gap.seconds < 4 and published.survived, published.gaps  # TCP resent after its backoff
    [lost] = datagrams.gaps
    assert 0.9 < lost.seconds < 1.5 and 15 <= lost.lost <= 25, datagrams.gaps  # 20 datagrams a second
    lab.down()
    assert_nothing_left("t-cont-sanity", machine)
