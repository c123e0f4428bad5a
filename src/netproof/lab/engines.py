"""Docker engines: which releases netproof knows, where their builds come from, and the local cache.

Two kinds of build. Debian's signed docker.io packages: a release from another Debian suite is
fetched through a private apt configuration (its own sources and lists under the cache), so the
machine's own apt sources are never touched, and unpacked with dpkg-deb; such a dockerd runs
with the system's containerd and runc. And Docker's static tarballs (docker-<version>.tgz: dockerd,
docker-proxy, containerd, its shim, runc), imported from a file a user carried in or fetched from
Docker's download site; such an engine runs with its own containerd and runc (its folder first on
the daemon's PATH): Docker 29 asks for a time namespace that Debian 12's runc 1.1.5 refuses.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tarfile
import tempfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from netproof import system
from netproof.errors import NetproofError
from netproof.facts import budgets
from netproof.facts.versions import KV_STORE_REMOVED_IN, RELEASES, Release, at_least, version_key
from netproof.progress import Progress

CACHE_DIR = Path(os.environ.get("NETPROOF_CACHE_DIR", "/var/cache/netproof"))
KEYRING = Path("/usr/share/keyrings/debian-archive-keyring.gpg")
SYSTEM = "system"


# Docker's static tarballs for Linux on x86-64 (docker-<version>.tgz); another mirror of the same layout can be
# named in NETPROOF_STATIC_URL.
STATIC_URL = os.environ.get("NETPROOF_STATIC_URL", "https://download.docker.com/linux/static/stable/x86_64/")


def known() -> tuple[str, ...]:
    """Every engine name a lab may ask for: the releases, engines imported under other versions, the system's."""
    imported = sorted(v for v in _cached() if v not in RELEASES)
    return (*RELEASES, *imported, SYSTEM)


def check_known(version: str) -> str:
    if version not in known():
        raise NetproofError(f"unknown engine {version!r}; known engines: {', '.join(known())}")
    return version


def supports_kv_store(version: str) -> bool:
    """Whether an engine still has the legacy key-value store control plane."""
    if version in RELEASES:
        return RELEASES[version].kv_store
    found = system_version() if version == SYSTEM else cached_version(version)
    return not at_least(found or "0.0", KV_STORE_REMOVED_IN)


@dataclass(frozen=True)
class Engine:
    """An engine ready to run: the folder whose dockerd, docker-proxy and docker-init to use."""

    version: str  # as asked: "20.10", "26.1", "28.5", "29.7" or "system"
    package_version: str  # what the build says of itself
    bin_dirs: tuple[str, ...]

    @property
    def runtime_dir(self) -> str | None:
        """The engine's folder when it brings its own containerd and runc (a static build), else None."""
        return next((d for d in self.bin_dirs if os.access(os.path.join(d, "containerd"), os.X_OK)), None)

    @property
    def runtime(self) -> str:
        """Whose containerd and runc the engine runs with, in the report's words."""
        return "the engine's own" if self.runtime_dir else "the system's"

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


def cached_dir(version: str) -> Path:
    """Where a cached engine is: its own folder; for a release (major.minor) cached only as patch releases (an
    import keeps each under its full version, so that two patches of one minor sit side by side: 29.7.1 and 29.7.2
    for a patch upgrade), the newest patch's."""
    own = engine_dir(version)
    if (own / "package-version").exists() or not re.fullmatch(r"\d+\.\d+", version):
        return own
    patches = [v for v in _cached() if v.startswith(version + ".")]
    return engine_dir(max(patches, key=version_key)) if patches else own


def cached_version(version: str) -> str | None:
    stamp = cached_dir(version) / "package-version"
    return stamp.read_text().strip() if stamp.exists() else None


def _cached() -> list[str]:
    folder = CACHE_DIR / "engines"
    return [d.name for d in folder.iterdir() if (d / "package-version").exists()] if folder.is_dir() else []


def origin(version: str) -> str:
    """Where a cached engine came from, as recorded when it was cached."""
    recorded = cached_dir(version) / "origin"
    if recorded.exists():
        return recorded.read_text().strip()
    return RELEASES[version].origin if version in RELEASES else "?"


