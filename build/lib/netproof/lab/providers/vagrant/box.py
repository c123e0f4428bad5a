"""`netproof box build`: a Vagrant box for libvirt, built here from Debian's packages.

No box catalogue is asked for anything, so a Vagrant lab can be built with no internet once the
box and its packages are here. The box is Debian 12 with the cloud kernel, booted directly by
qemu (kernel and initrd travel in the box; its Vagrantfile points libvirt at them), so the disk
is one ext4 file system with no boot loader, made by mkfs.ext4 -d from a debootstrap tree.

Docker and etcd are downloaded into the box's apt cache, not installed: the lab's Vagrantfile
installs the engine a host asks for from those packages when it provisions the VM, offline.
"""

from __future__ import annotations

import json
import os
import shutil
import tarfile
from pathlib import Path

from netproof import system
from netproof.errors import NetproofError
from netproof.lab import engines
from netproof.progress import Progress

BOX_NAME = "netproof/debian12"
BOX_DIR = engines.CACHE_DIR / "boxes"
BOX_FILE = BOX_DIR / "netproof-debian12-libvirt.box"
# Vagrant's own state (added boxes) lives here, not in root's ~/.vagrant.d.
VAGRANT_HOME = engines.CACHE_DIR / "vagrant"
PACKAGES_STAMP = VAGRANT_HOME / "netproof-box.packages"  # what the added box was built with
DISK_SIZE_GB = 6
SUITE = "bookworm"

# Installed in the box: what boots, what Vagrant needs to log in and set addresses (ifupdown),
# and what the checks use on a host (tcpdump, iproute2, ping, iptables).
INSTALLED = [
    "linux-image-cloud-amd64",
    "systemd-sysv",
    "udev",
    "dbus",
    "kmod",
    "openssh-server",
    "sudo",
    "ifupdown",
    "isc-dhcp-client",
    "iproute2",
    "iputils-ping",
    "iptables",
    "tcpdump",
    "procps",
    "busybox-static",
    "python3",  # PUB-003's neighbour writes its frames with a raw socket (wire.CRAFT_SYN), as on netns hosts
    "ca-certificates",
    "rsync",
    "less",
    # Debian's kernel enables AppArmor; dockerd then needs apparmor_parser to load its profile.
    "apparmor",
]
# Downloaded only: the VM's provisioning installs them from the box's apt cache.
DOWNLOADED = ["docker.io", "etcd-server"]

VAGRANT_PUBLIC_KEY = Path("/usr/share/rubygems-integration/all/gems/vagrant-2.3.4/keys/vagrant.pub")

BOX_VAGRANTFILE = """\
# The box's own Vagrantfile: qemu boots the kernel and initrd that travel in the box.
Vagrant.configure("2") do |config|
  config.vm.provider :libvirt do |libvirt|
    here = File.dirname(__FILE__)
    libvirt.kernel = File.join(here, "vmlinuz")
    libvirt.initrd = File.join(here, "initrd.img")
    libvirt.cmd_line = "root=/dev/vda rw console=ttyS0 net.ifnames=0 quiet"
  end
end
"""

# Runs inside the tree (chroot) after debootstrap.
CONFIGURE = r"""
set -e
echo netproof > /etc/hostname
printf '/dev/vda / ext4 defaults 0 1\n' > /etc/fstab
printf 'auto lo\niface lo inet loopback\n\nallow-hotplug eth0\niface eth0 inet dhcp\n' > /etc/network/interfaces
useradd -m -s /bin/bash -G sudo vagrant
echo 'vagrant:vagrant' | chpasswd
echo 'vagrant ALL=(ALL) NOPASSWD:ALL' > /etc/sudoers.d/vagrant
chmod 440 /etc/sudoers.d/vagrant
install -d -m 700 -o vagrant -g vagrant /home/vagrant/.ssh
install -m 600 -o vagrant -g vagrant /tmp/vagrant.pub /home/vagrant/.ssh/authorized_keys
echo 'UseDNS no' > /etc/ssh/sshd_config.d/netproof.conf
# Every VM makes its own SSH host keys when it first boots.
rm -f /etc/ssh/ssh_host_*
mkdir -p /etc/systemd/system/ssh.service.d
printf '[Service]\nExecStartPre=\nExecStartPre=/usr/bin/ssh-keygen -A\nExecStartPre=/usr/sbin/sshd -t\n' \
    > /etc/systemd/system/ssh.service.d/keys.conf
# The VMs have no way out: nothing should wait for time servers or the network to be "online".
systemctl mask systemd-timesyncd.service apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer 2>/dev/null || true
apt-get clean   # debootstrap's own downloads are installed already
apt-get update -q
apt-get install -q -y --download-only --no-install-recommends DOWNLOADED
rm -f /tmp/vagrant.pub
"""


