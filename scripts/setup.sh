# Sourced by the other scripts: installs what netproof needs on Debian 12, as root. Safe to run again.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if [ "$(id -u)" != 0 ]; then
  echo "netproof needs root (it builds network namespaces and runs dockerd): run this with sudo" >&2
  exit 1
fi

# Debian packages: the 20.10 engine with containerd and runc, etcd for the key-value control plane,
# busybox-static for the test image, tcpdump for captures, iputils-ping for the lab doctor's
# don't-fragment pings, nftables for Docker 29's nftables firewall backend (its nft tool; the package's own
# service stays disabled), chromium for the report's browser test, iperf3 for bench/datapath_bench.py;
# ssh for the ssh provider (sshd only for its test). With NETPROOF_VMS=1 (the vagrant provider, the nightly
# tests): Vagrant with libvirt and qemu, debootstrap and qemu-utils for its box (no libvirtd is started: each lab
# runs its own).
packages=(docker.io containerd runc etcd-server busybox-static tcpdump iputils-ping iptables nftables iproute2 util-linux procps
          debian-archive-keyring python3-venv chromium openssh-client openssh-server dnsmasq-base e2fsprogs iperf3)
if [ "${NETPROOF_VMS:-0}" = 1 ]; then
  packages+=(vagrant vagrant-libvirt libvirt-daemon-system libvirt-daemon-driver-qemu qemu-system-x86 qemu-utils debootstrap)
fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "== installing Debian packages: ${missing[*]}"
  # Installing docker.io must not start the machine's own Docker daemon: netproof never uses
  # it, and it would change the machine's interfaces and firewall. policy-rc.d says "don't".
  added_policy=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
    added_policy=1
  fi
  # Nor may it leave the machine's own services enabled at boot that were not before (docker.io enables
  # docker.service, libvirt its daemons): what the install enabled is disabled again, and said.
  enabled_before=$(command -v systemctl >/dev/null && systemctl list-unit-files --state=enabled --no-legend 2>/dev/null | awk '{print $1}' | sort)
  apt-get update -q
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
  [ -n "$added_policy" ] && rm -f /usr/sbin/policy-rc.d
  if command -v systemctl >/dev/null; then
    enabled_after=$(systemctl list-unit-files --state=enabled --no-legend 2>/dev/null | awk '{print $1}' | sort)
    newly=$(comm -13 <(echo "$enabled_before") <(echo "$enabled_after") | grep -v '^$' || true)
    if [ -n "$newly" ]; then
      echo "== leaving the machine's services as they were: disabling what the install enabled: $(echo $newly)"
      systemctl disable --quiet $newly 2>/dev/null || true
    fi
  fi
fi

if [ ! -x .venv/bin/python ]; then
  echo "== creating the virtual environment .venv"
  python3 -m venv .venv
fi
echo "== installing netproof into .venv"
.venv/bin/pip install -q --disable-pip-version-check -e ".[dev]"
export PATH="$PWD/.venv/bin:$PATH"
