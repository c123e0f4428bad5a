"""Provider `vagrant`: one VM per host, from labs/Vagrantfile, driven by python-vagrant.

The VMs run under the lab's own libvirtd, in the lab's hypervisor namespace (hypervisor.py),
which is also the lab's router: its libvirt networks route between the underlay subnets and
forward nowhere else. Vagrant itself runs inside that namespace (it must reach the VMs' management
addresses and libvirt's socket, both of which live only there); netproof reaches the VMs over SSH
with the configuration `vagrant ssh-config` gives, through a ProxyCommand into the namespace.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import time
from pathlib import Path

import yaml

from netproof import system, wait
from netproof.errors import NetproofError
from netproof.facts import budgets
from netproof.lab import engines, leftovers
from netproof.lab.model import loader
from netproof.lab.model.engine_start import EngineStart
from netproof.lab.model.topology import ROUTER, Topology
from netproof.lab.providers.base import EngineControl, LabHost, Provider
from netproof.lab.providers.netns import NetnsHost
from netproof.lab.providers.sshhost import SshAccess, SshHost, SshTarget, docker_socket_answers
from netproof.lab.providers.vagrant import box
from netproof.lab.providers.vagrant.hypervisor import Hypervisor

# The Vagrantfile travels with the labs (the package netproof.labs, the checkout's labs/): found wherever netproof is
# installed. Vagrant's own files go to the lab's folder (VAGRANT_DOTFILE_PATH), never beside it.
VAGRANTFILE_DIR = loader.SHIPPED
VAGRANT_TOOLS = {
    "vagrant": "vagrant",
    "libvirtd": "libvirt-daemon-system",
    "virsh": "libvirt-clients",
    "qemu-system-x86_64": "qemu-system-x86",
    "dnsmasq": "dnsmasq-base",
    "ssh": "openssh-client",
    "busybox": "busybox-static",
}
BOX_ENGINES = ("20.10", engines.SYSTEM)  # what the box installs offline (Debian 12's docker.io)
USER = "vagrant"
ENGINE_DIR = "/opt/netproof/engine"  # in the VM, as in the Vagrantfile: where an engine other than the box's goes
ENGINE_UNIT = "/etc/systemd/system/docker.service.d/netproof-engine.conf"  # the Vagrantfile writes it too
SOFTWARE_EMULATION_PATIENCE = 4.0  # qemu without KVM: Docker's work takes several times as long


def _vagrant_class():
    import vagrant  # python-vagrant warns at import when vagrant is missing: only import it here

    class LabVagrant(vagrant.Vagrant):
        """python-vagrant, with every vagrant command run inside the lab's hypervisor namespace."""

        def __init__(self, hypervisor: Hypervisor, **kwargs):
            super().__init__(**kwargs)
            self.hypervisor = hypervisor

        def _make_vagrant_command(self, args):  # the one place python-vagrant builds the command line
            return self.hypervisor.node.enter(super()._make_vagrant_command(args))

    return LabVagrant


