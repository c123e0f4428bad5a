"""The netproof command: labs (up, status, exec, down, clean) and engines (list, fetch, import)."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from datetime import UTC, datetime
from pathlib import Path

from netproof import __version__, system
from netproof.errors import NetproofError
from netproof.facts import versions
from netproof.lab import engines
from netproof.lab.lab import Lab
from netproof.lab.model import topology as topo
from netproof.lab.model.names import LabNames
from netproof.lab.providers import PROVIDERS, make_provider, require_engine_control
from netproof.progress import QUIET, Progress
from netproof.runner import checkrun

DEFAULT_TOPOLOGY = "labs/seed.yml"


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    # SIGTERM ends a command the way Ctrl-C does, so `up` rolls back either way.
    signal.signal(signal.SIGTERM, _interrupt)
    try:
        return args.func(args) or 0
    except NetproofError as e:
        print(f"netproof: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("netproof: interrupted", file=sys.stderr)
        return 130


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="netproof", description="Prove Docker networking on a real multi-host lab.")
    parser.add_argument("--version", action="version", version=f"netproof {__version__}")
    groups = parser.add_subparsers(title="commands", metavar="{lab,run,upgrade,diff,checks,engines,box}")

    lab = groups.add_parser("lab", help="bring a lab up or down, look into it").add_subparsers(
        title="lab commands", metavar=""
    )
    p = lab.add_parser("up", help="bring a lab up from a topology file")
    add_lab_arguments(p)
    p.add_argument("--keep", action="store_true", help="on failure, keep what was built for inspection")
    p.set_defaults(func=cmd_up)

    p = lab.add_parser("status", help="show the hosts of a running lab")
    p.add_argument("--name", help="lab name (default: the only running lab)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_status)

    p = lab.add_parser("doctor", help="prove the network under Docker gives it what it needs, host pair by pair")
    p.add_argument("--name", help="lab name (default: the only running lab)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_doctor)

    p = lab.add_parser("exec", help="run a command on a lab host (docker there talks to that host's daemon)")
    p.add_argument("--name", help="lab name (default: the only running lab)")
    p.add_argument("host")
    p.add_argument("command", nargs=argparse.REMAINDER, help="after --: the command (default: a shell)")
    p.set_defaults(func=cmd_exec)

    p = lab.add_parser("down", help="bring a lab down, leaving nothing behind")
    p.add_argument("--name", help="lab name (default: the only running lab)")
    p.set_defaults(func=cmd_down)

    p = lab.add_parser("clean", help="remove every leftover of every netproof lab, state file or not")
    p.add_argument("--name", help="only the leftovers of this lab")
    p.add_argument("--dry-run", action="store_true", help="list the leftovers, remove nothing")
    p.set_defaults(func=cmd_clean)

    p = groups.add_parser("run", help="the main job: lab up, every check with pytest -n auto, report, lab down")
    add_lab_arguments(p)
    p.add_argument("--reports", default="reports", help="where run folders go (default: reports/)")
    p.add_argument(
        "--strict", action="store_true", help="known Docker defects count as failures (exit 1), for a defect-free gate"
    )
    p.set_defaults(func=cmd_run)

    p = groups.add_parser(
        "upgrade", help="checks on one engine, in-place upgrade (or rollback), checks again, and the diff"
    )
    add_lab_arguments(p, engine=False)
    p.add_argument("--from", dest="old", choices=engines.known())
    p.add_argument("--to", dest="new", choices=engines.known(), help="older than --from: a rollback")
    p.add_argument(
        "--path", help="several steps in one run, e.g. 20.10,26.1,28.5: a diff per step and one for the whole path"
    )
    p.add_argument("--select", metavar="EXPR", help="only the checks matching EXPR (pytest -k), e.g. OVL-PING-001")
    p.add_argument(
        "--rolling", action="store_true", help="one host at a time, cross-host checks while versions are mixed"
    )
    p.add_argument("--reports", default="reports", help="where run folders go (default: reports/)")
    p.set_defaults(func=cmd_upgrade)

    p = groups.add_parser("diff", help="what changed between two runs (run folders or results.json files)")
    p.add_argument("old")
    p.add_argument("new")
    p.add_argument(
        "--html", metavar="PATH", help="where to write the HTML diff (default: diff.html beside NEW's results)"
    )
    p.add_argument("--fail-on-regression", action="store_true", help="exit 3 when a check that passed now fails")
    p.set_defaults(func=cmd_diff)

    eng = groups.add_parser("engines", help="Docker engines: what is cached, fetching more").add_subparsers(
        title="engine commands", metavar=""
    )
    p = eng.add_parser("list", help="known engines, where each came from, which containerd and runc it runs with")
    p.set_defaults(func=cmd_engines_list)
    p = eng.add_parser("fetch", help="download engines into the cache (Debian's docker.io, Docker's static tarball)")
    p.add_argument("versions", nargs="+", metavar="VERSION", help=f"one of {', '.join(versions.RELEASES)}")
    p.add_argument("--refresh", action="store_true", help="fetch again even when cached")
    p.set_defaults(func=cmd_engines_fetch)
    p = eng.add_parser("import", help="cache a static build carried in: docker-<version>.tgz, or a folder of it")
    p.add_argument("source", type=Path, metavar="PATH", help="a tarball laid out as Docker's static ones, or a folder")
    p.set_defaults(func=cmd_engines_import)

    cat = groups.add_parser("checks", help="the check catalogue").add_subparsers(title="checks commands", metavar="")
    p = cat.add_parser("list", help="every check: ID, promise, scope, tags, the engines its promise holds on")
    p.add_argument(
        "--engine", metavar="VERSION", help="also say whether each promise holds on this Docker version (e.g. 20.10)"
    )
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--markdown", action="store_true", help="the README's table of checks")
    p.add_argument("--checks", metavar="DIR", help="a checks folder (default: checks/ of this checkout)")
    p.set_defaults(func=cmd_checks_list)

    box = groups.add_parser("box", help="the Vagrant box of the vagrant provider").add_subparsers(
        title="box commands", metavar=""
    )
    p = box.add_parser("build", help="build a libvirt box from Debian's packages and add it to netproof's Vagrant")
    p.set_defaults(func=cmd_box_build)
    return parser


def add_lab_arguments(p: argparse.ArgumentParser, engine: bool = True) -> None:
    """The arguments of every command that brings a lab up."""
    p.add_argument("topology", nargs="?", default=DEFAULT_TOPOLOGY, help=f"topology file (default {DEFAULT_TOPOLOGY})")
    if engine:
        p.add_argument("--engine", choices=engines.known(), help="run this engine on every docker host")
    p.add_argument("--control-plane", choices=topo.CONTROL_PLANES, help="swarm, or kv (legacy key-value store)")
    p.add_argument("--name", help="lab name (default: the topology's name)")
    p.add_argument(
        "--provider",
        choices=PROVIDERS,
        help="netns (namespaces here), vagrant (VMs) or ssh (existing hosts);"
        " default: the topology's provider, else netns",
    )


def topology_of(args: argparse.Namespace) -> topo.Topology:
    if not Path(args.topology).exists():
        raise NetproofError(f"{args.topology}: no such topology file (labs/ holds the ones that come with netproof)")
    return topo.load(args.topology).with_overrides(
        engine=getattr(args, "engine", None), control_plane=args.control_plane, name=args.name
    )


def cmd_up(args: argparse.Namespace) -> int:
    system.require_root()
    lab = Lab.up(topology_of(args), provider=args.provider, progress=Progress(), keep=args.keep)
    print_status(lab)
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    if not args.name and not Lab.running():
        print("[]" if args.json else "no lab is up; bring one up with: netproof lab up labs/seed.yml")
        return 0
    lab = Lab.attach(args.name)
    if args.json:
        print(
            json.dumps(
                {
                    "name": lab.name,
                    "provider": lab.state["provider"],
                    "control_plane": lab.topology.control_plane,
                    "status": lab.state["status"],
                    "state_file": str(lab.names.state_file),
                    "hosts": lab.status(),
                },
                indent=2,
            )
        )
    else:
        print_status(lab)
    return 0


def print_status(lab: Lab) -> None:
    print(
        f"lab {lab.name} ({lab.state['provider']}, {lab.topology.control_plane}): {lab.state['status']}, state in "
        f"{lab.names.state_file}"
    )
    header = ("HOST", "ROLE", "ADDRESS", "ENGINE", "VERSION", "DOCKERD", "SWARM", "STATE", "DOCKER SOCKET")
    rows = [header]
    for r in lab.status():
        rows.append(
            (
                r["name"],
                r["role"],
                f"{r['address']}",
                r.get("engine") or "-",
                r.get("engine_version") or "-",
                str(r.get("dockerd_pid") or "-"),
                r.get("swarm_role") or "-",
                r["state"],
                r.get("docker_socket") or "-",
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())


def cmd_doctor(args: argparse.Namespace) -> int:
    system.require_root()
    from netproof import doctor

    lab = Lab.attach(args.name)
    diagnosis = doctor.examine(lab, progress=QUIET if args.json else Progress())
    print(json.dumps(diagnosis.to_dict(), indent=2) if args.json else diagnosis.render())
    return 0 if diagnosis.healthy else 1


def cmd_exec(args: argparse.Namespace) -> int:
    system.require_root()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    host = Lab.attach(args.name).host(args.host)
    argv = host.interactive_argv(command or ["sh"])
    os.execvp(argv[0], argv)


def cmd_down(args: argparse.Namespace) -> int:
    lab = Lab.attach(args.name)
    lab.down(Progress())
    print(f"lab {lab.name} is down")
    return 0


def cmd_clean(args: argparse.Namespace) -> int:
    system.require_root()
    from netproof.lab import leftovers

    found = leftovers.find(args.name)
    which = f"lab {args.name}" if args.name else "netproof lab"
    if not found:
        print(f"nothing to clean: no {which} leftovers on this machine")
        return 0
    for line in found.describe():
        print(("would remove " if args.dry_run else "removing ") + line)
    if args.dry_run:
        return 0
    left = leftovers.remove(args.name)
    if left:
        raise NetproofError("could not remove: " + "; ".join(left.describe()))
    print(f"clean: every {which} leftover is gone")
    return 0


def cmd_box_build(args: argparse.Namespace) -> int:
    from netproof.lab.providers.vagrant import box

    path = box.build(Progress())
    print(f"box {box.BOX_NAME}: {path} ({path.stat().st_size // 2**20} MiB), added to Vagrant in {box.VAGRANT_HOME}")
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    system.require_root()
    checks = checkrun.checks_dir()
    topology = topology_of(args)
    folder = Path(args.reports).resolve() / datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    progress = Progress()
    lab = Lab.up(topology, provider=args.provider, progress=progress)
    try:
        progress.say(f"checks: pytest -n auto on lab {lab.name}, report in {folder}")
        results = checkrun.run(lab.name, folder, checks=checks, strict=args.strict)
    finally:
        lab.down(progress)
    print(one_screen_summary(results, folder))
    return 0 if results.verdict == "pass" else 1


def one_screen_summary(results, folder: Path) -> str:
    counts = results.counts()
    engines_seen = ", ".join(sorted({e.get("docker") or "?" for e in results.environment}))
    lines = [
        f"netproof: {results.verdict.upper()} on lab {results.lab['name']} ({results.lab['control_plane']}, Docker "
        f"{engines_seen}): {counts}"
    ]
    for c in results.checks:
        if c.outcome in ("failed", "error", "known-defect", "not-promised"):
            why = next(
                (line for line in (c.message or "").splitlines() if line.startswith("Observed")),
                (c.message or "").strip()[:160],
            )
            lines.append(f"  {c.outcome:13} {c.id}[{c.case}]  {why}")
    strict = " (counted as failures: --strict)" if results.strict else ""
    lines += [f"known defect {line}{strict}" for line in results.rate_lines()]
    lines.append(f"report: {folder / 'index.html'}")
    return "\n".join(lines)


def cmd_upgrade(args: argparse.Namespace) -> int:
    from netproof.runner import upgrade

    system.require_root()
    topology = topology_of(args)
    path = upgrade_path(args)
    require_engine_control(
        make_provider(args.provider or topology.provider, LabNames(topology.name), Progress()), "netproof upgrade"
    )
    for version in path:
        engines.resolve(version)  # refuse early what is not cached
    if topology.control_plane == "kv" and not engines.supports_kv_store(path[0]):
        raise NetproofError(
            f"engine {path[0]} has no key-value store control plane (Docker removed it in "
            f"{versions.KV_STORE_REMOVED_IN}): a kv lab starts on an engine before it, e.g. --from 20.10"
        )
    folder = (
        Path(args.reports).resolve() / f"upgrade-{'-to-'.join(path)}-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}"
    )
    done = upgrade.upgrade(
        topology, path, folder, checkrun.checks_dir(), rolling=args.rolling, progress=Progress(), select=args.select
    )
    print(done.render_terminal())
    written = ", ".join(str(folder / name) for name, _ in done.diffs)
    print(f"\nreports: {', '.join(str(folder / name / 'index.html') for _, name in done.runs)}; diff: {written}")
    if done.regressed:
        print("regressions found (exit status 1)")
    return 1 if done.regressed else 0


def upgrade_path(args: argparse.Namespace) -> list[str]:
    """The engines in order, from --path or --from/--to; refused in one line when it makes no sense."""
    if args.path and (args.old or args.new):
        raise NetproofError("give either --path or --from and --to, not both")
    if args.path:
        path = [v.strip() for v in args.path.split(",") if v.strip()]
        unknown = [v for v in path if v not in engines.known()]
        if unknown:
            known = ", ".join(engines.known())
            raise NetproofError(f"--path {args.path}: {', '.join(unknown)}: not an engine ({known})")
    elif args.old and args.new:
        path = [args.old, args.new]
    else:
        raise NetproofError("say what to upgrade: --from A --to B, or --path A,B,C")
    if len(path) < 2:
        raise NetproofError(f"--path {args.path}: at least two engines")
    same = [a for a, b in zip(path, path[1:], strict=False) if a == b]
    if same:
        raise NetproofError(f"{same[0]} follows itself in the path {','.join(path)}: nothing to upgrade there")
    return path


def cmd_diff(args: argparse.Namespace) -> int:
    from netproof.report import diff, results

    changes = diff.compare(results.load(args.old), results.load(args.new))
    print(diff.render_terminal(changes))
    new = Path(args.new)
    target = Path(args.html) if args.html else (new if new.is_dir() else new.parent) / "diff.html"
    diff.write(changes, target)
    print(f"\ndiff report: {target}")
    return 3 if args.fail_on_regression and changes.regressed else 0


def cmd_checks_list(args: argparse.Namespace) -> int:
    from netproof import catalogue

    checks = catalogue.load(Path(args.checks) if args.checks else checkrun.checks_dir())
    if args.engine:
        versions.version_key(args.engine)  # refuses what is not a version
    if args.json:
        rows = [
            {**c.to_dict(), **({"promised_on_engine": c.promised_on(args.engine)} if args.engine else {})}
            for c in checks
        ]
        print(json.dumps(rows, indent=2))
    elif args.markdown:
        print(catalogue.markdown(checks))
    else:
        header = ("ID", "SCOPE", "TAGS", "NEEDS", "ENGINES") + ((f"ON {args.engine}",) if args.engine else ())
        header += ("PROMISE",)
        rows = [header] + [
            (c.id, c.scope, ",".join(c.tags), ",".join(c.needs) or "-", c.engines)
            + ((("yes" if c.promised_on(args.engine) else "not promised"),) if args.engine else ())
            + (c.promise,)
            for c in checks
        ]
        widths = [max(len(r[i]) for r in rows) for i in range(len(header) - 1)]
        for r in rows:
            print("  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=False)) + "  " + r[-1])
    return 0


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
        print(f"engine {v}: {fetcher.fetch(v, refresh=args.refresh)} ready in {engines.engine_dir(v)}")
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


if __name__ == "__main__":
    sys.exit(main())
