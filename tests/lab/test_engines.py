"""Engines from Docker's static tarballs: imported from a file carried in, fetched from a download site.

The download site is the test's own: an HTTP server on the loopback of a network namespace made for the test
(unshare --net), where `netproof engines fetch` runs too. Nothing is ever sent outside that namespace: the
unreachable case runs in one with no interface up at all, so the request for Docker's site fails on the spot.
"""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
# Docker 29 is not in Debian: these machines carry a static build of it beside the project (its BUILD.md).
SHARED_29 = ROOT.parent / "shared" / "engines" / "docker-29.7.2-from-source.tar.xz"
SHARED_29_1 = SHARED_29.with_name("docker-29.7.1-from-source.tar.xz")  # the patch before: a patch upgrade's start

needs_the_shared_build = pytest.mark.skipif(
    not SHARED_29.exists(), reason=f"no static Docker 29 build at {SHARED_29} (see the README: Docker 29)"
)


def netproof_in_own_netns(cache: Path, script: str, **env: str) -> subprocess.CompletedProcess:
    """A bash script in a new network namespace (only its loopback, down until the script brings it up);
    `netproof` in it is this checkout's, with its cache in `cache`."""
    environment = {**os.environ, "NETPROOF_CACHE_DIR": str(cache), **env}
    netproof = f"{shlex.quote(sys.executable)} -m netproof.cli"
    return subprocess.run(
        ["unshare", "--net", "--", "bash", "-c", script.replace("netproof ", netproof + " ")],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )


@needs_the_shared_build
def test_fetch_downloads_the_static_tarball_and_the_engine_runs_with_its_own_runtime(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    (site / "docker-29.7.2.tgz").symlink_to(SHARED_29)  # as Docker's download area names it
    done = netproof_in_own_netns(
        tmp_path / "cache",
        f"ip link set lo up && {shlex.quote(sys.executable)} -m http.server --bind 127.0.0.1 --directory {site} 8765"
        " >/dev/null 2>&1 & site=$!; "
        "for i in $(seq 50); do (echo > /dev/tcp/127.0.0.1/8765) 2>/dev/null && break; sleep 0.1; done; "
        "netproof engines fetch 29.7 && netproof engines list; status=$?; kill $site; exit $status",
        NETPROOF_STATIC_URL="http://127.0.0.1:8765/",
    )
    out = done.stdout + done.stderr
    assert done.returncode == 0, out[-3000:]
    assert "engine 29.7: 29.7.2 ready in" in out
    row = next(line for line in out.splitlines() if line.startswith("29.7 "))
    assert "cached: 29.7.2" in row and "from http://127.0.0.1:8765/docker-29.7.2.tgz" in row, row
    assert row.endswith("the engine's own: containerd 2.3.3, runc 1.4.3"), row


def test_fetch_where_dockers_site_cannot_be_reached_names_import(tmp_path):
    done = netproof_in_own_netns(tmp_path / "cache", "netproof engines fetch 29.7")
    assert done.returncode != 0
    errors = [line for line in done.stderr.splitlines() if line.startswith("netproof: error:")]
    assert len(errors) == 1 and done.stderr.strip().endswith(errors[0]), done.stderr  # the progress line, then it
    error = errors[0]
    assert error.startswith("netproof: error: engine 29.7: cannot download https://download.docker.com/linux/static/")
    assert error.endswith("carry docker-29.7.2.tgz in and run: netproof engines import docker-29.7.2.tgz")
    assert not list((tmp_path / "cache").rglob("dockerd"))


@needs_the_shared_build
def test_import_of_the_carried_in_build_then_a_version_it_does_not_know(tmp_path):
    env = {**os.environ, "NETPROOF_CACHE_DIR": str(tmp_path / "cache")}
    run = [sys.executable, "-m", "netproof.cli", "engines"]
    done = subprocess.run([*run, "import", str(SHARED_29)], cwd=ROOT, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "engine 29.7.2: dockerd 29.7.2 ready in" in done.stdout
    assert "with the engine's own containerd and runc (containerd 2.3.3, runc 1.4.3)" in done.stdout
    # The engine's folder holds what Docker's tarball holds, and dockerd in it is the one that runs.
    folder = tmp_path / "cache" / "engines" / "29.7.2" / "bin"
    assert {"dockerd", "docker-proxy", "containerd", "containerd-shim-runc-v2", "runc"} <= {
        p.name for p in folder.iterdir()
    }
    listed = subprocess.run([*run, "list"], cwd=ROOT, env=env, capture_output=True, text=True).stdout
    row = next(line for line in listed.splitlines() if line.startswith("29.7 "))  # the release: its newest patch
    assert f"imported from {SHARED_29}" in row and "sha256 ede42b9b495f" in row, row
    if SHARED_29_1.exists():  # issue 28: the patch before it, side by side, for a patch upgrade
        older = subprocess.run([*run, "import", str(SHARED_29_1)], cwd=ROOT, env=env, capture_output=True, text=True)
        assert older.returncode == 0 and "engine 29.7.1: dockerd 29.7.1 ready in" in older.stdout, older.stderr
        listed = subprocess.run([*run, "list"], cwd=ROOT, env=env, capture_output=True, text=True).stdout
        rows = {line.split()[0]: line for line in listed.splitlines() if line.startswith("29.7")}
        assert set(rows) == {"29.7", "29.7.1", "29.7.2"}, listed
        assert "cached: 29.7.1" in rows["29.7.1"] and "cached: 29.7.2" in rows["29.7"], listed
    # Not a tarball: one line naming it.
    bad = subprocess.run([*run, "import", str(ROOT / "README.md")], cwd=ROOT, env=env, capture_output=True, text=True)
    assert bad.returncode != 0 and bad.stderr.strip().splitlines()[-1] == (
        f"netproof: error: {ROOT / 'README.md'}: not a tarball (.tgz, .tar.gz, .tar.xz) nor a folder of Docker's "
        "binaries"
    )
