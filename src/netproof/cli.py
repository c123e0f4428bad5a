"""The netproof command: labs (up, status, exec, down, clean) and engines (list, fetch)."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
from pathlib import Path

from netproof import __version__, engines, system
from netproof.errors import NetproofError
from netproof.lab import topology as topo
from netproof.lab.lab import Lab
from netproof.progress import Progress
from netproof.providers import PROVIDERS

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
    groups = parser.add_subparsers(title="commands", metavar="{lab,engines}")

    lab = groups.add_parser("lab", help="bring a lab up or down, look into it").add_subparsers(title="lab commands", metavar="")
    p = lab.add_parser("up", help="bring a lab up from a topology file")
    p.add_argument("topology", nargs="?", default=DEFAULT_TOPOLOGY, help=f"topology file (default {DEFAULT_TOPOLOGY})")
    p.add_argument("--engine", choices=engines.KNOWN, help="run this engine on every docker host")
    p.add_argument("--control-plane", choices=topo.CONTROL_PLANES, help="swarm, or kv (legacy key-value store)")
    p.add_argument("--name", help="lab name (default: the topology's name)")
    p.add_argument("--provider", default="netns", choices=PROVIDERS)
    p.add_argument("--keep", action="store_true", help="on failure, keep what was built for inspection")
    p.set_defaults(func=cmd_up)

    p = lab.add_parser("status", help="show the hosts of a running lab")
    p.add_argument("--name", help="lab name (default: the only running lab)")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_status)

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

    eng = groups.add_parser("engines", help="Docker engines: what is cached, fetching more").add_subparsers(title="engine commands", metavar="")
    p = eng.add_parser("list", help="known engines and which are ready to run")
    p.set_defaults(func=cmd_engines_list)
    p = eng.add_parser("fetch", help="download Debian's docker.io builds into the cache")
    p.add_argument("versions", nargs="+", metavar="VERSION", help=f"one of {', '.join(engines.RELEASES)}")
    p.add_argument("--refresh", action="store_true", help="fetch again even when cached")
    p.set_defaults(func=cmd_engines_fetch)
    return parser


def cmd_up(args: argparse.Namespace) -> int:
    system.require_root()
    if not Path(args.topology).exists():
        raise NetproofError(f"{args.topology}: no such topology file (labs/ holds the ones that come with netproof)")
    topology = topo.load(args.topology).with_overrides(engine=args.engine, control_plane=args.control_plane, name=args.name)
    lab = Lab.up(topology, provider=args.provider, progress=Progress(), keep=args.keep)
    print_status(lab)
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    if not args.name and not Lab.running():
        print("[]" if args.json else "no lab is up; bring one up with: netproof lab up labs/seed.yml")
        return 0
    lab = Lab.attach(args.name)
    if args.json:
        print(json.dumps({"name": lab.name, "provider": lab.state["provider"], "control_plane": lab.topology.control_plane,
                          "status": lab.state["status"], "state_file": str(lab.names.state_file), "hosts": lab.status()}, indent=2))
    else:
        print_status(lab)
    return 0


def print_status(lab: Lab) -> None:
    print(f"lab {lab.name} ({lab.state['provider']}, {lab.topology.control_plane}): {lab.state['status']}, state in {lab.names.state_file}")
    header = ("HOST", "ROLE", "ADDRESS", "ENGINE", "VERSION", "DOCKERD", "SWARM", "STATE", "DOCKER SOCKET")
    rows = [header]
    for r in lab.status():
        rows.append((r["name"], r["role"], f"{r['address']}", r.get("engine") or "-", r.get("engine_version") or "-",
                     str(r.get("dockerd_pid") or "-"), r.get("swarm_role") or "-", r["state"], r.get("docker_socket") or "-"))
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    for row in rows:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())


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
    from netproof.providers.netns import leftovers

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


def cmd_engines_list(args: argparse.Namespace) -> int:
    print(f"cache: {engines.CACHE_DIR / 'engines'}")
    print(f"{'ENGINE':8}{'DEBIAN SUITE':14}{'KV STORE':10}STATUS")
    for release in engines.RELEASES.values():
        cached = engines.cached_version(release.version)
        status = f"cached: {cached}" if cached else f"not cached; fetch: netproof engines fetch {release.version}"
        print(f"{release.version:8}{release.suite:14}{'yes' if release.kv_store else 'no':10}{status}")
    system_dockerd = engines.system_version()
    print(f"{engines.SYSTEM:8}{'(installed)':14}{'-':10}{system_dockerd or 'no dockerd installed (apt-get install docker.io)'}")
    return 0


def cmd_engines_fetch(args: argparse.Namespace) -> int:
    system.require_root()
    for v in args.versions:
        engines.check_known(v)
    fetcher = engines.Fetcher(Progress())
    for v in args.versions:
        print(f"engine {v}: {fetcher.fetch(v, refresh=args.refresh)} ready in {engines.engine_dir(v)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
