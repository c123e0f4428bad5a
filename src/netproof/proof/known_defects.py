"""Known defects of Docker engines: failures the checks see that Docker's maintainers know of.

A failure is put down to a known defect only when both hold: its message shows the defect's
symptom, and the defect's mechanism is found on a host the check used at that moment. It is
then reported as an expected failure with the reference, never as a pass, keeping everything the
failure said. A symptom without its mechanism stays a failure, and says so.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from netproof.providers.base import LabHost

# The daemon's threads whose network namespace is not the host's own: "<thread id> <netns inode> <name>",
# the name being the namespace's file under dockerd's exec root (an overlay's "1-<network id>"), or "?".
_STUCK_THREADS = (
    "p=$(cat /run/docker.pid) && own=$(stat -L -c %i /proc/self/ns/net) && "
    'for t in /proc/$p/task/*; do i=$(stat -L -c %i $t/ns/net) || continue; [ "$i" = "$own" ] && continue; '
    'n=?; for f in /run/docker/netns/*; do [ "$(stat -L -c %i $f 2>/dev/null)" = "$i" ] && n=${f##*/}; done; '
    'echo "${t##*/} $i $n"; done'
)


def stuck_threads(host: LabHost) -> str | None:
    """moby/libnetwork#1838's mechanism on the host: which dockerd threads sit in which other namespaces."""
    result = host.run(["sh", "-c", _STUCK_THREADS])
    stuck = [line.split() for line in result.stdout.splitlines() if len(line.split()) == 3] if result.ok else []
    if not stuck:
        return None
    threads = ", ".join(f"{tid} in {name if name != '?' else 'netns inode ' + inode}" for tid, inode, name in stuck)
    return f"{len(stuck)} dockerd thread(s) on {host.name} stuck in other network namespaces: {threads}"


def reinserts_user_jump(host: LabHost) -> str | None:
    """moby/moby#43585's mechanism: an engine before 28.0, which deletes FORWARD's jump to DOCKER-USER and
    inserts it again each time it creates a network (28.0 leaves it in place, see moby/moby#49538)."""
    result = host.run(["docker", "version", "--format", "{{.Server.Version}}"])
    version = result.stdout.strip()
    major = re.match(r"(\d+)\.", version)
    if not result.ok or not major or int(major.group(1)) >= 28:
        return None
    return (
        f"{host.name} runs Docker {version}, which deletes and re-inserts FORWARD's jump to DOCKER-USER for every "
        "network it creates"
    )


@dataclass(frozen=True)
class KnownDefect:
    reference: str
    summary: str
    symptom: re.Pattern
    diagnose: Callable[[LabHost], str | None]  # the defect's mechanism on a host, described, or None
    lacking: str  # what was not found when the symptom shows without the mechanism
    control_planes: tuple[str, ...] = ("swarm", "kv", "none")  # where the defect lives

    def recognise(self, failure: str, hosts: list[LabHost], control_plane: str) -> Recognition | None:
        """None when the failure does not show the symptom, or the defect does not live on this control plane;
        else what was found of the mechanism."""
        if control_plane not in self.control_planes or not self.symptom.search(failure):
            return None
        found = [d for d in (self.diagnose(h) for h in hosts) if d]
        return Recognition(self, "; ".join(found) or None)


@dataclass(frozen=True)
class Recognition:
    """A failure that shows a known defect's symptom, and the defect's mechanism if it was found."""

    defect: KnownDefect
    mechanism: str | None

    @property
    def known(self) -> bool:
        return self.mechanism is not None

    def __str__(self) -> str:
        if self.known:
            return f"known Docker defect {self.defect.reference}: {self.defect.summary} ({self.mechanism})"
        return f"the symptom of {self.defect.reference}, but {self.defect.lacking}: treated as a failure"


KNOWN_DEFECTS = (
    KnownDefect(
        "moby/libnetwork#1838",
        "with the key-value store control plane, the overlay driver leaves daemon threads in overlay namespaces; "
        "work scheduled on them (talking to the store, allocating addresses, running iptables) fails",
        # The store unreachable from a stuck thread shows as any of these, as seen in this lab: the
        # dial itself, a read that comes back empty (a network not found, by ID, or by name when a
        # container is started on it; no address allocated), and a remote container's name never
        # reaching the embedded DNS (busybox ping: "bad address"; nslookup: the name, unknown to the embedded
        # DNS, is sent on to the lab's DNS server, which refuses it). See also moby/libnetwork#646:
        # "whenever libnetwork perceives that the cluster-store is unreachable ... things fall apart".
        # And iptables run from a stuck thread acts in that namespace: after a bridge is created the jump to
        # DOCKER-USER is not put back at FORWARD's head (dockerd: "Failed to ensure the jump rule for
        # DOCKER-USER ... Chain 'DOCKER-USER' does not exist"), so the user's rules are bypassed (FW-USER-001).
        # And a container removed from a stuck thread leaves its overlay's endpoint count in the store undecremented
        # (dockerd: "failed to decrement endpoint count for ep ...: ... network is unreachable"): the network can
        # then never be removed ("has active endpoints"; seen in CI removing the footprint's internal overlay).
        re.compile(
            r"network is unreachable|etcd cluster is unavailable|from store|network \S+ not found"
            r"|with no IP address|bad address|server can't find \S+: REFUSED|not the jump to DOCKER-USER"
            r"|has active endpoints"
        ),
        stuck_threads,
        "no dockerd thread stuck in another network namespace on the check's hosts",
        # A swarm's dockerd has threads in other namespaces too, for a moment, as it sets a load balancer's up
        # (seen in CI on 28.5: one in lb_<network>): the stuck threads of the kv store's overlay driver only count
        # where that driver runs.
        control_planes=("kv",),
    ),
    KnownDefect(
        "moby/moby#43585",
        "before 28.0, Docker rearranges FORWARD for each network it creates, deleting its jump to DOCKER-USER and "
        "inserting it again at the top, and does not order two creations against each other: while networks are "
        "created, and after two were created at once, the jump can be missing or below a bridge's own rules, and "
        "what arrives then bypasses the user's rules",
        # FW-USER-001 says when probes got through while other networks were being created on the host.
        re.compile(r"while Docker created \d+ other network"),
        reinserts_user_jump,
        "the check's hosts run Docker 28.0 or later, which leaves the jump in place",
    ),
)


def recognise(failure: str, hosts: list[LabHost], control_plane: str) -> Recognition | None:
    """The first known defect whose symptom and mechanism the failure shows; else the first whose symptom alone
    it shows (reported as a failure that says so); else None. Symptoms overlap (FORWARD without the jump to
    DOCKER-USER at its head is both defects' symptom): the mechanism found decides."""
    shown = [r for r in (defect.recognise(failure, hosts, control_plane) for defect in KNOWN_DEFECTS) if r]
    return next((r for r in shown if r.known), shown[0] if shown else None)
