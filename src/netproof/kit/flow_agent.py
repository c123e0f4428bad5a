"""A long-lived flow's two ends, run by netproof inside a network namespace of a lab host (a container's, the
host's own). Standard library only: netproof sends this file's source to the host's python3 (`python3 -c`), so
nothing is installed in the containers and no image is needed.

    serve tcp|udp PORT                    echo every line (tcp) or datagram (udp) back; say each new peer
    send tcp ADDRESS PORT EVERY           one connection, a numbered line every EVERY seconds, stop-and-wait for
                                          its echo; a connection that fails is made again
    send udp ADDRESS PORT EVERY SRCPORT   a numbered datagram every EVERY seconds from a fixed source port (0: one
                                          the kernel picks, said once)

Each line it prints is an event with the wall-clock time it happened (flows.parse reads them):
    ready <t>                 the server listens
    peer <t> <ip>:<port>      a new peer reached the server (the address it saw)
    up <t>                    the client's connection is made (tcp)
    bound <t> <port>          the port the client sends from (udp)
    sent <t> <seq>            a message left (udp)
    echo <t> <seq> <sent t>   its echo came back
    down <t> <seq> <why>      the connection failed while that message waited (tcp): it is made again
    refused <t> <why>         a connection could not be made (tcp), tried again after EVERY
"""

import socket
import sys
import threading
import time

GIVE_UP = 20.0  # seconds a tcp message may wait for its echo before its connection is counted as lost


PRINTING = threading.Lock()  # two threads print (udp's sender and receiver): one whole line at a time


def say(*words):
    line = " ".join([words[0], f"{time.time():.3f}", *map(str, words[1:])]) + "\n"
    with PRINTING:
        sys.stdout.write(line)
        sys.stdout.flush()


def serve_tcp(port):
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("0.0.0.0", port))
    server.listen(16)
    say("ready")

    def echo(conn, peer):
        say("peer", f"{peer[0]}:{peer[1]}")
        with conn:
            for line in conn.makefile("rb"):
                conn.sendall(line)

    while True:
        conn, peer = server.accept()
        threading.Thread(target=echo, args=(conn, peer), daemon=True).start()


def serve_udp(port):
    server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    server.bind(("0.0.0.0", port))
    say("ready")
    seen = set()
    while True:
        data, peer = server.recvfrom(2048)
        if peer not in seen:
            seen.add(peer)
            say("peer", f"{peer[0]}:{peer[1]}")
        server.sendto(data, peer)


def send_tcp(address, port, every):
    seq, conn, lines = 0, None, None
    while True:
        began = time.time()
        if conn is None:
            try:
                conn = socket.create_connection((address, port), timeout=1)
                conn.settimeout(GIVE_UP)
                lines = conn.makefile("rb")
                say("up")
            except OSError as e:
                say("refused", str(e).replace(" ", "_"))
                conn = None
                time.sleep(every)
                continue
        seq += 1
        sent = time.time()
        try:
            conn.sendall(f"{seq}\n".encode())
            if not lines.readline():
                raise OSError("closed by the far end")
            say("echo", seq, f"{sent:.3f}")
        except OSError as e:
            say("down", seq, (str(e) or type(e).__name__).replace(" ", "_"))
            conn.close()
            conn = None
        time.sleep(max(0.0, every - (time.time() - began)))


def send_udp(address, port, every, source_port):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("0.0.0.0", source_port))
    say("bound", sock.getsockname()[1])  # the port it sends from (0 asked the kernel for a free one)
    sent_at = {}

    def receive():
        while True:
            try:
                data, _ = sock.recvfrom(2048)
                seq = int(data.split()[0])
                say("echo", seq, f"{sent_at.get(seq, 0):.3f}")
            except (OSError, ValueError, IndexError):
                continue

    threading.Thread(target=receive, daemon=True).start()
    seq = 0
    while True:
        seq += 1
        sent_at[seq] = time.time()
        try:
            sock.sendto(f"{seq}\n".encode(), (address, port))
            say("sent", seq)
        except OSError as e:  # no route for a moment: the datagram is lost, said as not sent
            say("refused", str(e).replace(" ", "_"))
        time.sleep(every)


def main(argv):
    role, proto = argv[0], argv[1]
    if role == "serve":
        (serve_tcp if proto == "tcp" else serve_udp)(int(argv[2]))
    elif proto == "tcp":
        send_tcp(argv[2], int(argv[3]), float(argv[4]))
    else:
        send_udp(argv[2], int(argv[3]), float(argv[4]), int(argv[5]))


if __name__ == "__main__":
    main(sys.argv[1:])