def runtime_versions(bin_dir: str | None) -> str:
    """containerd's and runc's versions, from an engine's folder or (None) the system's PATH."""
    found = []
    for tool in ("containerd", "runc"):
        exe = os.path.join(bin_dir, tool) if bin_dir else shutil.which(tool, path="/usr/sbin:/usr/bin:/sbin:/bin")
        out = system.run([exe, "--version"], check=False).stdout if exe and os.access(exe, os.X_OK) else ""
        m = re.search(r"(?:containerd \S+ |runc version )v?(\d[^\s]*)", out)
        found.append(f"{tool} {m.group(1)}" if m else f"no {tool}")
    return ", ".join(found)


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
        static = RELEASES[version].static if version in RELEASES else None
        carry = f" (or carry docker-{static}.tgz in and run: netproof engines import docker-{static}.tgz)"
        raise NetproofError(
            f"engine {version} is not in the cache ({engine_dir(version)}); run: netproof engines fetch {version}"
            + (carry if static else "")
        )
    static_bin = cached_dir(version) / "bin"
    if static_bin.is_dir():
        return Engine(version, found, (str(static_bin),))
    root = cached_dir(version) / "root"
    return Engine(version, found, (str(root / "usr/sbin"), str(root / "usr/bin")))


# --- importing a static build ---------------------------------------------------------------

BINARIES = ("dockerd", "docker-proxy", "docker-init", "containerd", "containerd-shim-runc-v2", "ctr", "runc", "docker")


