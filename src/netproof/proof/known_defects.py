"""Known defects of Docker engines: failures the checks see that Docker's maintainers know of.

A failure is put down to a known defect only when both hold: its message shows the defect's
symptom, and the defect's mechanism is found on a host the check used at that moment. It is
then reported as an expected failure with the reference, never as a pass.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from netproof.providers.base import LabHost

# Counts the daemon's threads whose network namespace is not the host's own.
_STUCK_THREADS = (
    "p=$(cat /run/docker.pid) && own=$(stat -L -c %i /proc/self/ns/net) && n=0 && "
    'for t in /proc/$p/task/*/ns/net; do [ "$(stat -L -c %i $t)" = "$own" ] || n=$((n+1)); done; echo $n'
)


@dataclass(frozen=True)
class KnownDefect:
    reference: str
    summary: str
    symptom: re.Pattern

    def diagnose(self, host: LabHost) -> str | None:
        """Evidence that the defect's mechanism is present on the host, or None."""
        result = host.run(["sh", "-c", _STUCK_THREADS])
        stuck = int(result.stdout.strip() or 0) if result.ok else 0
        return f"{stuck} dockerd thread(s) on {host.name} stuck in other network namespaces" if stuck else None

    def explains(self, failure: str, hosts: list[LabHost]) -> str | None:
        if not self.symptom.search(failure):
            return None
        found = [d for d in (self.diagnose(h) for h in hosts) if d]
        return f"known Docker defect {self.reference}: {self.summary} ({'; '.join(found)})" if found else None


KNOWN_DEFECTS = (
    KnownDefect(
        "moby/libnetwork#1838",
        "with the key-value store control plane, the overlay driver leaves daemon threads in overlay namespaces; "
        "work scheduled on them (talking to the store, allocating addresses) fails",
        # The store unreachable from a stuck thread shows as any of these, as seen in this lab: the
        # dial itself, a read that comes back empty (a network not found, by ID, or by name when a
        # container is started on it; no address allocated), and a remote container's name never
        # reaching the embedded DNS. See also moby/libnetwork#646:
        # "whenever libnetwork perceives that the cluster-store is unreachable ... things fall apart".
        re.compile(
            r"network is unreachable|etcd cluster is unavailable|from store|network \S+ not found"
            r"|with no IP address|bad address"
        ),
    ),
)


def explain(failure: str, hosts: list[LabHost]) -> str | None:
    for defect in KNOWN_DEFECTS:
        reason = defect.explains(failure, hosts)
        if reason:
            return reason
    return None
