"""netproof engines list, fetch, import: the Docker engines netproof runs."""

from __future__ import annotations

import argparse

from netproof import system
from netproof.facts import versions
from netproof.lab import engines
from netproof.progress import Progress


def cmd_engines_list(args: argparse.Namespace) -> int:
    print(f"cache: {engines.CACHE_DIR / 'engines'}")
    rows = [("ENGINE", "KV STORE", "STATUS", "FROM", "CONTAINERD AND RUNC")]
    for version in engines.known():
        kv = "yes" if engines.supports_kv_store(version) else "no"
        if version == engines.SYSTEM:
            found = engines.system_version()
            status = found or "no dockerd installed (apt-get install docker.io)"
            rows.append((version, kv if found else "-", status, "installed", engines.runtime_versions(None)))
            continue
        cached = engines.cached_version(version)
        if not cached:
            release = versions.RELEASES[version]
            how = f"netproof engines fetch {version}" + (
                f" or netproof engines import docker-{release.static}.tgz" if release.static else ""
            )
            rows.append((version, kv, f"not cached; {how}", release.origin, "-"))
            continue
        engine = engines.resolve(version)
        own = engine.runtime_dir
        runtime = f"{engine.runtime}: {engines.runtime_versions(own)}"
        rows.append((version, kv, f"cached: {cached}", engines.origin(version), runtime))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    for r in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=False)) + "  " + r[-1])
    return 0


def cmd_engines_fetch(args: argparse.Namespace) -> int:
    system.require_root()
    for v in args.versions:
        engines.check_known(v)
    fetcher = engines.Fetcher(Progress())
    for v in args.versions:
        print(f"engine {v}: {fetcher.fetch(v, refresh=args.refresh)} ready in {engines.cached_dir(v)}")
    return 0


def cmd_engines_import(args: argparse.Namespace) -> int:
    system.require_root()
    version, full = engines.import_engine(args.source, Progress())
    engine = engines.resolve(version)
    print(
        f"engine {version}: dockerd {full} ready in {engines.engine_dir(version)}, with {engine.runtime} containerd "
        f"and runc ({engines.runtime_versions(engine.runtime_dir)})"
    )
    return 0