def build(progress: Progress, mirror: str | None = None, work: Path | None = None) -> Path:
    """Builds the box file and adds it to netproof's Vagrant home. Returns the box file."""
    system.require_root()
    system.require_tools(
        {"debootstrap": "debootstrap", "mkfs.ext4": "e2fsprogs", "qemu-img": "qemu-utils", "vagrant": "vagrant"}
    )
    if not VAGRANT_PUBLIC_KEY.exists():
        raise NetproofError(
            f"{VAGRANT_PUBLIC_KEY} is missing: install Debian's vagrant 2.3.4 (apt-get install vagrant)"
        )
    mirror = mirror or engines.machine_mirror()
    work = work or BOX_DIR / "build"
    shutil.rmtree(work, ignore_errors=True)
    tree, out = work / "tree", work / "box"
    out.mkdir(parents=True)
    try:
        with progress.step(f"debootstrap Debian {SUITE} from {mirror} ({len(INSTALLED)} packages and what they need)"):
            _run(
                ["debootstrap", "--variant=minbase", f"--include={','.join(INSTALLED)}", SUITE, str(tree), mirror],
                "debootstrap",
            )
        with progress.step(f"configuring the box; downloading {', '.join(DOWNLOADED)} into its apt cache"):
            (tree / "etc/apt/sources.list").write_text(f"deb {mirror} {SUITE} main\n")
            shutil.copy(VAGRANT_PUBLIC_KEY, tree / "tmp/vagrant.pub")
            _run(
                ["chroot", str(tree), "sh", "-c", CONFIGURE.replace("DOWNLOADED", " ".join(DOWNLOADED))],
                "configuring the tree",
            )
        kernel = sorted(tree.glob("boot/vmlinuz-*"))
        initrd = sorted(tree.glob("boot/initrd.img-*"))
        if not kernel or not initrd:
            raise NetproofError(f"no kernel or initrd in {tree / 'boot'}: linux-image-cloud-amd64 did not install")
        shutil.copy(kernel[-1], out / "vmlinuz")
        shutil.copy(initrd[-1], out / "initrd.img")
        with progress.step(f"making the disk image ({DISK_SIZE_GB} GB ext4, qcow2)"):
            raw = work / "disk.raw"
            _run(["mkfs.ext4", "-q", "-L", "root", "-d", str(tree), str(raw), f"{DISK_SIZE_GB}G"], "mkfs.ext4")
            _run(["qemu-img", "convert", "-O", "qcow2", str(raw), str(out / "box.img")], "qemu-img convert")
            raw.unlink()
        (out / "metadata.json").write_text(
            json.dumps({"provider": "libvirt", "format": "qcow2", "virtual_size": DISK_SIZE_GB})
        )
        (out / "Vagrantfile").write_text(BOX_VAGRANTFILE)
        with progress.step(f"packing {BOX_FILE}"):
            partial = BOX_FILE.with_suffix(".partial")
            with tarfile.open(partial, "w") as tar:
                for f in sorted(out.iterdir()):
                    tar.add(f, arcname=f.name)
            partial.rename(BOX_FILE)
        with progress.step(f"adding it to Vagrant as {BOX_NAME} ({VAGRANT_HOME})"):
            _run(
                ["vagrant", "box", "add", "--force", "--name", BOX_NAME, str(BOX_FILE)],
                "vagrant box add",
                env=vagrant_env(),
            )
        PACKAGES_STAMP.write_text(_packages())
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return BOX_FILE


def _packages() -> str:
    return " ".join(INSTALLED) + " | " + " ".join(DOWNLOADED) + "\n"


def is_added() -> bool:
    """The box is in netproof's Vagrant, built with the packages this netproof puts in it."""
    added = any((VAGRANT_HOME / "boxes" / BOX_NAME.replace("/", "-VAGRANTSLASH-")).glob("*/libvirt/box.img"))
    return added and PACKAGES_STAMP.exists() and PACKAGES_STAMP.read_text() == _packages()


def vagrant_env() -> dict[str, str]:
    return {**os.environ, "VAGRANT_HOME": str(VAGRANT_HOME), "VAGRANT_CHECKPOINT_DISABLE": "1", "VAGRANT_NO_COLOR": "1"}


def _run(argv: list[str], what: str, env: dict[str, str] | None = None) -> None:
    done = system.run(argv, check=False, timeout=None, env=env)
    if not done.ok:
        tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-5:])
        raise NetproofError(f"box build: {what} failed (exit {done.returncode}):\n{tail}")
