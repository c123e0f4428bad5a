"""The test image every check runs: Debian's static busybox on an empty root, never pulled.

It is imported (`docker import`, the same as FROM scratch plus COPY) from a tar made here,
so a lab needs no registry and every host has the identical image. Its name is in a registry that
cannot exist (`.invalid`, RFC 6761: it never resolves): where a host lacks it, no pull can fetch another
image of that name from anyone, and `docker run` is told `--pull never` as well. The name is trusted by content:
an image under it whose one layer is not the tar made here (its diff ID, the tar's sha256) is imported over.
"""

from __future__ import annotations

import hashlib
import io
import shutil
import tarfile
from concurrent.futures import ThreadPoolExecutor

import docker

from netproof import system
from netproof.errors import NetproofError
from netproof.lab.providers.base import LabHost
from netproof.progress import Progress

TEST_IMAGE = "netproof.invalid/busybox:latest"


def rootfs_tar() -> bytes:
    busybox = shutil.which("busybox")
    if not busybox:
        raise NetproofError("busybox is missing; install it: apt-get install busybox-static")
    with open(busybox, "rb") as f:
        binary = f.read()
    if b"ld-linux" in binary[:4096]:
        raise NetproofError(
            f"{busybox} is dynamically linked and cannot run in an empty image; apt-get install busybox-static"
        )
    applets = system.run([busybox, "--list"]).stdout.split()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for d in ("bin", "tmp", "etc", "proc", "sys", "dev"):
            info = tarfile.TarInfo(d)
            info.type, info.mode = tarfile.DIRTYPE, 0o1777 if d == "tmp" else 0o755
            tar.addfile(info)
        info = tarfile.TarInfo("bin/busybox")
        info.size, info.mode = len(binary), 0o755
        tar.addfile(info, io.BytesIO(binary))
        for applet in applets:
            if applet != "busybox":
                link = tarfile.TarInfo(f"bin/{applet}")
                link.type, link.linkname = tarfile.SYMTYPE, "busybox"
                tar.addfile(link)
    return buf.getvalue()


def layer_digest(data: bytes) -> str:
    """The diff ID Docker gives the one layer of an image imported from this tar."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


def holds_ours(host: LabHost, layer: str) -> bool | str:
    """True if the host's image of the test image's name is the one made here; False if it has none; else what
    it holds instead (an image of that name someone else made)."""
    try:
        found = host.docker().images.get(TEST_IMAGE)
    except docker.errors.ImageNotFound:
        return False
    layers = found.attrs.get("RootFS", {}).get("Layers") or []
    return True if layers == [layer] else f"{found.short_id} with layers {', '.join(x[:19] for x in layers)}"


def install(hosts: list[LabHost], progress: Progress) -> list[str]:
    """Imports the test image where it is missing or is not the one made here; returns the hosts it was imported
    on."""
    data = rootfs_tar()
    layer = layer_digest(data)
    held = {h.name: holds_ours(h, layer) for h in hosts}
    missing = [h for h in hosts if held[h.name] is not True]
    for h in missing:
        if held[h.name]:
            progress.say(f"  {h.name}: {TEST_IMAGE} is {held[h.name]}, not netproof's ({layer[:19]}): imported over")
    if not missing:
        return []
    with progress.step(f"importing the test image {TEST_IMAGE} on {len(missing)} hosts"):
        repository, tag = TEST_IMAGE.split(":")

        def load(host: LabHost) -> None:
            host.docker().api.import_image_from_data(data, repository=repository, tag=tag, changes=['CMD ["sh"]'])

        with ThreadPoolExecutor(max_workers=len(missing)) as pool:
            list(pool.map(load, missing))
    unlike = {h.name: holds_ours(h, layer) for h in missing}
    if any(v is not True for v in unlike.values()):
        raise NetproofError(
            f"the test image {TEST_IMAGE} is not netproof's after its import ({layer[:19]} expected): "
            + "; ".join(f"{name}: {v or 'none'}" for name, v in unlike.items() if v is not True)
        )
    return [h.name for h in missing]


def remove(hosts: list[LabHost]) -> list[str]:
    """Take the test image back off hosts netproof does not own; what could not be, per host (a host that
    no longer answers is no reason to leave the others' images)."""
    problems = []
    for host in hosts:
        try:
            host.docker().images.remove(TEST_IMAGE, force=True)
        except docker.errors.ImageNotFound:
            pass
        except Exception as e:  # noqa: BLE001 - said, and the rest still taken down
            problems.append(f"{host.name}: {type(e).__name__}: {e}")
    return problems
