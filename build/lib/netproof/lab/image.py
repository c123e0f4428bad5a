"""The test image every check runs: Debian's static busybox on an empty root, never pulled.

It is imported (`docker import`, the same as FROM scratch plus COPY) from a tar made here,
so a lab needs no registry and every host has the identical image. Its name is in a registry that
cannot exist (`.invalid`, RFC 6761: it never resolves): where a host lacks it, no pull can fetch another
image of that name from anyone, and `docker run` is told `--pull never` as well.
"""

from __future__ import annotations

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


def install(hosts: list[LabHost], progress: Progress) -> list[str]:
    """Imports the test image where it is missing; returns the hosts it was imported on."""
    missing = [h for h in hosts if not h.docker().images.list(name=TEST_IMAGE)]
    if not missing:
        return []
    with progress.step(f"importing the test image {TEST_IMAGE} on {len(missing)} hosts"):
        data = rootfs_tar()
        repository, tag = TEST_IMAGE.split(":")

        def load(host: LabHost) -> None:
            host.docker().api.import_image_from_data(data, repository=repository, tag=tag, changes=['CMD ["sh"]'])

        with ThreadPoolExecutor(max_workers=len(missing)) as pool:
            list(pool.map(load, missing))
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
