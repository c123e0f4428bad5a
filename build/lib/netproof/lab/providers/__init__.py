"""Providers build a lab's hosts: `netns` (namespaces on this machine, the default), `vagrant`
(VMs from the top-level Vagrantfile) and `ssh` (hosts that already exist)."""

from __future__ import annotations

import importlib

from netproof.errors import NetproofError
from netproof.lab.model.names import LabNames
from netproof.lab.model.topology import PROVIDERS
from netproof.lab.providers.base import EngineControl, Provider
from netproof.progress import Progress

# Imported when first asked for: each pulls in its own tools (testinfra's SSH backend, python-vagrant).
_CLASSES = {
    "netns": "netproof.lab.providers.netns:NetnsProvider",
    "vagrant": "netproof.lab.providers.vagrant:VagrantProvider",
    "ssh": "netproof.lab.providers.ssh:SshProvider",
}


def provider_class(name: str) -> type[Provider]:
    if name not in _CLASSES:
        raise NetproofError(f"unknown provider {name!r}; known providers: {', '.join(PROVIDERS)}")
    module, cls = _CLASSES[name].split(":")
    return getattr(importlib.import_module(module), cls)


def make_provider(name: str, names: LabNames, progress: Progress) -> Provider:
    return provider_class(name)(names, progress)


def require_engine_control(provider: Provider, wanted_by: str) -> EngineControl:
    """The provider, if it can stop and start engines in place; else one line naming those that can."""
    if isinstance(provider, EngineControl):
        return provider
    able = [name for name in _CLASSES if issubclass(provider_class(name), EngineControl)]
    raise NetproofError(
        f"{wanted_by} stops and starts engines in place, which provider {provider.name} cannot do;"
        f" providers that can: {', '.join(able)}"
    )
