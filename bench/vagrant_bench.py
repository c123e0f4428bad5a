"""Vagrant lab figures: box build, `up` of labs/vagrant-pair.yml (two VMs), the lab's memory,
the cross-host checks on it, and `down`. Run as root:

    python bench/vagrant_bench.py [--build-box]

Under software emulation (no KVM, as on these machines) these are minutes, not seconds; the
figures say what a user of such a machine waits for. No target is set for them.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

from lab_bench import memory_of

from netproof.jobs import checkrun
from netproof.lab.lab import Lab
from netproof.lab.model import loader
from netproof.lab.providers.vagrant import box
from netproof.progress import QUIET

ROOT = Path(__file__).parents[1]
LAB = "bench-vagrant"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--build-box", action="store_true", help="build the box again first and time it")
    args = parser.parse_args()
    if args.build_box or not box.is_added():
        started = time.monotonic()
        path = box.build(QUIET)
        print(f"box build: {time.monotonic() - started:.0f} s, {path.stat().st_size / 2**20:.0f} MiB")

    started = time.monotonic()
    lab = Lab.up(loader.load(ROOT / "labs" / "vagrant-pair.yml").with_overrides(name=LAB))
    up = time.monotonic() - started
    try:
        processes, rss, pss = memory_of(LAB)
        started = time.monotonic()
        done = subprocess.run(
            checkrun.pytest_argv(
                ROOT / "checks", LAB, select="OVL-PING-001 or OVL-VXLAN-001", workers=None, extra=("-q",)
            ),
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
        checks = time.monotonic() - started
        verdict = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else "no output"
    finally:
        started = time.monotonic()
        lab.down()
        down = time.monotonic() - started
    print(f"vagrant-pair up:   {up:.0f} s (2 VMs, {lab.provider.libvirt_driver})")
    print(
        f"memory:            {pss / 2**20:.0f} MiB PSS, {rss / 2**20:.0f} MiB RSS in {processes} processes (libvirtd, "
        "qemu, dnsmasq, ssh)"
    )
    print(f"ping + VXLAN:      {checks:.0f} s ({verdict})")
    print(f"down:              {down:.0f} s")
    return 0 if done.returncode == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
