"""The check catalogue: every conformance check, declared once, beside its code.

    from netproof.catalogue import check

    @check("OVL-PING-001", promise="containers on the same overlay network reach each other across hosts",
           scope="pair", tags=("overlay",))
    def test_cross_host_ping(pair, workspace, proof):
        ...

`check` records a Check on the function and binds the function in its module under the check's
ID as well: that is the name pytest collects it by (`__test__ = True`), so its test items are
`OVL-PING-001[swarm-docker1->docker4]` with no renaming of pytest's items. `load(folder)` reads
the catalogue of a checks folder without running anything (for `netproof checks list`), and
`validate` refuses a bad or repeated ID in one line naming the places.
"""

from __future__ import annotations

import importlib.util
import inspect
import re
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from netproof.errors import UsageError
from netproof.facts.versions import version_key

# The checks netproof carries: the package netproof.checks (the checkout's checks/), found without importing it.
SHIPPED_CHECKS = Path(importlib.util.find_spec("netproof.checks").submodule_search_locations[0]).resolve()
# The fixture each scope's checks take: one docker host, a pair of them, or the whole lab.
SCOPES = {"host": "docker_host", "pair": "pair", "lab": "lab"}
ID_FORM = re.compile(r"^[A-Z][A-Z0-9]{1,7}(-[A-Z][A-Z0-9]{1,9})?-\d{3}$")  # OVL-PING-001, DNS-001
ID_EXAMPLE = "AREA-WORD-NNN, e.g. OVL-PING-001 or DNS-001"
# What a check may need of its lab beyond Docker: the runner judges each before the check runs, and a case whose
# lab lacks one is skipped saying which and why (runner/needs.py).
NEEDS = {
    "overlay": "overlay networks between hosts: a control plane, the underlay's reachability and its ports",
    "ipv6": "IPv6 forwarding on the docker hosts (where Docker leaves it to the host)",
    "swarm": "the swarm control plane",
    "iptables": "Docker's iptables firewall backend (not nftables)",
    "ipv6-underlay": "an underlay with IPv6 (the subnets' cidr6)",
    "kernel:ipvs": "IPVS in the docker hosts' kernels",
    "kernel:esp": "IPsec ESP with AES-GCM in the docker hosts' kernels",
    "router-routes": "a route on the lab's router to a check's own subnet (on ssh labs, where ssh: {allow} says so)",
    "lan-addresses": "addresses of the underlay's subnets for containers (on ssh labs, where ssh: {allow} says so)",
    "daemon:allow-direct-routing": "a docker host whose daemon.json sets allow-direct-routing (labs/configured.yml's "
    "docker2)",
    "daemon:bridge-accept-fwmark": "a docker host whose daemon.json sets bridge-accept-fwmark (labs/nftables.yml's "
    "docker2)",
}


class CatalogueError(UsageError):
    """A check declared wrongly: what is wrong, and where."""


@dataclass(frozen=True)
class Check:
    id: str
    promise: str  # what Docker promises, one sentence
    scope: str  # host, pair or lab
    tags: tuple[str, ...] = ()
    since: str | None = None  # the first Docker version that keeps the promise
    until: str | None = None  # the first Docker version that no longer keeps it
    reference: str | None = None  # the release note or moby PR that says so
    where: str = ""  # file:line of the declaration
    variants: tuple[str, ...] = ()  # forms of the promise, each its own case per scope (the `variant` fixture)
    needs: tuple[str, ...] = ()  # what of the lab it needs beyond Docker (NEEDS): this, never its tags, gates it
    proves: tuple[str, ...] = ()  # what of the underlay it proves itself (the path MTU): its verdict, not the lab's

    @property
    def variant_count(self) -> int:
        return len(self.variants) or 1

    def promised_on(self, version: str) -> bool:
        """Whether Docker of that version (e.g. '20.10.24+dfsg1') makes this promise."""
        v = version_key(version)
        return not ((self.since and v < version_key(self.since)) or (self.until and v >= version_key(self.until)))

    @property
    def engines(self) -> str:
        """Where the promise holds, for people: 'all', '26.0 and later', 'before 23.0', '26.0 to before 29.0'."""
        if self.since and self.until:
            return f"{self.since} to before {self.until}"
        if self.since:
            return f"{self.since} and later"
        if self.until:
            return f"before {self.until}"
        return "all"

    def to_dict(self) -> dict:
        return {
            "id": self.id,
            "promise": self.promise,
            "scope": self.scope,
            "tags": list(self.tags),
            "since": self.since,
            "until": self.until,
            "reference": self.reference,
            "engines": self.engines,
            "where": self.where,
            "variants": list(self.variants),
            "needs": list(self.needs),
            "proves": list(self.proves),
        }


