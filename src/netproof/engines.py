"""Docker engines: which releases netproof knows, where their builds come from, and the local cache.

Builds are Debian's signed docker.io packages. A release from another Debian suite is fetched
through a private apt configuration (its own sources and lists under the cache), so the
machine's own apt sources are never touched, and unpacked with dpkg-deb. An unpacked dockerd
runs with the system's containerd and runc.
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from netproof import system
from netproof.errors import NetproofError
from netproof.progress import Progress

CACHE_DIR = Path(os.environ.get("NETPROOF_CACHE_DIR", "/var/cache/netproof"))
KEYRING = Path("/usr/share/keyrings/debian-archive-keyring.gpg")
SYSTEM = "system"


@dataclass(frozen=True)
class Release:
    """A Docker release netproof can run, and the Debian suite that ships it."""

    version: str
    suite: str
    kv_store: bool  # the legacy --cluster-store control plane (removed in 23.0)


RELEASES = {
    r.version: r
    for r in (
        Release("20.10", "bookworm", kv_store=True),
        Release("26.1", "trixie", kv_store=False),
        Release("28.5", "sid", kv_store=False),
    )
}
KV_STORE_REMOVED_IN = "23.0"
KNOWN = tuple(RELEASES) + (SYSTEM,)


def check_known(version: str) -> str:
    if version not in KNOWN:
        raise NetproofError(f"unknown engine {version!r}; known engines: {', '.join(KNOWN)}")
    return version


def supports_kv_store(version: str) -> bool:
    """Whether an engine still has the legacy key-value store control plane."""
    if version == SYSTEM:
        return _major_minor(system_version() or "0.0") < _major_minor(KV_STORE_REMOVED_IN)
    return RELEASES[version].kv_store


def _major_minor(version: str) -> tuple[int, int]:
    m = re.match(r"(\d+)\.(\d+)", version)
    return (int(m.group(1)), int(m.group(2))) if m else (0, 0)


@dataclass(frozen=True)
class Engine:
    """An engine ready to run: the folder whose dockerd, docker-proxy and docker-init to use."""

    version: str  # as asked: "20.10", "26.1", "28.5" or "system"
    package_version: str  # what the build says of itself
    bin_dirs: tuple[str, ...]

    @property
    def dockerd(self) -> str:
        for d in self.bin_dirs:
            if os.access(os.path.join(d, "dockerd"), os.X_OK):
                return os.path.join(d, "dockerd")
        raise NetproofError(f"engine {self.version}: no dockerd in {':'.join(self.bin_dirs)}")

    def path_env(self) -> str:
        """PATH that puts this engine's binaries (dockerd, docker-proxy, docker-init) first."""
        return ":".join(self.bin_dirs + ("/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"))


def engine_dir(version: str) -> Path:
    return CACHE_DIR / "engines" / version


def cached_version(version: str) -> str | None:
    stamp = engine_dir(version) / "package-version"
    return stamp.read_text().strip() if stamp.exists() else None


def system_version() -> str | None:
    dockerd = shutil.which("dockerd", path="/usr/sbin:/usr/bin:/usr/local/sbin:/usr/local/bin")
    if not dockerd:
        return None
    out = system.run([dockerd, "--version"], check=False).stdout
    m = re.search(r"version ([^\s,]+)", out)
    return m.group(1) if m else None


def resolve(version: str) -> Engine:
    """The engine to run for a version, or an error that says how to get it."""
    check_known(version)
    if version == SYSTEM:
        found = system_version()
        if not found:
            raise NetproofError(
                "engine 'system': no dockerd installed; install Debian's docker.io (apt-get install docker.io)"
            )
        return Engine(SYSTEM, found, ("/usr/sbin", "/usr/bin"))
    found = cached_version(version)
    if not found:
        raise NetproofError(
            f"engine {version} is not in the cache ({engine_dir(version)}); run: netproof engines fetch {version}"
        )
    root = engine_dir(version) / "root"
    return Engine(version, found, (str(root / "usr/sbin"), str(root / "usr/bin")))


# --- fetching -------------------------------------------------------------------------------


