"""Where a case's time goes (issue 38): every command netproof runs and every Docker API call it makes is timed as it
ends and added, by kind, to the timeline of the case under way in this process (a pytest worker runs one case at a
time); so is the time spent sleeping between a wait's looks. Outside a case nothing is kept.

Kinds are what a reader acts on: `docker exec` (a probe run in a container), `docker <verb>` (the CLI),
`api POST /containers/{id}/start`, `tcpdump` (a capture, for as long as it runs), `iptables`, `nft`, `ip`, the sleep
between a wait's looks. A command entered into a namespace, or bounded by `timeout`, is counted by what runs inside.
Kinds overlap in time (a capture runs beside the probes it watches, hosts are asked in parallel): their seconds add
up to more than the case's duration, and say where it waited, not a partition of it."""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field

_ID = re.compile(r"/[0-9a-f]{12,64}(?=/|$)|/np-[\w.-]+(?=/|$)")  # a container's or network's ID or netproof's name
_VERSION = re.compile(r"^/v\d+\.\d+")


@dataclass
class Timeline:
    """One case's time by kind: calls and seconds."""

    spent: dict[str, list[float]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)  # commands run in threads too

    def add(self, kind: str, seconds: float) -> None:
        with self.lock:
            calls_and_seconds = self.spent.setdefault(kind, [0, 0.0])
            calls_and_seconds[0] += 1
            calls_and_seconds[1] += seconds

    def summary(self) -> dict[str, dict[str, float]]:
        """{kind: {"calls": n, "seconds": s}}, the longest first."""
        ordered = sorted(self.spent.items(), key=lambda item: -item[1][1])
        return {kind: {"calls": int(n), "seconds": round(s, 2)} for kind, (n, s) in ordered}


_current: Timeline | None = None


def begin() -> Timeline:
    """A new case's timeline: from now on, what this process spends is added to it."""
    global _current
    _current = Timeline()
    return _current


def end() -> Timeline | None:
    """The case's timeline, closed: nothing more is added to it."""
    global _current
    done, _current = _current, None
    return done


def record(kind: str, seconds: float) -> None:
    if _current is not None:
        _current.add(kind, seconds)


def command_kind(argv: list[str]) -> str:
    """What a command is, for the timeline: the program that runs in the end, and the docker CLI's verb."""
    inner = list(argv)
    while inner and inner[0] in ("nsenter", "timeout") or inner[:3] == ["ip", "netns", "exec"]:
        if inner[0] == "timeout":  # timeout [options] DURATION argv: what it bounds
            inner = inner[1:]
            while inner and inner[0].startswith("-"):
                inner = inner[2:] if inner[0] in ("-s", "-k") else inner[1:]  # these two take a value
            inner = inner[1:]
        elif inner[0] == "nsenter" and "--" in inner:
            inner = inner[inner.index("--") + 1 :]
        elif inner[0] == "nsenter":  # nsenter --net=PATH argv: its options are attached to their values
            inner = inner[1:]
            while inner and inner[0].startswith("-"):
                inner = inner[1:]
        else:
            inner = inner[4:]
    if not inner:
        return "(nothing)"
    program = inner[0].rsplit("/", 1)[-1]
    if program == "docker" and len(inner) > 1:
        verb = next((a for a in inner[1:] if not a.startswith("-")), "")
        grouped = verb in ("network", "container", "image")  # their own verbs say more: docker network connect
        return f"docker {verb} {_next(inner, verb)}" if grouped else f"docker {verb}"
    if program in ("sh", "bash") and len(inner) > 2 and inner[1] == "-c":
        return f"sh -c {inner[2].split()[0] if inner[2].split() else ''}"
    return program


def _next(argv: list[str], after: str) -> str:
    rest = argv[argv.index(after) + 1 :]
    return next((a for a in rest if not a.startswith("-")), "")


def api_kind(method: str, path: str) -> str:
    """A Docker API call, for the timeline: its method and path, the API version and object IDs taken out."""
    path = _VERSION.sub("", path.split("?", 1)[0])
    return f"api {method} {_ID.sub('/{id}', path)}"


def api_response(response, *args, **kwargs) -> None:
    """A requests response hook: the call's time to its answer's headers (a stream's rest is not waited for)."""
    record(api_kind(response.request.method, response.request.path_url), response.elapsed.total_seconds())
