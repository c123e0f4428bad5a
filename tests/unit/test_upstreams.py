"""The DNS agent's wire format (kit/dns_agent.py) and what netproof reads from it (kit/upstreams.py): a reply is a
well-formed answer to its query, whatever the mode, and the event lines read back as they were said. The packets
are built and parsed here, in memory: no socket."""

from __future__ import annotations

import struct

from netproof.kit import dns_agent, upstreams


def query(name: str, qtype: int = 1, ident: int = 0x1234) -> bytes:
    labels = b"".join(bytes([len(p)]) + p.encode() for p in name.split("."))
    return struct.pack("!HHHHHH", ident, 0x0100, 1, 0, 0, 0) + labels + b"\0" + struct.pack("!HH", qtype, 1)


def test_a_query_is_read_as_its_name_and_type():
    assert dns_agent.question(query("Service.Upstream.test", qtype=28))[:2] == ("service.upstream.test", 28)


def test_an_answer_carries_the_querys_id_question_and_address_and_is_never_authoritative():
    asked = query("service.upstream.test")
    packet = dns_agent.reply(asked, 0, "192.0.2.44")
    ident, flags, questions, answers = struct.unpack("!HHHH", packet[:8])
    assert (ident, questions, answers) == (0x1234, 1, 1)
    assert flags & 0x8000 and flags & 0x0100 and flags & 0x0080  # a response, recursion desired and available
    assert not flags & 0x0400, "a forwarding resolver's answer is not authoritative"
    assert flags & 0xF == 0
    assert packet[12 : len(asked)] == asked[12:]
    assert packet.endswith(bytes([192, 0, 2, 44]))


def test_a_failure_is_its_response_code_with_no_answer():
    for rcode in (2, 3, 5):
        packet = dns_agent.reply(query("x.test"), rcode)
        assert struct.unpack("!H", packet[2:4])[0] & 0xF == rcode
        assert struct.unpack("!H", packet[6:8])[0] == 0


def test_a_compressed_name_is_stepped_over():
    packet = b"\0" * 12 + b"\x01a\x04test\0" + b"\xc0\x0c"
    assert dns_agent.past_name(packet, 12) == 20
    assert dns_agent.past_name(packet, 20) == 22


def test_the_agents_lines_are_read_back():
    assert upstreams.parse_answer("answer 1.5 NOERROR 0.01 192.0.2.44,192.0.2.45") == upstreams.Answer(
        "NOERROR", ("192.0.2.44", "192.0.2.45"), 0.01
    )
    assert upstreams.parse_answer("answer 1.5 NXDOMAIN 0.00 -") == upstreams.Answer("NXDOMAIN", (), 0.0)
    assert str(upstreams.parse_answer("timeout 1.5 12.00")) == "no answer in 12.0 s"
    refused = upstreams.parse_answer("unanswered 1.5 0.00 Connection refused")
    assert refused.rcode is None and str(refused) == "no answer in 0.0 s (Connection refused)"
    assert upstreams.parse_answer("Traceback (most recent call last):") is None
    said = upstreams.parse_query("query 9.25 172.20.0.6:53911 service.upstream.test A SERVFAIL")
    assert said == upstreams.Query(9.25, "172.20.0.6:53911", "service.upstream.test", "A", "SERVFAIL")
    assert str(said) == "A service.upstream.test from 172.20.0.6:53911, answered SERVFAIL"
    assert upstreams.parse_query("ready 9.0") is None
