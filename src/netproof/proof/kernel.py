"""What a lab host's kernel can do, asked of the kernel itself, never assumed from the machine kind.

Some of Docker's networking needs kernel features a machine may not have (this machine's monolithic kernel
has no IPVS and no IPsec ESP; Debian's has both as modules, see LAB-NOTES). A check that needs one asks
`lacking(host, feature)` and is skipped with the kernel's own answer where it is missing.
"""

from __future__ import annotations

from netproof.providers.base import LabHost

# feature -> (what needs it, the /proc file present once the kernel has it, its module)
FEATURES = {
    "ipvs": ("swarm service VIPs and the routing mesh", "/proc/net/ip_vs", "ip_vs"),
}


def lacking(host: LabHost, feature: str) -> str | None:
    """None if the host's kernel has the feature (built in, loaded, or a module it can load), else why not,
    in the kernel's words."""
    needs, proc_file, module = FEATURES[feature]
    if host.run(["test", "-e", proc_file]).ok or host.run(["test", "-d", f"/sys/module/{module}"]).ok:
        return None
    probe = host.run(["modprobe", "-n", "-q", module])  # -n: only asks whether it could be loaded
    if probe.ok:
        return None
    said = (probe.stderr or probe.stdout).strip() or f"exit {probe.returncode}"
    if probe.returncode == 127:
        said = "there is no modprobe (a kernel without loadable modules)"
    return (
        f"{host.name}'s kernel has no {feature.upper()} ({needs} need it): no {proc_file}, no /sys/module/{module}, "
        f"and `modprobe -n {module}` says: {said}"
    )
