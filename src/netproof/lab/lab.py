"""A lab: a topology brought up by a provider, with its engines joined into a control plane.

The state file (<state root>/<lab>/state.json) is written before anything is built, so a
half-built lab can always be brought down, and completed when the lab is up; other tools
(the pytest plugin) attach to a running lab through it.
"""

from __future__ import annotations

import fcntl
import json
import os
import stat
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from netproof import __version__, system
from netproof.errors import NetproofError
from netproof.facts import versions
from netproof.lab import controlplane, engines, image, readiness
from netproof.lab.model.engine_start import engine_start
from netproof.lab.model.loader import parse
from netproof.lab.model.names import LabNames, state_root
from netproof.lab.model.topology import ROUTER, Topology, with_host_engines
from netproof.lab.providers import make_provider
from netproof.lab.providers.base import LabHost, Provider
from netproof.progress import QUIET, Progress

STATE_SCHEMA = 1


class Lab:
    def __init__(self, topology: Topology, provider: Provider, state: dict):
        self.topology = topology
        self.provider = provider
        self.state = state
        self.names = provider.names
        self.hosts: dict[str, LabHost] = provider.hosts(topology)

    @property
    def name(self) -> str:
        return self.topology.name

    @property
    def docker_hosts(self) -> list[LabHost]:
        return [self.hosts[h.name] for h in self.topology.docker_hosts]

    @property
    def manager(self) -> LabHost:
        """Where the lab's networks are created: the swarm manager its roles name (kv: the first docker host)."""
        roles = self.state.get("roles", {})
        managers = [h for h in self.docker_hosts if roles.get(h.name) == "manager"]
        return managers[0] if managers else self.docker_hosts[0]

    def engine_version(self, host: str) -> str | None:
        """The Docker version a docker host runs, as Docker says it (e.g. 20.10.24+dfsg1), recorded when the lab
        came up or an upgrade changed it; else the engine's package version the provider recorded."""
        recorded = self.state.get("docker_versions", {}).get(host)
        return recorded or self.state.get("provider_state", {}).get("engines", {}).get(host)

    @property
    def patience(self) -> float:
        """How many times longer than on netns the lab's waits allow (the provider's, as recorded at `up`)."""
        return self.state.get("patience", self.provider.patience)

    @property
    def router(self) -> LabHost | None:
        return self.hosts.get(ROUTER)

    def host(self, name: str) -> LabHost:
        if name not in self.hosts:
            raise NetproofError(f"lab {self.name} has no host {name!r}; its hosts: {', '.join(self.hosts)}")
        return self.hosts[name]

    # --- life cycle -----------------------------------------------------------------------

    @classmethod
    def up(
        cls, topology: Topology, *, provider: str | None = None, progress: Progress = QUIET, keep: bool = False
    ) -> Lab:
        system.require_root()
        names = LabNames(topology.name)
        with held(names, "brought up"):
            try:
                return cls._up(topology, provider, progress, keep)
            except BaseException:  # rolled back (or refused): the lab is not there, nor is its lock file
                if not names.state_file.exists():
                    names.lock_file.unlink(missing_ok=True)
                raise

    @classmethod
    def _up(cls, topology: Topology, provider: str | None, progress: Progress, keep: bool) -> Lab:
        names = LabNames(topology.name)
        if names.state_file.exists():
            raise NetproofError(
                f"lab {topology.name} is already up ({names.state_file}); bring it down first: netproof lab down "
                f"--name {topology.name}"
            )
        if names.dir.exists():
            raise NetproofError(
                f"leftovers of an earlier lab {topology.name} are in {names.dir}; remove them: netproof lab clean"
            )
        if topology.control_plane == "kv":
            for h in topology.docker_hosts:
                if not engines.supports_kv_store(h.engine):
                    raise NetproofError(
                        f"{h.name}: {versions.no_kv_store(f'engine {h.engine} ({engines.system_version()})')}; use "
                        "--control-plane swarm"
                    )
        provider = provider or topology.provider
        prov = make_provider(provider, names, progress)
        prov.refuse_what_it_cannot(topology)
        prov.preflight(topology)
        state = {
            "schema": STATE_SCHEMA,
            "name": topology.name,
            "provider": provider,
            "status": "building",
            "netproof_version": __version__,
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "topology_file": topology.source,
            "topology_text": topology.text,
            "overrides": _overrides(topology),
        }
        started = time.monotonic()
        if topology.engine_note:
            progress.say(f"lab {topology.name}: {topology.engine_note}")
        progress.say(
            f"lab {topology.name}: up ({provider}, {topology.control_plane}, engines {', '.join(topology.engines)})"
        )
        names.dir.mkdir(parents=True, exist_ok=True)
        _write(names.state_file, state)
        try:
            state["provider_state"] = prov.up(topology, engine_start(topology))
            lab = cls(topology, prov, state)
            state["roles"] = controlplane.form(topology, lab.hosts, progress, create=prov.owns_hosts)
            state["image_imported_on"] = image.install(lab.docker_hosts, progress)
            state["docker_versions"] = {h.name: h.docker().version()["Version"] for h in lab.docker_hosts}
            state["patience"] = prov.patience
            if topology.control_plane != "none":  # no overlays without a control plane
                state["first_attachment_seconds"] = readiness.prove_overlay_attachment(
                    lab.docker_hosts, lab.manager, topology.control_plane, prov.patience, progress
                )
        except BaseException as e:  # Ctrl-C included: nothing half-built stays unless asked
            if keep:
                progress.say(
                    f"lab {topology.name}: failed; kept as it is (--keep): inspect it, then netproof lab down --name "
                    f"{topology.name}"
                )
            else:
                with progress.step(f"rolling back lab {topology.name}"):
                    prov.down()
            if isinstance(e, Exception) and not isinstance(e, NetproofError):
                raise NetproofError(f"lab {topology.name}: up failed: {type(e).__name__}: {e}") from e
            raise
        state["status"] = "up"
        state["image"] = image.TEST_IMAGE
        _write(names.state_file, state)
        progress.say(f"lab {topology.name}: up in {time.monotonic() - started:.1f}s; state in {names.state_file}")
        return lab

    def down(self, progress: Progress = QUIET) -> None:
        system.require_root()
        with held(self.names, "brought down", lab_gone_after=True), progress.step(f"bringing lab {self.name} down"):
            if not self.provider.owns_hosts:  # hosts outlive the lab: take back the one thing netproof put there
                for problem in image.remove([self.hosts[h] for h in self.state.get("image_imported_on", [])]):
                    progress.say(f"  could not remove {image.TEST_IMAGE} from {problem}")
            self.provider.down()

    @classmethod
    def attach(cls, name: str | None = None, progress: Progress = QUIET) -> Lab:
        """The running lab of that name (or a state file's path), or the only running lab."""
        state_file = _find_state(name)
        try:
            state = json.loads(state_file.read_text())
        except (OSError, ValueError) as e:
            raise NetproofError(
                f"{state_file}: unreadable lab state ({e}); remove the lab with netproof lab clean"
            ) from None
        if not isinstance(state, dict) or state.get("schema") != STATE_SCHEMA:
            raise NetproofError(
                f"{state_file}: state schema {state.get('schema') if isinstance(state, dict) else None} is not "
                f"{STATE_SCHEMA}; netproof lab clean removes it"
            )
        try:  # a state file edited by hand (or by a bug) is said in one line, never a traceback
            topology = parse(state["topology_text"], state["topology_file"]).with_overrides(**state["overrides"])
            topology = with_host_engines(topology, state.get("host_engines", {}))
            provider = make_provider(state["provider"], LabNames(state["name"]), progress)
        except NetproofError as e:
            raise NetproofError(
                f"{state_file}: its topology no longer holds ({e}); netproof lab clean removes it"
            ) from None
        except (KeyError, TypeError, AttributeError, ValueError) as e:
            said = f"{type(e).__name__}: {str(e)[:120]}"
            raise NetproofError(
                f"{state_file}: not a lab state netproof wrote ({said}); netproof lab clean removes it"
            ) from None
        return cls(topology, provider, state)

    @staticmethod
    def running() -> list[str]:
        return sorted(p.parent.name for p in state_root().glob("*/state.json")) if state_root().is_dir() else []

    def record_engine(self, host: str, version: str, package_version: str) -> None:
        """A host now runs another engine (an in-place upgrade): the state file says so."""
        self.host(host).engine_changed()
        self.state.setdefault("provider_state", {}).setdefault("engines", {})[host] = package_version
        self.state.setdefault("host_engines", {})[host] = version
        self.state.setdefault("docker_versions", {})[host] = self.host(host).docker().version()["Version"]
        _write(self.names.state_file, self.state)

    # --- looking at it --------------------------------------------------------------------

    def status(self) -> list[dict]:
        rows = []
        for host in self.hosts.values():
            facts = self.provider.status(host)
            row = {
                "name": host.name,
                "role": host.role,
                "address": host.address,
                "subnet": host.spec.subnet.name,
                "engine": host.engine,
                "state": "up" if facts.get("alive") else "down",
                **facts,
            }
            if host.role == "docker":
                row["engine_version"] = self.state.get("provider_state", {}).get("engines", {}).get(host.name)
                row["swarm_role"] = None
                if facts.get("alive") and facts.get("dockerd_pid"):
                    try:
                        row["swarm_role"] = controlplane.swarm_role(host)
                    except Exception as e:  # a daemon that does not answer is a fact to show
                        row["state"] = f"dockerd not answering ({type(e).__name__})"
                else:
                    row["state"] = "down" if not facts.get("alive") else "dockerd stopped"
            rows.append(row)
        return rows


