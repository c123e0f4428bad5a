"""Long-lived flows read from their agents' events, recorded on the lab (a live-restore restart of docker1's dockerd,
Docker 28.5, netns lab, 2026-12-05): gaps, losses, reconnections, and the verdict against Docker's promise."""

import json
from pathlib import Path

from netproof.facts.continuity import LIVE_RESTORE, RELOAD
from netproof.jobs.continuity import ContinuityRun
from netproof.kit.flows import Timeline, timeline
from netproof.report import continuity as page

FIXTURES = Path(__file__).parent / "fixtures" / "continuity"
RECORDED = json.loads((FIXTURES / "restart-28.5.json").read_text())
OPERATION = (RECORDED["operation"]["began"], RECORDED["operation"]["ended"])


def recorded(name: str) -> list[str]:
    return (FIXTURES / name).read_text().splitlines()


def flow(index: int) -> dict:
    return RECORDED["flows"][index]


def tcp() -> Timeline:
    f = flow(0)
    return timeline(f["flow"], "tcp", recorded("restart-28.5-tcp-client.txt"),
                    recorded("restart-28.5-tcp-server.txt"), f["began"], f["ended"])  # fmt: skip


def udp() -> Timeline:
    f = flow(2)
    return timeline(f["flow"], "udp", recorded("restart-28.5-udp-client.txt"), [], f["began"], f["ended"])


def test_a_tcp_flow_paused_while_dockerd_started_has_one_gap_and_kept_its_connection():
    t = tcp()
    assert (t.sent, t.echoed) == (245, 245)
    [gap] = t.gaps
    assert round(gap.seconds, 2) == 0.46 and gap.lost == 0  # stop-and-wait: TCP sent it again, late
    assert OPERATION[0] < gap.started < OPERATION[1]
    assert t.survived and t.reconnects == [] and t.peers == ["172.18.0.3:45790"]


def test_a_udp_flow_counts_the_datagrams_that_never_came_back():
    t = udp()
    [gap] = t.gaps
    assert gap.lost == 8 and round(gap.seconds, 2) == 0.40 and (t.sent, t.echoed) == (248, 240)


def test_messages_still_in_flight_at_the_stop_are_not_judged():
    f = flow(2)
    lines = recorded("restart-28.5-udp-client.txt")
    last_sent = max(float(line.split()[1]) for line in lines if line.startswith("sent "))
    cut = [line for line in lines if not line.startswith("echo ") or float(line.split()[3]) < last_sent - 0.5]
    t = timeline(f["flow"], "udp", cut, [], f["began"], last_sent + 0.3)  # echoes of the last half second not back
    assert [g.lost for g in t.gaps] == [8]


def test_a_connection_that_failed_and_was_made_again_is_not_survived():
    lines = [
        "up 100.000", "echo 100.050 1 100.000", "echo 100.100 2 100.050",
        "down 100.400 3 [Errno_104]_Connection_reset_by_peer", "refused 100.450 [Errno_111]_Connection_refused",
        "up 101.200", "echo 101.250 4 101.200", "echo 101.300 5 101.250", "Traceback (most recent call last):",
    ]  # fmt: skip
    t = timeline("f", "tcp", lines, [], 99.9, 103.0)
    assert not t.survived and [r.why for r in t.reconnects] == ["[Errno 104] Connection reset by peer"]
    assert round(t.reconnects[0].seconds, 2) == 0.8
    assert [(round(g.started, 2), round(g.seconds, 2), g.lost) for g in t.gaps[:1]] == [(100.1, 1.15, 1)]


def run_of(promise, sightings: dict[str, str]) -> ContinuityRun:
    run = ContinuityRun("restart", "docker1", "28.5.2+dfsg4", promise, *OPERATION)
    run.timelines, run.sightings = [tcp(), udp()], sightings
    return run


def test_the_live_restore_promise_broken_by_the_known_defect_when_its_mechanism_was_seen():
    seen = {"forward-policy-counted": "on docker1, filter FORWARD: policy DROP counted 14 packet(s) while ..."}
    run = run_of(LIVE_RESTORE, seen)
    assert [run.verdict(t)[0] for t in run.timelines] == ["known-defect", "known-defect"]
    assert "known Docker defect moby/moby#34660 (on docker1, filter FORWARD" in run.verdict(run.timelines[0])[1]
    assert run.held and run.to_dict()["known_defects"][0]["reference"] == "moby/moby#34660"
    html = page.render(run.to_dict())
    assert "interrupted by a known Docker defect" in html and html.count("fill='#c62828'") == 2  # a gap per bar


def test_without_the_mechanism_a_gap_breaks_the_promise():
    run = run_of(LIVE_RESTORE, {})
    assert [run.verdict(t)[0] for t in run.timelines] == ["broken", "broken"] and not run.held
    assert "2 flow(s) broke the promise" in page.render(run.to_dict())


def test_a_gap_outside_the_operation_is_no_defect_of_its():
    run = run_of(RELOAD, {"forward-policy-counted": "..."})
    run.began, run.ended = OPERATION[0] - 60, OPERATION[0] - 50
    assert [run.verdict(t)[0] for t in run.timelines] == ["broken", "broken"]


def test_in_an_upgrade_a_flows_gap_is_put_down_to_its_own_hosts_restart_or_said_as_bad():
    from netproof.jobs.upgrade.flow_watch import describe
    from netproof.jobs.upgrade.mesh_watch import Restart

    t = tcp()
    t.host = "docker1"
    [gap] = t.gaps
    own = [(Restart("docker1", "29.7", 0, 0), gap.started - 1, gap.started + 1)]
    other = [(Restart("docker2", "29.7", 0, 0), gap.started - 1, gap.started + 1)]
    [said] = describe(t, own)
    assert not said.bad and "when its own dockerd restarted on 29.7" in said.text
    [said] = describe(t, other)
    assert said.bad and "while docker2 restarting on 29.7: users of a host that was not being restarted" in said.text
    [said] = describe(t, [])
    assert not said.bad and "while no engine was restarting" in said.text


def test_with_live_restore_a_patch_upgrade_must_keep_the_hosts_own_flows():
    from netproof.jobs.upgrade.flow_watch import describe
    from netproof.jobs.upgrade.mesh_watch import Restart

    t = tcp()  # paused 0.46 s, survived
    t.host = "docker1"
    [gap] = t.gaps
    window = (gap.started - 1, gap.started + 1)
    [said] = describe(t, [(Restart("docker1", "29.7.2", 0, 0, "29.7.1"), *window)], live_restore=True)
    assert (
        not said.bad and "paused 0.5 s while its own dockerd restarted 29.7.1 -> 29.7.2 with live-restore" in said.text
    )
    ended = timeline(t.flow, "tcp", recorded("restart-28.5-tcp-client.txt")[:100], [], t.began, t.ended)
    ended.host = "docker1"
    last = ended.gaps[-1]
    window = (last.started - 1, last.started + 1)
    [said] = describe(ended, [(Restart("docker1", "29.7.2", 0, 0, "29.7.1"), *window)], live_restore=True)
    assert said.bad and "keeps containers running across patch releases" in said.text
    [said] = describe(ended, [(Restart("docker1", "29.7.2", 0, 0, "28.5"), *window)], live_restore=True)
    assert not said.bad and "across minor releases live-restore is not promised" in said.text