@dataclass(frozen=True)
class Case:
    """One instance of a check: which hosts it ran on, with which control plane and engines."""

    label: str  # as in the test ID: swarm-docker1->docker4
    control_plane: str
    hosts: tuple[str, ...] = ()
    engines: dict[str, str] = field(default_factory=dict)  # host -> Docker version it ran

    def to_dict(self) -> dict:
        return {
            "label": self.label,
            "control_plane": self.control_plane,
            "hosts": list(self.hosts),
            "engines": self.engines,
        }


def check(
    id: str,
    *,
    promise: str,
    scope: str,
    tags: Iterable[str] = (),
    since: str | None = None,
    until: str | None = None,
    reference: str | None = None,
    variants: Iterable[str] = (),
    needs: Iterable[str] = (),
    proves: Iterable[str] = (),
) -> Callable:
    """Declare a conformance check (see the module's docstring)."""

    def declare(fn: Callable) -> Callable:
        source = Path(inspect.getsourcefile(fn) or "?")
        where = f"{_relative(source)}:{fn.__code__.co_firstlineno}"
        fn.netproof_check = Check(
            id,
            promise,
            scope,
            tuple(tags),
            since,
            until,
            reference,
            where,
            tuple(variants),
            tuple(needs),
            tuple(proves),
        )
        fn.__test__ = True
        module = sys.modules.get(fn.__module__)
        if module is not None:
            setattr(module, id, fn)  # the name pytest collects it by
        return fn

    return declare


def check_of(obj: object) -> Check | None:
    return getattr(obj, "netproof_check", None)


def validate(checks: Iterable[Check]) -> list[Check]:
    """The checks, sorted by ID, once each is well formed and no ID is declared twice."""
    seen: dict[str, Check] = {}
    for c in checks:
        if not ID_FORM.match(c.id):
            raise CatalogueError(f"{c.where}: check ID {c.id!r} is not of the form {ID_EXAMPLE}")
        if c.id in seen and seen[c.id].where != c.where:  # the same check seen twice (its name, its ID) is one
            raise CatalogueError(f"check ID {c.id} is declared twice: {seen[c.id].where} and {c.where}")
        if c.scope not in SCOPES:
            raise CatalogueError(f"{c.where}: {c.id}: scope {c.scope!r} is not one of {', '.join(SCOPES)}")
        unknown = [n for n in c.needs if n not in NEEDS]
        if unknown:
            raise CatalogueError(f"{c.where}: {c.id}: needs {unknown[0]!r}, not one of {', '.join(NEEDS)}")
        if len(set(c.variants)) != len(c.variants):
            raise CatalogueError(f"{c.where}: {c.id}: variants {list(c.variants)} name one twice")
        if not c.promise.strip():
            raise CatalogueError(f"{c.where}: {c.id}: promise is empty; say in one sentence what Docker promises")
        if (c.since or c.until) and not c.reference:
            raise CatalogueError(f"{c.where}: {c.id}: since/until need a reference (the release note or moby PR)")
        for version in filter(None, (c.since, c.until)):
            if not re.match(r"^\d+\.\d+", version):
                raise CatalogueError(f"{c.where}: {c.id}: {version!r} is not a Docker version such as 26.0")
        seen[c.id] = c
    return sorted(seen.values(), key=lambda c: c.id)


def load(folder: Path) -> list[Check]:
    """The catalogue of a checks folder: its test_*.py modules imported (nothing run), validated."""
    folder = Path(folder).resolve()
    if not folder.is_dir():
        raise CatalogueError(f"{folder}: no such checks folder")
    found = []
    for path in sorted(folder.glob("test_*.py")):
        name = f"netproof_catalogue_{abs(hash(str(folder)))}.{path.stem}"
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module  # check() binds the function in its module
        try:
            spec.loader.exec_module(module)
        except Exception as e:  # noqa: BLE001 - a broken module is named, not a traceback
            raise CatalogueError(f"{path}: cannot be imported: {type(e).__name__}: {e}") from None
        finally:
            sys.modules.pop(name, None)
        found += [c for c in map(check_of, vars(module).values()) if c]
    return validate(sorted(set(found), key=_place))


def markdown(checks: Iterable[Check]) -> str:
    """The README's table of checks, made from the catalogue (a unit test keeps the README's equal to it)."""
    lines = ["| ID | scope | engines | Docker promises |", "| --- | --- | --- | --- |"]
    for c in checks:
        engines = f"{c.engines} ({c.reference})" if c.reference else c.engines
        scope = f"{c.scope} × {', '.join(c.variants)}" if c.variants else c.scope
        lines.append(f"| {c.id} | {scope} | {engines} | {c.promise} |")
    return "\n".join(lines)


def _place(c: Check) -> tuple[str, int]:
    file, _, line = c.where.rpartition(":")
    return file, int(line) if line.isdigit() else 0


def _relative(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)
