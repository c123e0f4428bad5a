"""pytest-testinfra on lab hosts: a testinfra backend that runs commands through the host's own
command channel, so `host.infra.interface(...)`, `.iptables`, `.run` work on every provider."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import testinfra.host
from testinfra.backend import base

if TYPE_CHECKING:
    from netproof.providers.base import LabHost


class LabHostBackend(base.BaseBackend):
    NAME = "netproof"

    def __init__(self, lab_host: LabHost, **kwargs: Any):
        self.lab_host = lab_host
        super().__init__(lab_host.name, **kwargs)

    def run(self, command: str, *args: str, **kwargs: Any) -> base.CommandResult:
        command = self.get_command(command, *args)
        done = self.lab_host.run(command)
        # str, not bytes: testinfra would otherwise run python on the host to learn its encoding.
        return self.result(done.returncode, self.encode(command), done.stdout, done.stderr)


def testinfra_host(lab_host: LabHost) -> testinfra.host.Host:
    return testinfra.host.Host(LabHostBackend(lab_host))
