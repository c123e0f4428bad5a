"""Probes: what counts as reached, and a negative window that lets nothing through.

Proof is an allow-list (issue 33): a probe counts only with netproof's own shell line saying it started and how
its tool ended, and the tool's own words that it ran. The table below is every way a probe's path can fail to run
it, each with the outcome a negative check (a window) and a positive check must give: `error`, never `passed`
nor `failed`."""

import time

import pytest

from netproof.catalogue import Case, Check
from netproof.kit import probes, wire
from netproof.kit.evidence import CheckFailed, LabBroken, Proof
from netproof.kit.namespaces import NetNamespace
from netproof.kit.window import Window
from netproof.runner.verdict import Phase, judge
from netproof.system import CommandResult

REPLIED = "3 packets transmitted, 3 packets received, 0% packet loss"
LOST = "3 packets transmitted, 0 packets received, 100% packet loss"
ONE = "3 packets transmitted, 1 packets received, 66% packet loss"


def in_shell(stdout: str = "", stderr: str = "", status: int = 0, where: str = "docker1"):
    """A runner whose probe ran: netproof's shell line said it started, the tool said its words, and ended."""

    def run(argv):
        assert argv[:3] == ["sh", "-c", probes.WRAPPER], "a probe runs inside netproof's shell line"
        said = f"{probes.STARTED}\n{stderr}" + ("\n" if stderr else "") + f"{probes.ENDED} {status}\n"
        return CommandResult(["docker", "exec", "np-a", *argv], 0, stdout, said, where)

    return run


def as_run(answer: tuple[int, str, str]):
    """A runner whose path answered this (status, stdout, stderr), whatever the probe."""
    return lambda argv: CommandResult(["docker", "exec", "np-a", *argv], *answer, "docker1")


def test_ping_counts_replies():
    assert probes.ping(in_shell(REPLIED), "10.0.0.2").ok
    lost = probes.ping(in_shell(LOST, status=1), "10.0.0.2")
    assert not lost.ok and not lost.any_reply and str(lost) == "ping 10.0.0.2: 3 sent, 0 received"


def test_a_probes_result_is_its_tools_own():
    """The evidence shows the tool's command, status and words, not netproof's shell line."""
    lost = probes.ping(in_shell(LOST, "", status=1), "10.0.0.2")
    assert lost.result.argv[0] == "ping" and lost.result.returncode == 1
    assert probes.STARTED not in lost.result.stderr and probes.ENDED not in lost.result.stderr


def test_a_window_is_breached_by_a_single_reply():
    window = Window("a and outside")
    window.ping(in_shell(LOST, status=1), "198.51.100.10")
    assert window.held
    window.ping(in_shell(ONE, status=1), "198.51.100.10")
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
        in_shell(stderr="wget: can't connect to remote host: Connection refused", status=1), "a", 80
    )
    assert not refused.through
    not_found = probes.http_get(
        in_shell(stderr="wget: server returned error: HTTP/1.0 404 Not Found", status=1), "a", 80
    )
    assert not_found.through
    timed_out = probes.http_get(in_shell(status=143), "10.0.0.2", 80)  # busybox timeout ended wget: the window closed
    assert not timed_out.through
    assert probes.http_get(in_shell("netproof\n"), "10.0.0.2", 80).through


def test_a_path_that_is_blocked_is_a_probe_that_ran():
    window = Window("a and outside")
    window.http(in_shell("", "wget: download timed out", status=1), "198.51.100.10", 80)
    window.ping(in_shell(LOST, status=1), "198.51.100.10")
    window.http(in_shell(status=143), "198.51.100.10", 80)
    assert window.held and len(window.attempts) == 3


TIMED_OUT = "\n(timed out after 30s)"
# Every way a probe's path fails to run it: (what the path answered, as a runner), by name.
DID_NOT_RUN = {
    "docker exec hung past netproof's own timeout": as_run((-1, "", TIMED_OUT)),
    "an outer timeout's 124 over SSH": as_run((124, "", "")),
    "an outer timeout after the probe started": as_run((124, "", f"{probes.STARTED}\n")),
    "the docker CLI denied the API": as_run(
        (1, "", "permission denied while trying to connect to the docker API at unix:///var/run/docker.sock")
    ),
    "the docker CLI's connection timed out": as_run(
        (1, "", "error during connect: Post http://x/exec: context deadline exceeded")
    ),
    "busybox ping not allowed": in_shell(stderr="ping: permission denied (are you root?)", status=1),
    "SSH could not connect": as_run((255, "", "ssh: connect to host 10.10.10.101 port 22: Connection refused")),
    "the tool is missing": in_shell(
        stderr="sh: ping: not found\nsh: wget: not found\nsh: nslookup: not found", status=127
    ),
    "the tool is not executable": in_shell(stderr="sh: ping: Permission denied", status=126),
    "the container is gone": as_run((1, "", "Error response from daemon: No such container: np-gw0-1a2b3c-a")),
    "the container is stopped": as_run((1, "", "Error response from daemon: container 4f1e is not running")),
    "the daemon is away": as_run((1, "", "Cannot connect to the Docker daemon at unix:///run/docker.sock.")),
    "an unknown error with exit status 0": as_run((0, "", "")),
    "the tool said nothing and ended 1": in_shell(status=1),
    "the tool said nothing and ended 0": in_shell(status=0),
    "nsenter could not run it": as_run((127, "", "nsenter: failed to execute sh: No such file or directory")),
}