def machine_mirror(sources_dir: Path = Path("/etc/apt")) -> str:
    """The Debian mirror this machine already uses, so a user's own mirror or proxy keeps working."""
    candidates: list[str] = []
    for f in sorted((sources_dir / "sources.list.d").glob("*.sources")):
        for stanza in f.read_text().split("\n\n"):
            uris = re.findall(r"^URIs:\s*(.+)$", stanza, re.M)
            suites = re.findall(r"^Suites:\s*(.+)$", stanza, re.M)
            if uris and suites and not any("security" in s for s in suites[0].split()):
                candidates += uris[0].split()
    legacy = sources_dir / "sources.list"
    if legacy.exists():
        for line in legacy.read_text().splitlines():
            m = re.match(r"\s*deb\s+(?:\[[^]]*\]\s+)?(\S+)\s+(\S+)", line)
            if m and "security" not in m.group(2):
                candidates.append(m.group(1))
    if not candidates:
        raise NetproofError(f"no Debian mirror found in {sources_dir}/sources.list.d/*.sources or {legacy}; add one")
    return candidates[0]


class Fetcher:
    """Downloads a release's docker.io package through a private apt configuration and unpacks it."""

    def __init__(self, progress: Progress, mirror: str | None = None):
        self.progress = progress
        self.mirror = mirror or machine_mirror()
        self.apt_dir = CACHE_DIR / "apt"

    def _apt_options(self, suite: str) -> list[str]:
        d = self.apt_dir / suite
        return [
            "-o",
            f"Dir::Etc::SourceList={d / 'sources.list'}",
            "-o",
            f"Dir::Etc::SourceParts={d / 'sources.list.d'}",
            "-o",
            f"Dir::State::Lists={d / 'lists'}",
            "-o",
            f"Dir::Cache={d / 'cache'}",
            "-o",
            "Debug::NoLocking=1",
            "-o",
            "APT::Get::List-Cleanup=0",
        ]

    def _prepare(self, suite: str) -> None:
        d = self.apt_dir / suite
        for sub in ("sources.list.d", "lists/partial", "cache/archives/partial"):
            (d / sub).mkdir(parents=True, exist_ok=True)
        (d / "sources.list").write_text(f"deb [signed-by={KEYRING}] {self.mirror} {suite} main\n")

    def _apt(self, suite: str, *args: str, cwd: Path | None = None) -> str:
        cmd = ["apt-get", "-q", *self._apt_options(suite), *args]
        done = system.run(cmd, check=False, timeout=600, cwd=cwd)
        if not done.ok:
            tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or [""]
            raise NetproofError(f"apt-get {' '.join(args)} ({suite} from {self.mirror}) failed: {tail[0]}")
        return done.stdout

    def fetch(self, version: str, refresh: bool = False) -> str:
        release = RELEASES.get(check_known(version))
        if release is None:
            raise NetproofError("engine 'system' is the machine's own dockerd; there is nothing to fetch")
        if cached_version(version) and not refresh:
            self.progress.say(
                f"  engine {version}: {cached_version(version)} is already cached (--refresh fetches it again)"
            )
            return cached_version(version)
        if not KEYRING.exists():
            raise NetproofError(f"{KEYRING} is missing; install Debian's debian-archive-keyring")
        suite = release.suite
        self._prepare(suite)
        with self.progress.step(f"engine {version}: reading the package list of Debian {suite}"):
            self._apt(suite, "update")
        policy = system.run(["apt-cache", *self._apt_options(suite), "madison", "docker.io"], check=False).stdout
        versions = [cols[1].strip() for cols in (line.split("|") for line in policy.splitlines()) if len(cols) >= 3]
        wanted = [v for v in versions if v.startswith(version + ".")]
        if not wanted:
            raise NetproofError(
                f"engine {version}: Debian {suite} at {self.mirror} offers docker.io {', '.join(versions) or 'none'}, "
                f"not {version}.x"
            )
        package_version = wanted[0]
        target = engine_dir(version)
        downloads = self.apt_dir / suite / "downloads"
        shutil.rmtree(downloads, ignore_errors=True)
        downloads.mkdir(parents=True)
        with self.progress.step(f"engine {version}: downloading docker.io {package_version}"):
            self._apt(suite, "download", f"docker.io={package_version}", cwd=downloads)
        deb = next(downloads.glob("docker.io_*.deb"))
        with self.progress.step(f"engine {version}: unpacking into {target}"):
            shutil.rmtree(target, ignore_errors=True)
            (target / "root").mkdir(parents=True)
            system.run(["dpkg-deb", "-x", str(deb), str(target / "root")], timeout=300)
            dockerd = target / "root/usr/sbin/dockerd"
            out = system.run([str(dockerd), "--version"], check=False)
            if not out.ok:
                raise NetproofError(f"engine {version}: unpacked dockerd does not run here: {out.stderr.strip()}")
            (target / "package-version").write_text(package_version + "\n")
        shutil.rmtree(downloads, ignore_errors=True)
        return package_version
