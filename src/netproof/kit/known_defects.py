"""Known defects of Docker engines (netproof.facts.defects): their mechanisms, looked for on the lab's hosts.

A failure is put down to a known defect only when both hold: it shows one of the defect's symptoms
(tags, see facts/defects.py), and the defect's mechanism is found on a host the check used at that moment. It is
then reported as an expected failure with the reference, never as a pass, keeping everything the
failure said. A symptom without its mechanism stays a failure, and says so.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from netproof.facts.defects import KNOWN_DEFECTS, KnownDefect
from netproof.facts.versions import at_least
from netproof.lab.providers.base import LabHost

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
    if not result.ok or not re.match(r"\d+\.", version) or at_least(version, "28.0"):
        return None
    return (
        f"{host.name} runs Docker {version}, which deletes and re-inserts FORWARD's jumps (to DOCKER-USER and to "
        "DOCKER-ISOLATION-STAGE-1) for every network it creates"
    )


# Each running container's resolv.conf beside the digest of it Docker keeps ("sha256:<hex>" in <file>.hash).
_RESOLV_DIGESTS = (
    'for id in $(docker ps -q); do p=$(docker inspect -f "{{.ResolvConfPath}}" $id); [ -f "$p.hash" ] || continue; '
    'echo "$id sha256:$(sha256sum "$p" | cut -d" " -f1) $(cat "$p.hash")"; done'
)


def resolv_conf_digest_stale(host: LabHost) -> str | None:
    """moby/moby#51614's mechanism: a container's /etc/resolv.conf whose digest Docker kept does not match the file
    (an earlier engine rewrote the file without it), so 29.1.0 takes the file for the user's and, restarting the
    container, gives its embedded DNS no servers to forward to."""
    result = host.run(["sh", "-c", _RESOLV_DIGESTS])
    stale = [line.split()[0] for line in result.stdout.splitlines() if len(line.split()) == 3 and
             line.split()[1] != line.split()[2]] if result.ok else []  # fmt: skip
    if not stale:
        return None
    return (
        f"{len(stale)} container(s) on {host.name} whose resolv.conf no longer matches the digest Docker kept of it "
        f"(resolv.conf.hash), so Docker takes it for the user's: {', '.join(stale[:4])}"
    )


MECHANISMS: dict[str, Callable[[LabHost], str | None]] = {
    "stuck-threads": stuck_threads,
    "reinserts-user-jump": reinserts_user_jump,
    "resolv-conf-digest-stale": resolv_conf_digest_stale,
}


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


def look_for(symptom: str, host: LabHost) -> dict[str, str]:
    """The mechanisms of the defects a symptom points to, looked for on the host at once, while the symptom shows:
    {mechanism: what was found}. A mechanism can pass before the check ends (a stuck thread that exits)."""
    wanted = {d.mechanism for d in KNOWN_DEFECTS if symptom in d.symptoms and d.mechanism in MECHANISMS}
    found = {name: MECHANISMS[name](host) for name in sorted(wanted)}
    return {name: f"{said} (when the symptom showed)" for name, said in found.items() if said}


def recognise(
    symptoms: Iterable[str], hosts: list[LabHost], control_plane: str, sightings: dict[str, str] | None = None
) -> Recognition | None:
    """The first known defect whose symptom and mechanism the failure shows; else the first whose symptom alone
    it shows (reported as a failure that says so); else None. Symptoms overlap (FORWARD without the jump to
    DOCKER-USER at its head is both defects' symptom): the mechanism found decides. A mechanism is looked for on
    the check's hosts now, and taken from `sightings` where the check saw it while the symptom showed."""
    seen = set(symptoms)
    shown = []
    for defect in KNOWN_DEFECTS:
        if control_plane not in defect.control_planes or not seen & defect.symptoms:
            continue
        look = MECHANISMS.get(defect.mechanism)  # None: seen only while it happened (a counter before and after)
        found = [d for d in (look(h) for h in hosts) if d] if look else []
        if not found and sightings and defect.mechanism in sightings:
            found = [sightings[defect.mechanism]]
        shown.append(Recognition(defect, "; ".join(found) or None))
    return next((r for r in shown if r.known), shown[0] if shown else None)
