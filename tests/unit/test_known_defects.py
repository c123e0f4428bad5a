"""A failure is put down to a known Docker defect only with both its symptom and its mechanism. Symptoms are tags: a
check's own (proof.symptom), or read from Docker's and the tools' own words (facts.defects.symptoms_in)."""

from netproof.facts import defects
from netproof.facts.defects import symptoms_in
from netproof.kit import known_defects, refusals
from netproof.kit.evidence import Proof
from netproof.kit.objects import EngineError
from netproof.kit.workspace import Workspace
from netproof.lab.model.topology import Host
from netproof.lab.providers.base import LabHost
from netproof.system import CommandResult


class RecordedHost(LabHost):
    """A host that answers the stuck-thread listing as the lab once did ("<thread> <netns inode> <netns name>")."""

    def __init__(self, name: str, stuck_threads: str):
        super().__init__(Host(name, "docker", None, None, "20.10"))
        self.stuck_threads = stuck_threads

    def run(self, cmd, *, timeout=60, check=False):
        return CommandResult(self.argv(cmd), 0, self.stuck_threads + "\n", "", self.name)

    def interactive_argv(self, cmd):
        return list(cmd)

    docker_url = "unix:///nowhere"


UNREACHABLE = (
    "500 Server Error: failed to update store for object type *libnetwork.endpointCnt: client: etcd cluster is "
    "unavailable or misconfigured; error #0: dial tcp 10.10.10.10:2379: connect: network is unreachable"
)


STUCK = "18321 4026532871 1-k3v9d0a2bf\n18344 4026532990 ?"
NONE = ""


def test_symptom_and_stuck_threads_make_a_known_defect():
    found = known_defects.recognise(
        symptoms_in(UNREACHABLE), [RecordedHost("docker3", STUCK), RecordedHost("docker4", NONE)], "kv"
    )
    assert found.known and found.defect.reference == "moby/libnetwork#1838"
    reason = str(found)
    assert reason.startswith("known Docker defect moby/libnetwork#1838")
    assert (
        "2 dockerd thread(s) on docker3 stuck in other network namespaces: 18321 in 1-k3v9d0a2bf, 18344 in netns "
        "inode 4026532990"
    ) in reason
    assert "docker4" not in reason


def test_the_symptom_without_the_mechanism_is_a_failure_that_says_so():
    found = known_defects.recognise(symptoms_in(UNREACHABLE), [RecordedHost("docker3", NONE)], "kv")
    assert not found.known
    assert str(found) == (
        "the symptom of moby/libnetwork#1838, but no dockerd thread stuck in another network namespace on the "
        "check's hosts: treated as a failure"
    )


def test_the_kv_stores_defect_is_not_put_on_a_swarm_whose_dockerd_is_setting_a_load_balancer_up():
    # As recorded in CI on 28.5 with swarm: a worker refused a connect; docker1's dockerd had a thread in an lb_
    # namespace at that moment. The kv store's overlay driver does not run there: a plain failure.
    failure = "Observed: Error response from daemon: network np-gw1-d5fed5-al not found"
    assert (
        known_defects.recognise(
            symptoms_in(failure), [RecordedHost("docker1", "2949 4026532871 lb_352a9lw3k")], "swarm"
        )
        is None
    )
    assert known_defects.recognise(
        symptoms_in(failure), [RecordedHost("docker1", "2949 4026532871 lb_352a9lw3k")], "kv"
    ).known


def test_the_mechanism_without_the_symptom_is_a_plain_failure():
    failure = (
        "PING 10.0.1.4 (10.0.1.4): 56 data bytes\n--- 10.0.1.4 ping statistics ---\n3 packets transmitted, 0 received"
    )
    assert known_defects.recognise(symptoms_in(failure), [RecordedHost("docker1", STUCK)], "kv") is None


def test_a_network_not_found_by_name_while_starting_a_container_is_the_same_symptom():
    # Seen in CI on 20.10 with the kv store: the workspace had seen the network on docker3, then
    # starting a container on it failed (an EngineError, not a proof.require failure): Docker's words are its own.
    refused = EngineError(
        "docker3: Docker would not start container np-gw0-a982e7-ov1a on np-gw0-7e1499-ov1: ...",
        said="network np-gw0-7e1499-ov1 not found",
    )
    hosts = [RecordedHost("docker3", NONE), RecordedHost("docker4", "7 4026533001 ?")]
    found = known_defects.recognise(refused.symptoms, hosts, "kv")
    assert found.known and "1 dockerd thread(s) on docker4 stuck" in str(found)
    unstuck = [RecordedHost("docker3", NONE), RecordedHost("docker4", NONE)]
    assert not known_defects.recognise(refused.symptoms, unstuck, "kv").known


