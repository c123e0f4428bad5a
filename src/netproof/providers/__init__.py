"""Providers build a lab's hosts: `netns` (namespaces on this machine, the default)."""

from __future__ import annotations

from netproof.errors import NetproofError
from netproof.lab.names import LabNames
from netproof.progress import Progress
from netproof.providers.base import Provider

PROVIDERS = ("netns",)


def make_provider(name: str, names: LabNames, progress: Progress) -> Provider:
    if name == "netns":
        from netproof.providers.netns import NetnsProvider

        return NetnsProvider(names, progress)
    raise NetproofError(f"unknown provider {name!r}; known providers: {', '.join(PROVIDERS)}")
