"""Providers build a lab's hosts: `netns` (namespaces on this machine, the default), `vagrant`
(VMs from the top-level Vagrantfile) and `ssh` (hosts that already exist)."""

from __future__ import annotations

from netproof.errors import NetproofError
from netproof.model.names import LabNames
from netproof.model.topology import PROVIDERS
from netproof.progress import Progress
from netproof.providers.base import Provider


def make_provider(name: str, names: LabNames, progress: Progress) -> Provider:
    if name == "netns":
        from netproof.providers.netns import NetnsProvider

        return NetnsProvider(names, progress)
    if name == "vagrant":
        from netproof.providers.vagrant import VagrantProvider

        return VagrantProvider(names, progress)
    if name == "ssh":
        from netproof.providers.ssh import SshProvider

        return SshProvider(names, progress)
    raise NetproofError(f"unknown provider {name!r}; known providers: {', '.join(PROVIDERS)}")