def test_a_container_started_with_no_address_is_the_kv_symptom_by_its_tag():
    refused = EngineError("docker3: Docker started container c on n with no IP address", symptoms={defects.NO_ADDRESS})
    assert known_defects.recognise(refused.symptoms, [RecordedHost("docker3", STUCK)], "kv").known


class HostRunning(LabHost):
    """A host whose `docker version` says the recorded server version."""

    def __init__(self, name: str, version: str):
        super().__init__(Host(name, "docker", None, None, version[:5]))
        self.version = version

    def run(self, cmd, *, timeout=60, check=False):
        return CommandResult(self.argv(cmd), 0, self.version + "\n", "", self.name)

    def interactive_argv(self, cmd):
        return list(cmd)

    docker_url = "unix:///nowhere"


# As FW-USER-001 saw it on 20.10 with the kv store, six checks at once (the DROP bypassed twice while Docker
# created 2 other networks on docker1).
BYPASSED = {defects.BYPASSED_WHILE_CREATING}


def test_a_drop_bypassed_while_other_networks_were_created_is_known_before_28():
    found = known_defects.recognise(BYPASSED, [HostRunning("docker1", "20.10.24+dfsg1")], "swarm")
    assert found.known and found.defect.reference == "moby/moby#43585"
    assert "docker1 runs Docker 20.10.24+dfsg1, which deletes and re-inserts FORWARD's jump" in str(found)


def test_the_same_bypass_on_28_is_a_failure():
    found = known_defects.recognise(BYPASSED, [HostRunning("docker1", "28.5.2+dfsg4")], "swarm")
    assert not found.known
    assert "run Docker 28.0 or later" in str(found)


def test_a_bypass_with_no_network_created_meanwhile_is_a_plain_failure():
    plain: set[str] = set()  # probes got through, with no network created meanwhile
    assert known_defects.recognise(plain, [HostRunning("docker1", "20.10.24+dfsg1")], "swarm") is None


# As FW-USER-001 said it on 20.10 with the kv store (2 checks at once, nothing else creating networks): dockerd had
# run `iptables -I FORWARD -j DOCKER-USER` from a thread stuck in a removed namespace, where the chain did not exist.
JUMP_NOT_PUT_BACK = {defects.USER_JUMP_MISSING}


def test_a_jump_to_docker_user_not_put_back_by_a_stuck_thread_is_the_kv_defect():
    found = known_defects.recognise(JUMP_NOT_PUT_BACK, [RecordedHost("docker3", STUCK)], "kv")
    assert found.known and found.defect.reference == "moby/libnetwork#1838"
    assert not known_defects.recognise(JUMP_NOT_PUT_BACK, [RecordedHost("docker3", NONE)], "kv").known


def test_when_two_defects_show_the_symptom_the_one_whose_mechanism_is_found_is_named():
    both = BYPASSED | JUMP_NOT_PUT_BACK
    found = known_defects.recognise(both, [HostRunning("docker1", "20.10.24+dfsg1")], "swarm")  # no thread stuck: 43585
    assert found.known and found.defect.reference == "moby/moby#43585"


def test_a_remote_name_the_embedded_dns_never_learned_is_the_kv_symptom():
    # Seen on 20.10 with the kv store: nslookup's answer once the name, unknown to the embedded DNS, was sent on.
    failure = (
        "DNS-001 failed [kv-docker1->docker4]\nExpected: np-gw2-d1deb2-b resolves to 10.0.6.2 alone\n"
        'Observed: no answer (["** server can\'t find np-gw2-d1deb2-b: REFUSED"])'
    )
    found = known_defects.recognise(
        symptoms_in(failure), [RecordedHost("docker1", NONE), RecordedHost("docker4", STUCK)], "kv"
    )
    assert found.known and found.defect.reference == "moby/libnetwork#1838"


def test_the_footprint_starts_a_container_again_past_a_known_defect_a_check_reports_it():
    """The CI failure of 2026-11-29: the footprint's container on a kv lab refused with the store unreachable."""
    host = RecordedHost("docker2", STUCK)
    inventory = Workspace("kv", host, [host], retry_known_defects=True)
    again = refusals.worth_another_start(inventory, host, UNREACHABLE)
    assert again.startswith(": known Docker defect moby/libnetwork#1838") and "on docker2" in again
    # a check's workspace (no retry_known_defects): the failure stands
    assert refusals.worth_another_start(Workspace("kv", host, [host]), host, UNREACHABLE) is None
    unstuck = RecordedHost("docker2", NONE)
    assert refusals.worth_another_start(inventory, unstuck, UNREACHABLE) is None  # the symptom alone is a failure


