"""Probes: what counts as reached, and a negative window that lets nothing through."""

import pytest

from netproof.kit import probes
from netproof.kit.evidence import LabBroken
from netproof.kit.window import Window
from netproof.system import CommandResult

REPLIED = "3 packets transmitted, 3 packets received, 0% packet loss"
LOST = "3 packets transmitted, 0 packets received, 100% packet loss"
ONE = "3 packets transmitted, 1 packets received, 66% packet loss"


def runner(stdout="", stderr="", rc=0):
    return lambda argv: CommandResult(argv, rc, stdout, stderr, "docker1")


def test_ping_counts_replies():
    assert probes.ping(runner(REPLIED), "10.0.0.2").ok
    lost = probes.ping(runner(LOST, rc=1), "10.0.0.2")
    assert not lost.ok and not lost.any_reply and str(lost) == "ping 10.0.0.2: 3 sent, 0 received"


def test_a_window_is_breached_by_a_single_reply():
    window = Window("a and outside")
    window.ping(runner(LOST, rc=1), "198.51.100.10")
    assert window.held
    window.ping(runner(ONE, rc=1), "198.51.100.10")
    assert not window.held and window.breaches == ["ping 198.51.100.10: 3 sent, 1 received"]


def test_a_window_is_breached_by_packets_arriving_without_reply():
    window = Window("w")
    window.packets_seen("at outside", 0)
    assert window.held
    window.packets_seen("at outside", 2)
    assert not window.held


def test_a_window_with_no_probe_proves_nothing():
    assert not Window("w").held


def test_any_http_response_is_a_connection():
    refused = probes.http_get(
        runner(stderr="wget: can't connect to remote host: Connection refused", rc=1), "10.0.0.2", 80
    )
    assert not refused.through
    not_found = probes.http_get(
        runner(stderr="wget: server returned error: HTTP/1.0 404 Not Found", rc=1), "10.0.0.2", 80
    )
    assert not_found.through
    timed_out = probes.http_get(runner(rc=143), "10.0.0.2", 80)
    assert not timed_out.through


def test_a_probe_that_cannot_run_is_a_broken_lab_not_a_blocked_path():
    with pytest.raises(LabBroken, match="could not run"):
        probes.ping(runner(stderr="nsenter: failed to execute ping: No such file or directory", rc=127), "10.0.0.2")