def _find_state(name: str | None) -> Path:
    if name and (os.sep in name or name.endswith(".json")):
        path = Path(name)
        if not path.exists():
            raise NetproofError(f"{path}: no such lab state file")
        return path
    running = Lab.running()
    if name:
        if name not in running:
            raise NetproofError(
                f"no lab named {name!r} is up{' (up: ' + ', '.join(running) + ')' if running else ''}; "
                "bring one up with: netproof lab up labs/seed.yml"
            )
        return LabNames(name).state_file
    if not running:
        raise NetproofError("no lab is up; bring one up with: netproof lab up labs/seed.yml")
    if len(running) > 1:
        raise NetproofError(f"several labs are up ({', '.join(running)}); choose one with --name")
    return LabNames(running[0]).state_file


def _overrides(topology: Topology) -> dict:
    original = parse(topology.text, topology.source)
    overrides: dict = {}
    if topology.name != original.name:
        overrides["name"] = topology.name
    if topology.control_plane != original.control_plane:
        overrides["control_plane"] = topology.control_plane
    if topology.engine_overridden:
        overrides["engine"] = topology.docker_hosts[0].engine
    return overrides


def _write(path: Path, state: dict) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(state, indent=2) + "\n")
    tmp.replace(path)


@contextmanager
def held(names: LabNames, doing: str, *, lab_gone_after: bool = False) -> Iterator[None]:
    """The lab's lock, for bringing it up, down or cleaning it: a second netproof doing the same to the same lab is
    refused at once (before it builds anything, so it has nothing of the first's to roll back). After down and clean
    the lock file goes too: the lab leaves nothing behind."""
    fd = take_lock(names.lock_file)
    if fd is None:
        holder = _read_lock(names.lock_file) or "?"
        raise NetproofError(
            f"lab {names.lab} is being brought up, down or cleaned by another netproof (pid {holder}); wait for it"
        )
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()} ({doing})".encode(), 0)
        yield
    finally:
        os.ftruncate(fd, 0)
        if lab_gone_after:  # unlinked while still held: whoever opens it next finds it gone and makes another
            names.lock_file.unlink(missing_ok=True)
        os.close(fd)


def take_lock(path: Path) -> int | None:
    """The lock file's descriptor, locked; None if another process holds it. Only in a folder of root's alone, opened
    without following a link, and the same file as the name still points at (one unlinked under us is taken again)."""
    folder = path.parent
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    seen = os.lstat(folder)
    if not stat.S_ISDIR(seen.st_mode) or seen.st_uid != os.geteuid() or seen.st_mode & 0o077:
        raise NetproofError(f"{folder}: the lab locks' folder must be root's alone (0700, not a link); remove it")
    while True:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
        except OSError as e:  # a link planted at its name (ELOOP), or worse: never followed
            raise NetproofError(f"{path}: cannot open the lab's lock ({e.strerror}); remove it") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        try:
            if os.stat(path, follow_symlinks=False).st_ino == os.fstat(fd).st_ino:
                return fd
        except FileNotFoundError:
            pass
        os.close(fd)  # unlinked by its holder as it let go: take the new one


def _read_lock(path: Path) -> str:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError:
        return ""
    try:
        return os.read(fd, 200).decode(errors="replace").strip()
    finally:
        os.close(fd)