def test_an_overlay_that_cannot_be_removed_for_an_endpoint_count_never_decremented_is_the_kv_defect():
    # As CI's footprint met it on 20.10 kv, after dockerd logged "failed to decrement endpoint count for ep ...:
    # ... dial tcp 10.10.10.10:2379: connect: network is unreachable" for a container removed from a stuck thread.
    refusal = (
        '403 Client Error for http+docker://localhost/v1.41/networks/89b7df47: Forbidden ("error while removing '
        'network: network np-main-2265b2-fp-iov id 89b7df47 has active endpoints")'
    )
    found = known_defects.recognise(
        symptoms_in(refusal), [RecordedHost("docker1", NONE), RecordedHost("docker2", STUCK)], "kv"
    )
    assert found.known and found.defect.reference == "moby/libnetwork#1838"
    assert not known_defects.recognise(symptoms_in(refusal), [RecordedHost("docker1", NONE)], "kv").known


def test_a_mechanism_seen_while_the_symptom_showed_counts_when_it_has_passed_by_the_verdict():
    # CI on 20.10 with the kv store: FW-USER-001 found FORWARD without its jump to DOCKER-USER on docker3; by the
    # verdict no thread was stuck there. What the check saw at once is what decides.
    proof = Proof("FW-USER-001", "a DROP ... holds", "kv-docker3")
    proof.symptom(defects.USER_JUMP_MISSING, on=RecordedHost("docker3", STUCK))
    assert set(proof.sightings) == {"stuck-threads"}
    assert proof.exhibits[-1].title == f"known defects' mechanisms when {defects.USER_JUMP_MISSING} showed"
    now = [RecordedHost("docker3", NONE)]
    found = known_defects.recognise(proof.symptoms, now, "kv", proof.sightings)
    assert found.known and found.defect.reference == "moby/libnetwork#1838"
    assert "2 dockerd thread(s) on docker3 stuck" in str(found) and "(when the symptom showed)" in str(found)
    assert not known_defects.recognise(proof.symptoms, now, "kv").known


def test_nothing_is_sighted_where_no_mechanism_shows():
    proof = Proof("FW-USER-001", "a DROP ... holds", "kv-docker3")
    proof.symptom(defects.USER_JUMP_MISSING, on=RecordedHost("docker3", NONE))
    assert proof.sightings == {} and proof.exhibits == []


def test_each_known_defect_names_what_reproduced_it_and_the_engines_it_affects():
    """Issue 27's database, seeded: every entry was reproduced on netproof's labs by a check or continuity promise."""
    from netproof import catalogue
    from netproof.facts import continuity
    from netproof.jobs import checkrun

    ids = {c.id for c in catalogue.load(checkrun.checks_dir())}
    ids |= {p.id for p in (continuity.RELOAD, continuity.LIVE_RESTORE, continuity.RESTART, continuity.ROLLING)}
    ids.add(continuity.CARRIED.id)
    for defect in defects.KNOWN_DEFECTS:
        assert defect.reproduced_by and set(defect.reproduced_by) <= ids, defect.reference
    by_ref = {d.reference: d for d in defects.KNOWN_DEFECTS}
    assert by_ref["moby/moby#34660"].versions == "28.0 and later (not fixed)"
    assert by_ref["moby/moby#43585"].versions == "every release netproof runs, until 28.0"
    on_26 = [d.reference for d in defects.KNOWN_DEFECTS if d.affects("26.1.5")]
    assert on_26 == ["moby/moby#43585", "moby/moby#38784", "moby/moby#44688"]
    assert by_ref["moby/moby#44688"].versions == "23.0 and later, until 28.0"
    assert [d.reference for d in defects.KNOWN_DEFECTS if d.affects("28.5.2")] == ["moby/moby#34660", "moby/moby#38784"]
    assert by_ref["moby/moby#38784"].versions == "every release netproof runs, until 29.0"


def test_defects_list_says_each_with_its_reference_and_workaround(capsys):
    from netproof.cli import main

    assert main(["defects", "list", "--engine", "20.10.24"]) == 0
    out = capsys.readouterr().out
    assert out.count("\n  workaround:") == 3 and "moby/libnetwork#1838  (every release netproof runs, until 23.0" in out
    assert "moby/moby#34660" not in out


