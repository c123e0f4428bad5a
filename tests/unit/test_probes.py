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
    with pytest.raises(LabBroken, match="could not be sent"):
        probes.ping(runner(stderr="nsenter: failed to execute ping: No such file or directory", rc=127), "10.0.0.2")


@pytest.mark.parametrize(
    "rc,stderr",
    [
        (255, "ssh: connect to host 10.10.10.101 port 22: Connection refused\n(no answer over SSH)"),
        (1, "Error response from daemon: No such container: np-gw0-1a2b3c-a"),
        (125, "Error response from daemon: container 4f1e is not running"),
        (1, "Cannot connect to the Docker daemon at unix:///run/docker.sock. Is the docker daemon running?"),
        (127, "sh: ping: not found"),
    ],
)
def test_a_probe_that_was_never_sent_is_a_broken_lab_never_a_stopped_probe(rc, stderr):
    """Issue 25: a dropped SSH connection or a probe container gone must not read as "0 sent, no reply"."""
    with pytest.raises(LabBroken, match="a probe could not be sent on docker1"):
        probes.ping(runner("", stderr, rc=rc), "10.0.0.2")
    window = Window("a and outside")
    with pytest.raises(LabBroken):
        window.http(runner("", stderr, rc=rc), "198.51.100.10", 80)
    assert not window.held  # nothing was proven


def test_a_path_that_is_blocked_is_a_probe_that_ran():
    window = Window("a and outside")
    window.http(runner("", "wget: download timed out", rc=1), "198.51.100.10", 80)
    window.ping(runner(LOST, rc=1), "198.51.100.10")
    assert window.held and len(window.attempts) == 2
