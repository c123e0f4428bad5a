"""Misuse of the machine: not root, a missing tool. Each is one line that says how to fix it."""

import pytest

from netproof import system
from netproof.errors import NetproofError


def test_not_root(monkeypatch):
    monkeypatch.setattr(system.os, "geteuid", lambda: 1000)
    with pytest.raises(NetproofError, match=r"run it as root \(sudo netproof"):
        system.require_root()


def test_missing_tools_name_their_debian_packages(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # nothing on PATH
    with pytest.raises(NetproofError) as e:
        system.require_tools(system.TOOLS | system.KV_TOOLS)
    message = str(e.value)
    assert "apt-get install" in message
    for package in ("iproute2", "util-linux", "containerd", "runc", "busybox-static", "etcd-server"):
        assert package in message


def test_a_failed_command_says_where_what_and_why():
    with pytest.raises(system.CommandError) as e:
        system.run(["sh", "-c", "echo nope >&2; exit 3"], where="docker1")
    assert str(e.value) == "docker1: `sh -c 'echo nope >&2; exit 3'` failed (exit 3): nope"
