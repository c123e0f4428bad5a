"""Docker Compose, the real one, reads a user's compose file: `docker-compose config` normalises it by the compose
spec's own rules (interpolation, extends, profiles, port ranges, the default network), so netproof never parses a
compose file by hand. Debian sid's docker-compose package (Compose v2) is fetched the way the engines are, through
netproof's private apt configuration into its cache, never installed; it runs on this machine, needs no daemon and
is given no environment but PATH (a compose file's `${VARIABLES}` are the user's to pass with --env-file)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from netproof import system
from netproof.errors import NetproofError
from netproof.lab.engines import CACHE_DIR, Fetcher
from netproof.progress import Progress

SUITE, PACKAGE, SERIES = "sid", "docker-compose", "2."  # Compose v2 (2.40 when this was written)
TOOL_DIR = CACHE_DIR / "tools" / "compose"
BINARY = TOOL_DIR / "root/usr/libexec/docker/cli-plugins/docker-compose"


def cached() -> str | None:
    """The cached Compose's package version, or None."""
    version = TOOL_DIR / "package-version"
    return version.read_text().strip() if BINARY.exists() and version.exists() else None


def fetch(progress: Progress, refresh: bool = False) -> str:
    """Compose in the cache (`netproof engines fetch compose`); its package version."""
    if cached() and not refresh:
        return cached()
    fetcher = Fetcher(progress)
    package_version, deb = fetcher.debian_package(SUITE, PACKAGE, SERIES, "compose")
    with progress.step(f"compose: unpacking into {TOOL_DIR}"):
        shutil.rmtree(TOOL_DIR, ignore_errors=True)
        (TOOL_DIR / "root").mkdir(parents=True)
        system.run(["dpkg-deb", "-x", str(deb), str(TOOL_DIR / "root")], timeout=300)
        out = system.run([str(BINARY), "version"], check=False)
        if not out.ok:
            raise NetproofError(f"compose: the unpacked docker-compose does not run here: {out.stderr.strip()}")
        (TOOL_DIR / "package-version").write_text(package_version + "\n")
    shutil.rmtree(deb.parent, ignore_errors=True)
    return package_version


def config(file: Path, progress: Progress, env_file: Path | None = None) -> dict:
    """The compose project in `file`, as `docker-compose config --format json` normalises it; a file compose
    refuses is a one-line error naming the file and compose's own words."""
    if not file.is_file():
        raise NetproofError(f"{file}: no such compose file")
    fetch(progress)
    argv = [str(BINARY), "--project-directory", str(file.parent), "-f", str(file)]
    if env_file is not None:
        argv += ["--env-file", str(env_file)]
    done = system.run([*argv, "config", "--format", "json"], check=False, timeout=60, env={"PATH": "/usr/bin:/bin"})
    if not done.ok:
        said = " ".join(done.stderr.split()) or f"exit {done.returncode}"
        raise NetproofError(f"{file}: docker compose refuses it: {said}")
    try:
        return json.loads(done.stdout)
    except json.JSONDecodeError as e:
        raise NetproofError(f"{file}: docker compose config gave no JSON ({e})") from None
