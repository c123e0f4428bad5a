"""Docker engines in the netns hosts: started in each host's namespaces with their own roots, waited for,
stopped, their logs read."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import time
from collections.abc import Callable
from pathlib import Path

from netproof import wait
from netproof.errors import NetproofError
from netproof.facts import budgets
from netproof.facts.docker import CONFIG_REFUSED
from netproof.lab import engines
from netproof.lab.providers.base import EngineControl, LabHost, log_lines_between


class NetnsEngines(EngineControl):
    """Docker engines in the netns hosts: started in each host's namespaces with their own roots, waited for,"""

    def start_engine(self, host: str, engine: engines.Engine, flags: list[str], config: dict | None = None) -> None:
        node = self.node(host)
        log = node.dir / "dockerd.log"
        if log.exists() and log.stat().st_size:  # each start its own log: a refusal is this start's, not an older one's
            earlier = len(list(node.dir.glob("dockerd.*.log"))) + 1
            log.rename(node.dir / f"dockerd.{earlier}.log")
        if config:  # the host's own file, never the machine's /etc/docker/daemon.json
            (node.dir / "daemon.json").write_text(json.dumps(config, indent=1) + "\n")
            flags = [*flags, "--config-file", str(node.dir / "daemon.json")]
        node.spawn(
            [
                "env",
                "-i",
                f"PATH={engine.path_env()}",
                engine.dockerd,
                "--data-root",
                str(node.dir / "docker"),
                "--exec-root",
                "/run/docker",
                "-H",
                "unix:///run/docker.sock",
                "--pidfile",
                "/run/docker.pid",
                "--cgroup-parent",
                self.names.cgroup_parent(host),
                "--shutdown-timeout",
                "2",
                *flags,
            ],
            node.dir / "dockerd.log",
        )

    def wait_engine(self, host: str, gossip_port: int | None = None) -> None:
        """Until dockerd answers on its socket (and, if given, listens on its gossip port)."""
        node = self.node(host)
        sock = node.root("/run/docker.sock")
        log = node.dir / "dockerd.log"
        wait_until_ready(lambda: _docker_answers(sock) or _failed(log), budgets.ENGINE_START, f"dockerd on {host}", log)
        if _failed(log):
            refused = _last_line(log, CONFIG_REFUSED)
            if CONFIG_REFUSED in refused:  # the daemon.json netproof wrote holds only the topology's daemon: settings
                raise NetproofError(
                    f"dockerd on {host} refuses the topology's daemon: settings ({refused.split(': ', 1)[-1]}); fix "
                    f"daemon: (or hosts.{host}.daemon:) in the topology file; log: {log}"
                )
            raise NetproofError(
                f"dockerd on {host} failed to start: {_last_line(log, 'level=fatal', 'failed to start', 'Status: ')}; "
                f"log: {log}"
            )
        if gossip_port:
            listening = ["ss", "-Hltn", f"sport = :{gossip_port}"]
            wait_until_ready(
                lambda: node.run(listening, timeout=5).stdout.strip() != "",
                budgets.ENGINE_START,
                f"dockerd on {host} to listen for gossip on port {gossip_port}",
                log,
            )

    def engine_pid(self, host: str) -> int | None:
        node = self.node(host)
        try:
            pid = int(Path(node.root("/run/docker.pid")).read_text())
        except (OSError, ValueError, NetproofError):
            return None
        return pid if _running(pid) else None

    def stop_engine(self, host: str, timeout: float = budgets.ENGINE_STOP) -> str | None:
        pid = self.engine_pid(host)
        if pid is None:
            return None
        started = time.monotonic()
        os.kill(pid, signal.SIGTERM)
        _, stopped = wait.poll(lambda: not os.path.exists(f"/proc/{pid}"), timeout=timeout, interval=0.2)
        took = time.monotonic() - started
        if stopped:
            return f"dockerd took {took:.0f} s to stop" if took > budgets.SLOW_STOP else None
        os.kill(pid, signal.SIGKILL)  # what systemd does after TimeoutStopSec
        wait_until_ready(lambda: not os.path.exists(f"/proc/{pid}"), 10, f"dockerd on {host} to die (SIGKILL)", None)
        return f"dockerd did not stop within {timeout:.0f} s of SIGTERM: killed, as a service manager would"

    def engine_log(self, host: LabHost, since: float, until: float) -> str:
        try:
            text = (self.node(host.name).dir / "dockerd.log").read_text(errors="replace")
        except OSError as e:
            return f"(no dockerd log for {host.name}: {e})"
        return log_lines_between(text, since, until)


def _running(pid: int) -> bool:
    """The process exists and has not ended: a dockerd that crashed stays a zombie until its parent reaps it."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def wait_until_ready(ready: Callable[[], bool], timeout: float, what: str, log: Path | None) -> None:
    hint = (lambda: f"last log line: {_last_line(log)} (log: {log})") if log else None
    wait.until(ready, timeout=timeout, what=what, interval=0.02, max_interval=0.25, hint=hint)


def _docker_answers(sock: str) -> bool:
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(2)
            s.connect(sock)
            s.sendall(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
            return b" 200 " in s.recv(64)
    except OSError:
        return False


def _failed(log: Path) -> bool:
    try:
        text = log.read_text(errors="replace")
    except OSError:
        return False
    # dockerd's own refusals: a fatal log line, or its command line refused ("Status: unknown flag: ..., Code: 125")
    return (
        CONFIG_REFUSED in text
        or "failed to start daemon" in text
        or "level=fatal" in text
        or bool(re.search(r"^Status: .*(\n.*)?Code: \d+", text, re.M))
    )


def _last_line(log: Path | None, *preferring: str) -> str:
    try:
        lines = [line for line in log.read_text(errors="replace").splitlines() if line.strip()]
    except (OSError, AttributeError):
        return "no log"
    for marker in preferring:
        chosen = [line for line in lines if marker in line]
        if chosen:
            return chosen[-1][:300]
    return lines[-1][:300] if lines else "empty log"
