"""What a lab host's kernel can do, asked of the kernel itself, never assumed from the machine kind.

Some of Docker's networking needs kernel features a machine may not have (this machine's monolithic kernel
has no IPVS and no IPsec ESP; Debian's has both as modules, see LAB-NOTES). A check that needs one asks
`lacking(host, feature)` and is skipped with the kernel's own answer where it is missing.
"""

from __future__ import annotations

from dataclasses import dataclass

from netproof.lab.providers.base import LabHost


@dataclass(frozen=True)
class Feature:
    needs: str  # what of Docker's needs it
    module: str
    proc_file: str | None = None  # present once the kernel has it
    # A command that succeeds only where the kernel can do what Docker asks of it; run in a network namespace
    # of its own (unshare -n), so that it changes nothing of the host's. A kernel with modules loads them for it.
    probe: tuple[str, ...] = ()
    asked: str = ""  # what the probe asks for, in a sentence


# Docker's encrypted overlays make ESP transport-mode SAs with AES-GCM (libnetwork's overlay driver,
# encryption.go: rfc4106(gcm(aes))). Documentation addresses only (RFC 5737); the namespace is thrown away.
ESP_PROBE = (
    "unshare",
    "-n",
    "ip",
    "xfrm",
    "state",
    "add",
    *("src", "192.0.2.1", "dst", "192.0.2.2", "proto", "esp", "spi", "0x100", "reqid", "1", "mode", "transport"),
    *("aead", "rfc4106(gcm(aes))", "0x0102030405060708090a0b0c0d0e0f1011121314", "64"),
)

FEATURES = {
    "ipvs": Feature("swarm service VIPs and the routing mesh", "ip_vs", proc_file="/proc/net/ip_vs"),
    "esp": Feature(
        "encrypted overlays (--opt encrypted)",
        "esp4",
        probe=ESP_PROBE,
        asked="an ESP transport-mode state with rfc4106(gcm(aes)), as Docker makes,",
    ),
}


def lacking(host: LabHost, feature: str) -> str | None:
    """None if the host's kernel has the feature (built in, loaded, or a module it can load), else why not,
    in the kernel's words."""
    wanted = FEATURES[feature]
    name = feature.upper()
    if wanted.probe:
        tried = host.run(list(wanted.probe))
        if tried.ok:
            return None
        said = (tried.stderr or tried.stdout).strip() or f"exit {tried.returncode}"
        return (
            f"{host.name}'s kernel has no {name} ({wanted.needs} need it): asked for {wanted.asked} "
            f"`{' '.join(wanted.probe[2:5])}` says: {said}"
        )
    if host.run(["test", "-e", wanted.proc_file]).ok or host.run(["test", "-d", f"/sys/module/{wanted.module}"]).ok:
        return None
    probe = host.run(["modprobe", "-n", "-q", wanted.module])  # -n: only asks whether it could be loaded
    if probe.ok:
        return None
    said = (probe.stderr or probe.stdout).strip() or f"exit {probe.returncode}"
    if probe.returncode == 127:
        said = "there is no modprobe (a kernel without loadable modules)"
    return (
        f"{host.name}'s kernel has no {name} ({wanted.needs} need it): no {wanted.proc_file}, no "
        f"/sys/module/{wanted.module}, and `modprobe -n {wanted.module}` says: {said}"
    )
