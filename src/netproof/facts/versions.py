"""The Docker releases netproof knows, and the one way it compares versions."""

import re
from dataclasses import dataclass

from netproof.errors import NetproofError


@dataclass(frozen=True)
class Release:
    """A Docker release netproof can run, and where its build comes from: a Debian suite's docker.io, or Docker's
    static tarball of a full version."""

    version: str
    suite: str | None
    kv_store: bool  # the legacy --cluster-store control plane (removed in 23.0)
    static: str | None = None  # docker-<static>.tgz

    @property
    def origin(self) -> str:
        return f"Debian {self.suite}" if self.suite else f"Docker's docker-{self.static}.tgz"


RELEASES = {
    r.version: r
    for r in (
        Release("20.10", "bookworm", kv_store=True),
        Release("26.1", "trixie", kv_store=False),
        Release("28.5", "sid", kv_store=False),
        Release("29.7", None, kv_store=False, static="29.7.2"),  # no Debian suite ships 29 yet
    )
}
NEWEST = max(RELEASES, key=lambda v: tuple(int(n) for n in v.split(".")))  # a topology's engine when it names none
KV_STORE_REMOVED_IN = "23.0"  # the legacy --cluster-store control plane (Docker 23.0 release notes)


def no_kv_store(engine: str) -> str:
    """The one wording of an engine refused for a kv lab: '<engine> has no key-value store control plane (...)'."""
    return f"{engine} has no key-value store control plane (Docker removed it in {KV_STORE_REMOVED_IN})"


def version_key(version: str) -> tuple[int, ...]:
    """'20.10.24+dfsg1-1+deb12u1' -> (20, 10, 24); '26.0' -> (26, 0, 0)."""
    numbers = re.match(r"^v?(\d+(?:\.\d+)*)", str(version).strip())
    if not numbers:
        raise NetproofError(f"{version!r} is not a Docker version")
    parts = [int(p) for p in numbers.group(1).split(".")][:3]
    return tuple(parts + [0] * (3 - len(parts)))


def at_least(version: str, release: str) -> bool:
    """Whether `version` is `release` or later ('28.5.2+dfsg4' is at least '28.0')."""
    return version_key(version) >= version_key(release)


def major_minor(version: str) -> str:
    """'29.7.2' -> '29.7'."""
    major, minor, _ = version_key(version)
    return f"{major}.{minor}"
