"""How a check fails: one message with the ID, the promise, expected, observed, where and evidence."""

import pytest

from netproof.kit.evidence import CheckFailed, Proof
from netproof.system import CommandResult


def test_a_failed_requirement_says_everything_a_reader_needs():
    proof = Proof("OVL-PING-001", "containers reach each other", "swarm-docker1->docker4")
    proof.command(
        "ping", CommandResult(["ping", "-c", "3", "10.0.1.4"], 1, "3 packets transmitted, 0 received", "", "docker1")
    )
    with pytest.raises(CheckFailed) as e:
        proof.require(False, expected="no loss", observed="3 sent, 0 received", where="docker1 -> docker4")
    assert str(e.value).splitlines()[:5] == [
        "OVL-PING-001 failed [swarm-docker1->docker4]",
        "Docker promises: containers reach each other",
        "Expected: no loss",
        "Observed: 3 sent, 0 received",
        "Where: docker1 -> docker4",
    ]
    assert "  -- ping [docker1]" in str(e.value) and "$ ping -c 3 10.0.1.4" in str(e.value)


def test_a_holding_requirement_records_nothing_and_raises_nothing():
    proof = Proof("X-1", "p", "")
    proof.require(True, expected="a", observed="b", where="c")
    assert proof.exhibits == []


def test_evidence_is_kept_for_the_report():
    proof = Proof("X-1", "p", "case")
    proof.data("networks", {"b": 2, "a": 1})
    exported = proof.to_dict()
    assert exported["check_id"] == "X-1" and exported["exhibits"][0]["kind"] == "json"
    assert exported["exhibits"][0]["content"].index('"a"') < exported["exhibits"][0]["content"].index('"b"')


def test_a_user_bridges_interface_name_is_taken_out_of_the_mechanism_wherever_it_stands():
    proof = Proof("BR-EGRESS-001", "a promise", "none-docker1")
    proof.mechanism(
        "NAT rule",
        [
            "-A POSTROUTING -s <subnet> ! -o br-7aa0ebd89036 -j MASQUERADE",
            'nat-postrouting-out__br-96ce5bc0a12f: oifname != "br-96ce5bc0a12f" ip saddr <subnet> counter masquerade',
        ],
    )
    assert proof.mechanisms["NAT rule"] == [
        "-A POSTROUTING -s <subnet> ! -o <bridge> -j MASQUERADE",
        'nat-postrouting-out__<bridge>: oifname != "<bridge>" ip saddr <subnet> counter masquerade',
    ]
    proof.mechanism("Docker's own", "docker0 docker_gwbridge br-lab0")
    assert proof.mechanisms["Docker's own"] == "docker0 docker_gwbridge br-lab0"