def outcome_of(run_check) -> str:
    """The outcome netproof gives a case whose probe ran through this path, through the one verdict."""
    check = Check("T-001", "a promise", scope="host")
    case = Case("swarm-docker1", "swarm", ("docker1",), {"docker1": "28.5.2"})
    try:
        run_check()
    except LabBroken as e:
        return judge(check, case, Phase("call", lab_broken=str(e))).outcome
    except CheckFailed as e:
        return judge(check, case, Phase("call", check_failed=str(e))).outcome
    return judge(check, case, Phase("call", passed=True)).outcome


def negative_check(run):
    window = Window("a and b")
    window.at_once(lambda w: w.ping(run, "10.0.0.2"), lambda w: w.http(run, "10.0.0.2", 8080))
    window.require_nothing_through(Proof("T-001", "p", "c"), expected="nothing", where="docker1")


def positive_check(run):
    reached = probes.ping(run, "10.0.0.2")
    fetched = probes.http_get(run, "10.0.0.2", 8080)
    Proof("T-001", "p", "c").require(reached.ok and fetched.through, expected="reached", observed="no", where="x")


@pytest.mark.parametrize("how", DID_NOT_RUN)
@pytest.mark.parametrize("check", [negative_check, positive_check])
def test_a_probe_that_did_not_run_is_an_error_never_a_pass_nor_dockers_failure(how, check):
    assert outcome_of(lambda: check(DID_NOT_RUN[how])) == "error"


def test_the_error_names_the_host_the_probe_and_what_was_said():
    with pytest.raises(LabBroken) as raised:
        probes.ping(DID_NOT_RUN["docker exec hung past netproof's own timeout"], "10.0.0.2")
    said = str(raised.value)
    assert "on docker1" in said and "docker exec np-a ping -c 3" in said and "timed out after 30s" in said


def test_a_probe_that_ran_gives_dockers_verdict():
    assert outcome_of(lambda: negative_check(in_shell(LOST, "wget: download timed out", status=1))) == "passed"
    assert outcome_of(lambda: negative_check(in_shell(ONE, "wget: download timed out", status=1))) == "failed"
    assert outcome_of(lambda: positive_check(in_shell(REPLIED + "\nnetproof"))) == "passed"
    assert outcome_of(lambda: positive_check(in_shell(LOST, "wget: download timed out", status=1))) == "failed"


@pytest.mark.parametrize(
    "words",
    ["ping: bad address 'np-b'", "ping: sendto: Network is unreachable", "ping: connect: Network is unreachable"],
)
def test_a_ping_the_container_could_not_send_is_dockers_answer(words):
    """A name that does not resolve, or no route: the container's DNS and routing, Docker's, not the lab's."""
    p = probes.ping(in_shell(stderr=words, status=1), "np-b")
    assert p.sent == 0 and not p.ok


def test_an_nslookup_that_ran_is_told_from_one_that_did_not():
    answered = "Server:\t\t127.0.0.11\nAddress:\t127.0.0.11:53\n\nName:\tnp-b\nAddress: 10.0.0.3\n"
    assert probes.nslookup(in_shell(answered), "np-b")[1] == ["10.0.0.3"]
    nx = "Server:\t\t127.0.0.11\nAddress:\t127.0.0.11:53\n\n** server can't find np-c: NXDOMAIN\n"
    assert probes.nslookup(in_shell(nx, status=1), "np-c")[1] == []
    with pytest.raises(LabBroken, match="nslookup did not run"):
        probes.nslookup(in_shell(stderr="nslookup: applet not found", status=127), "np-b")


class CapturingHost:
    """A lab host whose tcpdump lives `lives` seconds and says what it says; its pcap header is there at once."""

    name = "outside"

    def __init__(self, lives: float, said: str):
        self.lives, self.said = lives, said

    def run(self, argv, timeout: float = 60, check: bool = False):
        if argv[0] == "timeout":  # the capture itself
            time.sleep(self.lives)
            return CommandResult(argv, 0, "", self.said, self.name)
        return CommandResult(argv, 0, "", "", self.name)

    def read_file(self, path: str) -> bytes:
        return b""


def capture_through_a_window(host, tmp_path, window: float = 0.5):
    capture = wire.Capture(NetNamespace.of_host(host), "eth0", "tcp", tmp_path / "at-outside.pcap")
    with capture:
        time.sleep(window)


def test_a_capture_that_died_before_the_window_closed_proves_nothing(tmp_path):
    with pytest.raises(LabBroken, match="capture on outside, host namespace eth0 had ended before the window closed"):
        capture_through_a_window(CapturingHost(0.2, "tcpdump: pcap_loop: The interface went down"), tmp_path)


def test_a_capture_that_did_not_say_what_it_captured_proves_nothing(tmp_path):
    with pytest.raises(LabBroken, match="did not say what it captured"):
        capture_through_a_window(CapturingHost(1.2, ""), tmp_path)


def test_a_capture_alive_to_the_end_counts(tmp_path):
    said = "3 packets captured\n3 packets received by filter\n0 packets dropped by kernel"
    capture_through_a_window(CapturingHost(1.0, said), tmp_path)