def test_the_udp_flush_defects_of_29_are_dated_from_moby_source_and_show_where_netproof_met_them(capsys):
    """29.5.0 flushed nothing (the unset address of moby/moby#52423, mended in 29.5.1 by #52640); from 29.5.0 on, a
    host port other than the container's is flushed by the wrong port (#53384). Seen on 29.5.0 and 29.7.2."""
    from netproof.cli import main

    by_ref = {d.reference: d for d in defects.KNOWN_DEFECTS}
    assert [d.reference for d in defects.KNOWN_DEFECTS if d.affects("29.5.0")] == [
        "moby/moby#34660",
        "moby/moby#53384",
        "moby/moby#52640",
    ]
    assert "moby/moby#52640" not in [d.reference for d in defects.KNOWN_DEFECTS if d.affects("29.5.1")]
    assert not by_ref["moby/moby#53384"].affects("29.4.3") and by_ref["moby/moby#53384"].affects("29.7.2")
    for defect in defects.KNOWN_DEFECTS:  # never met and clear on one engine
        assert not set(defect.observed_on) & set(defect.clear_on), defect.reference
        assert all(defect.affects(v) for v in defect.observed_on), defect.reference
    assert main(["defects", "list", "--engine", "29.5.0"]) == 0
    out = capsys.readouterr().out
    assert "moby/moby#52640  (29.5.0 and later, until 29.5.1" in out
    assert "  observed on:   29.5.0\n  clear on:      28.5.2, 29.1.0, 29.7.2\n" in out


def pub_004():
    import importlib.util
    import sys
    from pathlib import Path

    spec = importlib.util.spec_from_file_location("pub004", Path(__file__).parents[2] / "checks/test_published_udp.py")
    module = sys.modules["pub004"] = importlib.util.module_from_spec(spec)  # its dataclass looks itself up there
    spec.loader.exec_module(module)
    return module


def test_pub_004_says_when_an_entry_made_the_other_way_round_holds_a_flow():
    """Recorded on 29.7.2 (docker2, the six-engine matrix, 2026-12-08): the same-port flow got nothing after the
    restart; the old container's last echo had made an entry from its address to the client."""
    entries = [
        "ipv4 2 udp 17 119 src=172.19.0.2 dst=198.51.100.10 sport=7101 dport=45633 src=198.51.100.10 "
        "dst=10.10.10.102 sport=45633 dport=7101 [ASSURED] mark=0 zone=0 use=2",
        "ipv4 2 udp 17 119 src=198.51.100.10 dst=10.10.10.102 sport=33375 dport=17102 src=10.10.10.102 "
        "dst=198.51.100.10 sport=17102 dport=33375 [ASSURED] mark=0 zone=0 use=2",
    ]
    said = pub_004().the_other_way_round(entries, "172.19.0.2", 7101, 45633)
    assert said and said.startswith("an entry made the other way round, from the old container's 172.19.0.2:7101")
    assert pub_004().the_other_way_round(entries, "172.19.0.2", 7101, 40000) is None


def test_pub_004_names_29_5_0s_defect_when_the_same_port_was_left_unflushed_too():
    """Recorded on 29.5.0 (docker1): both forms' entries to the host port left without their DNAT."""
    pub004 = pub_004()
    entries = [
        "ipv4 2 udp 17 119 src=198.51.100.10 dst=10.10.10.101 sport=44466 dport=17102 src=10.10.10.101 "
        "dst=198.51.100.10 sport=17102 dport=44466 [ASSURED] mark=0 zone=0 use=2",
        "ipv4 2 udp 17 119 src=198.51.100.10 dst=10.10.10.101 sport=43192 dport=7101 src=10.10.10.101 "
        "dst=198.51.100.10 sport=7101 dport=43192 [ASSURED] mark=0 zone=0 use=2",
        "ipv4 2 udp 17 119 src=172.19.0.1 dst=172.19.0.3 sport=34939 dport=7101 src=172.19.0.3 dst=172.19.0.1 "
        "sport=7101 dport=34939 [ASSURED] mark=0 zone=0 use=2",
    ]
    same = pub004.not_natted(entries, "10.10.10.101", 7101)
    other = pub004.not_natted(entries, "10.10.10.101", 17102)
    assert same and other and pub004.not_natted(entries, "10.10.10.101", 7103) is None
    host = RecordedHost("docker1", NONE)
    for stale, mechanism in (
        ([pub004.Unflushed("the same port", same, True), pub004.Unflushed("another", other, False)], "every-port"),
        ([pub004.Unflushed("another", other, False)], "unflushed"),
    ):
        proof = Proof("PUB-004", "a published UDP port delivers ...", "swarm-docker1")
        pub004.sight_the_proxy(proof, ["miss"] * len(stale), stale, [], host)
        found = known_defects.recognise(proof.symptoms, [host], "swarm", proof.sightings)
        want = "moby/moby#52640" if mechanism == "every-port" else "moby/moby#53384"
        assert found.known and found.defect.reference == want, (mechanism, str(found))