class VagrantProvider(Provider, EngineControl):
    name = "vagrant"
    capabilities = frozenset({"builds-hosts", "engine-control"})
    cannot = {
        "underlay-shaping": "does not shape its libvirt networks yet",
        "ipv6-underlay": "gives its VMs IPv4 addresses only",
    }

    @property
    def patience(self) -> float:
        return SOFTWARE_EMULATION_PATIENCE if self.libvirt_driver == "qemu" else 1.0

    @property
    def libvirt_driver(self) -> str:
        # No KVM guest boots on machines like this one; NETPROOF_LIBVIRT_DRIVER=kvm where it does.
        return os.environ.get("NETPROOF_LIBVIRT_DRIVER", "qemu")

    @property
    def hypervisor(self) -> Hypervisor:
        return Hypervisor(self.names)

    @property
    def access(self) -> SshAccess:
        return SshAccess(self.names.dir / "ssh")

    def vagrant(self, topology_file: Path | None = None):
        folder = self.names.dir
        env = {
            **box.vagrant_env(),
            "VAGRANT_CWD": str(VAGRANTFILE_DIR),
            "VAGRANT_DOTFILE_PATH": str(folder / "vagrant"),
            "VAGRANT_DEFAULT_PROVIDER": "libvirt",
            "NETPROOF_TOPOLOGY": str(topology_file or folder / "topology.yml"),
            "NETPROOF_LOG_DIR": str(folder / "consoles"),
            "NETPROOF_LIBVIRT_DRIVER": self.libvirt_driver,
            "NETPROOF_ENGINES": str(engines.CACHE_DIR / "engines"),  # engines other than the box's are copied in
        }
        log = folder / "vagrant.log"
        import vagrant

        return _vagrant_class()(
            self.hypervisor,
            root=str(VAGRANTFILE_DIR),
            env=env,
            out_cm=vagrant.make_file_cm(log),
            err_cm=vagrant.make_file_cm(log),
        )

    # --- life cycle -----------------------------------------------------------------------

    def preflight(self, topology: Topology) -> None:
        namespaces = {
            cmd: system.TOOLS[cmd] for cmd in ("ip", "nsenter", "unshare", "setsid", "mount")
        }  # the hypervisor's
        system.require_tools({**namespaces, **VAGRANT_TOOLS})
        if not (VAGRANTFILE_DIR / "Vagrantfile").exists():
            raise NetproofError(f"no Vagrantfile in {VAGRANTFILE_DIR}, where netproof's labs are; reinstall netproof")
        if not box.is_added():
            raise NetproofError(
                f"the Vagrant box {box.BOX_NAME} is not built yet, or was built by an earlier netproof with other "
                "packages; build it (a few minutes): netproof box build"
            )
        for h in topology.docker_hosts:
            if h.engine not in BOX_ENGINES:
                _copyable_engine(h.name, engines.resolve(h.engine))  # not cached: says to run netproof engines fetch
        if leftovers.find(self.names.lab):
            raise NetproofError(
                f"leftovers of an earlier lab {self.names.lab} are on this machine; remove them: netproof lab clean"
            )

    def up(self, topology: Topology, engine_start: EngineStart) -> dict:
        folder = self.names.dir
        (folder / "consoles").mkdir(parents=True, exist_ok=True)
        (folder / "topology.yml").write_text(yaml.safe_dump(topology.document(), sort_keys=False))
        hypervisor = self.hypervisor
        with self.progress.step(
            f"starting the lab's libvirtd in namespace {hypervisor.node.netns} (it routes the subnets)"
        ):
            hypervisor.start()
        vms = list(topology.hosts)
        driver = self.libvirt_driver
        with self.progress.step(
            f"vagrant up: {len(vms)} VMs ({', '.join(vms)}; {driver}"
            f"{', software emulation: minutes' if driver == 'qemu' else ''}; log {folder / 'vagrant.log'})"
        ):
            try:
                self.vagrant().up()
            except Exception as e:
                raise NetproofError(
                    f"vagrant up failed ({e}); last lines of {folder / 'vagrant.log'}:\n{_tail(folder / 'vagrant.log')}"
                ) from None
        with self.progress.step("reading vagrant ssh-config; opening SSH tunnels to the docker sockets"):
            self.access.write(self._ssh_targets(vms))
            for spec in topology.docker_hosts:
                self.access.open_docker_tunnel(spec.name)
        hosts = self.hosts(topology)
        if engine_start.one_at_a_time:  # the Vagrantfile leaves them stopped (see model.engine_start)
            with self.progress.step(f"starting dockerd on {len(topology.docker_hosts)} VMs one at a time"):
                for spec in topology.docker_hosts:
                    self._as_root(spec.name, "systemctl start docker", 180)
                    self.wait_engine(spec.name, engine_start.gossip_port)
        return {
            "engines": {h.name: hosts[h.name].docker().version().get("Version", "?") for h in topology.docker_hosts}
        }

    def _ssh_targets(self, vms: list[str]) -> list[SshTarget]:
        proxy = f"nsenter --net={self.hypervisor.netns_path} busybox nc %h %p"
        targets = []
        for vm in vms:
            conf = self.vagrant().conf(vm_name=vm)
            targets.append(
                SshTarget(
                    vm,
                    conf["HostName"],
                    conf.get("User", USER),
                    int(conf.get("Port", 22)),
                    conf.get("IdentityFile"),
                    proxy,
                )
            )
        return targets

    def down(self) -> None:
        folder = self.names.dir
        if (folder / "vagrant").exists() and self.hypervisor.node.holder_pid:
            with self.progress.step("vagrant destroy"):
                try:
                    self.vagrant().destroy()
                except Exception as e:  # what vagrant leaves, the sweep below removes
                    self.progress.say(f"  vagrant destroy failed ({e}); removing the lab's VMs with its namespace")
        # libvirtd, qemu, dnsmasq and the tunnels are the lab's processes; disks and libvirt's
        # state are in the lab's folder: the same sweep as `netproof lab clean` removes them all.
        left = leftovers.remove(self.names.lab, timeout=30)
        if left:
            raise NetproofError(
                f"lab {self.names.lab}: could not remove {'; '.join(left.describe())}; run `netproof lab clean`"
            )

    # --- a lab that is up -----------------------------------------------------------------

    def hosts(self, topology: Topology) -> dict[str, LabHost]:
        hosts: dict[str, LabHost] = {name: SshHost(spec, self.access, USER) for name, spec in topology.hosts.items()}
        for host in hosts.values():  # the footprint's container starts took longer than 60 s under emulation
            host.api_timeout = budgets.scaled(budgets.DOCKER_API, self.patience)
        hosts[ROUTER] = NetnsHost(topology.router, self.hypervisor.node)
        return hosts

    def status(self, host: LabHost) -> dict:
        if host.name == ROUTER:
            return {"alive": self.hypervisor.node.holder_pid is not None, "netns": self.hypervisor.node.netns}
        return host.status_facts()

    def engine_log(self, host: LabHost, since: float, until: float) -> str:
        return host.engine_log(since, until)

    # --- engines in place (netproof upgrade) -------------------------------------------------
    # As an operator does it on a machine: systemd stops dockerd, the unit is pointed at the other dockerd (copied
    # in from netproof's engine cache, as at provisioning), and systemd starts it on the same data root.

    def _as_root(self, host: str, script: str, timeout: float) -> system.CommandResult:
        argv = [*self.access.ssh_argv(host), "sudo", "-n", "sh", "-c", shlex.quote(script)]
        return system.run(argv, check=False, timeout=timeout, where=host)

    def stop_engine(self, host: str) -> str | None:
        started = time.monotonic()
        done = self._as_root(host, "systemctl stop docker.socket docker.service", budgets.ENGINE_STOP_VM)
        if not done.ok:
            raise NetproofError(f"{host}: systemd did not stop dockerd: {(done.stderr or done.stdout).strip()[-300:]}")
        took = time.monotonic() - started
        return f"dockerd took {took:.0f} s to stop" if took > budgets.SLOW_STOP * SOFTWARE_EMULATION_PATIENCE else None

    def start_engine(self, host: str, engine: engines.Engine, flags: list[str], config: dict | None = None) -> None:
        if engine.version in BOX_ENGINES:
            dockerd, path = "/usr/sbin/dockerd", ""
        else:
            folder = f"{ENGINE_DIR}/{engine.version}"
            for tool in _copyable_engine(host, engine):
                copied = system.run(
                    ["scp", "-q", "-F", str(self.access.config), tool, f"{host}:/tmp/{Path(tool).name}"],
                    check=False,
                    timeout=300,
                    where=host,
                )
                if not copied.ok:
                    raise NetproofError(f"{host}: could not copy {tool} into the VM: {copied.stderr.strip()[-300:]}")
            dockerd, path = f"{folder}/dockerd", f"{folder}:"
            install = f"install -D -m 0755 /tmp/dockerd {dockerd} && install -m 0755 /tmp/docker-proxy {folder}/"
            installed = self._as_root(host, install, 60)
            if not installed.ok:
                raise NetproofError(f"{host}: could not install {engine.version}: {installed.stderr.strip()[-300:]}")
        start = f"{dockerd} -H fd:// --containerd=/run/containerd/containerd.sock $DOCKER_OPTS {shlex.join(flags)}"
        unit = (
            "[Service]\n"
            f"Environment=PATH={path}/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n"
            f"ExecStart=\nExecStart={start.strip()}\n"
        )
        # The topology's daemon: settings only: flags given on the command line must not be in the file too.
        daemon_json = json.dumps(config or {}, indent=1)
        script = (
            f"mkdir -p {Path(ENGINE_UNIT).parent} /etc/docker && printf %s {shlex.quote(unit)} > {ENGINE_UNIT} && "
            f"printf %s {shlex.quote(daemon_json)} > /etc/docker/daemon.json && systemctl daemon-reload && "
            "{ systemctl reset-failed docker.service || true; } && systemctl start --no-block docker.service"
        )
        done = self._as_root(host, script, 60)
        if not done.ok:
            raise NetproofError(f"{host}: could not start dockerd {engine.version}: {done.stderr.strip()[-300:]}")

    def wait_engine(self, host: str, gossip_port: int | None = None) -> None:
        def state() -> tuple[str, bool]:
            active = self._as_root(host, "systemctl is-active docker.service", 30).stdout.strip()
            answers = docker_socket_answers(self.access.docker_socket(host))
            if active == "active" and not answers:  # a forward lost while dockerd was away is opened again
                answers = self.access.reopen_docker_tunnel(host) is None
            return active, answers

        seen, answered = wait.poll(
            state,
            holds=lambda s: s[0] == "active" and s[1] or s[0] == "failed",
            timeout=budgets.ENGINE_START_VM,
            interval=1,
        )
        if not answered or seen[0] != "active":
            journal = self._as_root(host, "journalctl -u docker.service -n 15 --no-pager -o cat", 30).stdout.strip()
            raise NetproofError(
                f"dockerd on {host} did not start ({seen[0] or 'no answer from systemd'}); its journal ends:\n{journal}"
            )
        if gossip_port:
            wait.until(
                lambda: self._as_root(host, f"ss -Hltn 'sport = :{gossip_port}'", 15).stdout.strip(),
                timeout=budgets.ENGINE_START_VM,
                interval=0.5,
                what=f"dockerd on {host} to listen for gossip on port {gossip_port}",
                hint=lambda: f"see: netproof lab exec {host} -- journalctl -u docker",
            )


def _copyable_engine(host: str, engine: engines.Engine) -> tuple[str, str]:
    """The dockerd and docker-proxy of an engine other than the box's, to copy into a VM. They run there with the
    box's containerd, runc and docker CLI (20.10's, API 1.41): a static build (Docker 29) is refused."""
    sbin = engines.engine_dir(engine.version) / "root/usr/sbin"
    if engine.runtime_dir or not (sbin / "dockerd").exists():
        raise NetproofError(
            f"{host}: engine {engine.version} ({engine.package_version}) is a static build; on VMs it would run "
            "with the box's docker CLI (20.10's, API 1.41), which Docker 29 refuses (minimum API 1.44): use "
            "engine 20.10, 26.1 or 28.5 with the vagrant provider"
        )
    return str(sbin / "dockerd"), str(sbin / "docker-proxy")


def _tail(path: Path, lines: int = 8) -> str:
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return "(no log)"
    return "\n".join(re.sub(r"\x1b\[[0-9;]*m", "", line) for line in text.strip().splitlines()[-lines:])
