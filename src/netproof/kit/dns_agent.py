"""A DNS upstream that answers one way, and a client that asks one question, run by netproof inside a network
namespace of a lab host (a container's). Standard library only: netproof sends this file's source to the host's
python3 (`python3 -c`), as it does the flow agent, so nothing is installed in the containers.

    serve MODE PORT [NAME=ADDRESS ...]   answer every query on udp PORT, the way MODE says:
        answer      NAME's A record; NXDOMAIN (not authoritative, as a forwarding resolver says it) for others
        nxdomain    NXDOMAIN for every name, not authoritative
        servfail    SERVFAIL for every name
        refused     REFUSED for every name
        silent      read every query, answer none (a server that times out)
    ask SERVER NAME TIMEOUT              one A query for NAME to SERVER:53 (udp), its answer or none

Each line it prints is an event with the wall-clock time it happened (upstreams.py reads them):
    ready <t>                                   the server listens
    query <t> <ip>:<port> <name> <type> <reply> a query came (its question), and what was answered (or "none")
    answer <t> <rcode> <seconds> <a,b|->        the client's answer: its response code, how long it took, addresses
    timeout <t> <seconds>                       no answer came within TIMEOUT
    unanswered <t> <seconds> <why>              the question met an error instead (port unreachable: nothing listens)
"""

import random
import socket
import struct
import sys
import time

RCODES = {0: "NOERROR", 2: "SERVFAIL", 3: "NXDOMAIN", 5: "REFUSED"}
TYPES = {1: "A", 28: "AAAA"}


def say(*words):
    sys.stdout.write(" ".join([words[0], f"{time.time():.3f}", *map(str, words[1:])]) + "\n")
    sys.stdout.flush()


def question(packet):
    """The query's name, type and the question section's end."""
    labels, at = [], 12
    while packet[at]:
        labels.append(packet[at + 1 : at + 1 + packet[at]].decode("ascii", "replace"))
        at += 1 + packet[at]
    qtype = struct.unpack("!H", packet[at + 1 : at + 3])[0]
    return ".".join(labels).lower(), qtype, at + 5


def past_name(packet, at):
    """Where a (possibly compressed) name that starts at `at` ends."""
    while packet[at]:
        if packet[at] & 0xC0 == 0xC0:
            return at + 2
        at += 1 + packet[at]
    return at + 1


def reply(packet, rcode, address=None):
    ident, flags = struct.unpack("!HH", packet[:4])
    _, _, end = question(packet)
    flags = 0x8000 | (flags & 0x7900) | 0x0080 | rcode  # a response, the query's opcode and RD, RA; never AA
    header = struct.pack("!HHHHHH", ident, flags, 1, 1 if address else 0, 0, 0)
    answer = b""
    if address:  # a pointer to the question's name, A, IN, 60 s, 4 bytes
        answer = struct.pack("!HHHIH", 0xC00C, 1, 1, 60, 4) + socket.inet_aton(address)
    return header + packet[12:end] + answer


def serve(mode, port, records):
    server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    server.bind(("0.0.0.0", port))
    say("ready")
    while True:
        packet, peer = server.recvfrom(4096)
        try:
            name, qtype, _ = question(packet)
        except (IndexError, struct.error):
            continue
        rcode, address = {"servfail": 2, "refused": 5, "nxdomain": 3}.get(mode, 0), None
        if mode == "answer":
            address = records.get(name) if qtype == 1 else None
            rcode = 0 if name in records else 3
        said = "none" if mode == "silent" else RCODES[rcode] + (f":{address}" if address else "")
        say("query", f"{peer[0]}:{peer[1]}", name, TYPES.get(qtype, qtype), said)
        if mode != "silent":
            server.sendto(reply(packet, rcode, address), peer)


def ask(server, name, timeout):
    ident = random.randrange(1 << 16)
    labels = b"".join(bytes([len(part)]) + part.encode() for part in name.rstrip(".").split("."))
    query = struct.pack("!HHHHHH", ident, 0x0100, 1, 0, 0, 0) + labels + b"\0" + struct.pack("!HH", 1, 1)
    client = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    client.settimeout(timeout)
    began = time.time()
    client.sendto(query, (server, 53))
    while True:
        try:
            packet, _ = client.recvfrom(4096)
        except socket.timeout:  # noqa: UP041 - a host's python3 may be older than 3.10
            say("timeout", f"{time.time() - began:.2f}")
            return
        except OSError as e:
            say("unanswered", f"{time.time() - began:.2f}", e.strerror or type(e).__name__)
            return
        if struct.unpack("!H", packet[:2])[0] == ident:
            break
    rcode = struct.unpack("!H", packet[2:4])[0] & 0xF
    count = struct.unpack("!H", packet[6:8])[0]
    _, _, at = question(packet)
    addresses = []
    for _ in range(count):
        at = past_name(packet, at)
        rtype, _, _, length = struct.unpack("!HHIH", packet[at : at + 10])
        if rtype == 1:
            addresses.append(socket.inet_ntoa(packet[at + 10 : at + 14]))
        at += 10 + length
    took = time.time() - began
    say("answer", RCODES.get(rcode, rcode), f"{took:.2f}", ",".join(addresses) or "-")


def main(argv):
    if argv[0] == "serve":
        records = dict(pair.split("=", 1) for pair in argv[3:] if "=" in pair)
        serve(argv[1], int(argv[2]), {k.lower(): v for k, v in records.items()})
    elif argv[0] == "ask":
        ask(argv[1], argv[2], float(argv[3]))


if __name__ == "__main__":
    main(sys.argv[1:])