def import_engine(source: Path, progress: Progress) -> tuple[str, str]:
    """A static build (Docker's docker-<version>.tgz, any tar of the same layout, or a folder of the binaries)
    into the cache under the version its dockerd says, e.g. 29.7.2 (a topology asks for it so, or for 29.7, the
    newest patch of that release cached): (the name it is cached under, the version dockerd says). Bad input is
    one line."""
    if not source.exists():
        raise NetproofError(f"{source}: no such file or folder")
    digest = _sha256(source) if source.is_file() else None
    for cached in _cached():  # the same file imported before: nothing to do (and a running lab's binaries stay)
        if digest and digest in origin(cached):
            progress.say(f"  engine {cached}: {source.name} is already cached (sha256 {digest[:12]})")
            return cached, cached_version(cached) or "?"
    staging = Path(tempfile.mkdtemp(prefix="import-", dir=_ensure(CACHE_DIR / "engines")))
    try:
        if source.is_dir():
            folder = _binaries_folder(source, source)
        else:
            with progress.step(f"unpacking {source.name}"):
                _unpack(source, staging / "unpacked")
            folder = _binaries_folder(staging / "unpacked", source)
        said = system.run([str(folder / "dockerd"), "--version"], check=False)
        m = re.search(r"version (\d+)\.(\d+)\.(\S+?),", said.stdout)
        if not said.ok or not m:
            why = (said.stderr or said.stdout).strip().splitlines()[-1:] or [f"exit {said.returncode}"]
            raise NetproofError(f"{source}: its dockerd does not run here: {why[0]}")
        full = version = f"{m.group(1)}.{m.group(2)}.{m.group(3)}"
        target = engine_dir(version)
        with progress.step(f"engine {version}: caching dockerd {full} in {target}"):
            (staging / "engine" / "bin").mkdir(parents=True)
            for name in BINARIES:
                if (folder / name).is_file():
                    shutil.copy2(folder / name, staging / "engine" / "bin" / name)
            described = f"imported from {source.resolve()}" + (f" (sha256 {digest})" if digest else "")
            (staging / "engine" / "origin").write_text(described + "\n")
            (staging / "engine" / "package-version").write_text(full + "\n")
            shutil.rmtree(target, ignore_errors=True)
            (staging / "engine").rename(target)
        return version, full
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _ensure(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _unpack(tarball: Path, into: Path) -> None:
    try:
        archive = tarfile.open(tarball, "r:*")
    except (tarfile.TarError, OSError):
        raise NetproofError(
            f"{tarball}: not a tarball (.tgz, .tar.gz, .tar.xz) nor a folder of Docker's binaries"
        ) from None
    with archive:
        for member in archive.getmembers():  # only plain files and folders, nothing outside `into`
            if not (member.isfile() or member.isdir()) or member.name.startswith("/") or ".." in member.name.split("/"):
                raise NetproofError(f"{tarball}: {member.name!r} is not a plain file inside the tarball; not imported")
        archive.extractall(into, **({"filter": "data"} if hasattr(tarfile, "data_filter") else {}))


def _binaries_folder(root: Path, source: Path) -> Path:
    """Where dockerd is: Docker's layout (docker/dockerd) or the folder itself."""
    for folder in (root / "docker", root):
        if (folder / "dockerd").is_file():
            return folder
    raise NetproofError(f"{source}: no dockerd inside (looked for docker/dockerd and dockerd)")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


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
            raise NetproofError(
                f"engine {version!r} is {'the machine' if version == SYSTEM else 'an imported one'}'s own dockerd; "
                "there is nothing to fetch"
            )
        if cached_version(version) and not refresh:
            self.progress.say(
                f"  engine {version}: {cached_version(version)} is already cached (--refresh fetches it again)"
            )
            return cached_version(version)
        if release.static:
            return self._fetch_static(release)
        package_version, deb = self.debian_package(release.suite, "docker.io", version + ".", f"engine {version}")
        downloads = deb.parent
        target = engine_dir(version)
        with self.progress.step(f"engine {version}: unpacking into {target}"):
            shutil.rmtree(target, ignore_errors=True)
            (target / "root").mkdir(parents=True)
            system.run(["dpkg-deb", "-x", str(deb), str(target / "root")], timeout=300)
            dockerd = target / "root/usr/sbin/dockerd"
            out = system.run([str(dockerd), "--version"], check=False)
            if not out.ok:
                raise NetproofError(f"engine {version}: unpacked dockerd does not run here: {out.stderr.strip()}")
            (target / "package-version").write_text(package_version + "\n")
        (target / "origin").write_text(f"{release.origin}: docker.io {package_version}\n")
        shutil.rmtree(downloads, ignore_errors=True)
        return package_version

    def debian_package(self, suite: str, package: str, prefix: str, what: str) -> tuple[str, Path]:
        """The newest `package` of Debian `suite` whose version starts with `prefix`, downloaded (not installed)
        into the suite's downloads folder (emptied first): its version and its .deb."""
        if not KEYRING.exists():
            raise NetproofError(f"{KEYRING} is missing; install Debian's debian-archive-keyring")
        self._prepare(suite)
        with self.progress.step(f"{what}: reading the package list of Debian {suite}"):
            self._apt(suite, "update")
        policy = system.run(["apt-cache", *self._apt_options(suite), "madison", package], check=False).stdout
        versions = [cols[1].strip() for cols in (line.split("|") for line in policy.splitlines()) if len(cols) >= 3]
        wanted = [v for v in versions if v.startswith(prefix)]
        if not wanted:
            raise NetproofError(
                f"{what}: Debian {suite} at {self.mirror} offers {package} {', '.join(versions) or 'none'}, "
                f"not {prefix}x"
            )
        downloads = self.apt_dir / suite / "downloads"
        shutil.rmtree(downloads, ignore_errors=True)
        downloads.mkdir(parents=True)
        with self.progress.step(f"{what}: downloading {package} {wanted[0]}"):
            self._apt(suite, "download", f"{package}={wanted[0]}", cwd=downloads)
        return wanted[0], next(downloads.glob(f"{package}_*.deb"))

    def _fetch_static(self, release: Release) -> str:
        """Docker's static tarball from its download site (STATIC_URL), then imported as a carried-in one."""
        name = f"docker-{release.static}.tgz"
        url = STATIC_URL.rstrip("/") + "/" + name
        _ensure(CACHE_DIR / "downloads")
        with tempfile.TemporaryDirectory(dir=CACHE_DIR / "downloads") as folder:
            tarball = Path(folder) / name
            with self.progress.step(f"engine {release.version}: downloading {url}"):
                try:
                    with urllib.request.urlopen(url, timeout=budgets.DOWNLOAD) as answer, tarball.open("wb") as out:
                        shutil.copyfileobj(answer, out, 1 << 20)
                except (urllib.error.URLError, OSError) as e:
                    why = getattr(e, "reason", None) or e
                    raise NetproofError(
                        f"engine {release.version}: cannot download {url} ({why}); where Docker's download site "
                        f"cannot be reached, carry {name} in and run: netproof engines import {name}"
                    ) from None
            version, full = import_engine(tarball, self.progress)
        if not full.startswith(release.version + "."):
            raise NetproofError(f"{url}: its dockerd says {full}, not {release.version}.x; cached as engine {version}")
        (engine_dir(version) / "origin").write_text(f"{release.origin} from {url}\n")
        return full
