"""The topology file's ssh: section (provider ssh): how netproof logs in on a user's own hosts, whose keys it
trusts, and what checks may change on the user's network. Every value here reaches the lab's ssh_config or an
ssh command line, so each is checked as what it is: nothing in the file can add a directive or a command."""

from __future__ import annotations

import ipaddress
import re
import socket
from pathlib import Path
from typing import Any

from netproof.lab.model.topology import ROUTER, Host, SshLogin

SSH_KEYS = ("user", "port", "identity", "proxy_command", "router", "host_keys", "allow")
HOST_KEY_MODES = ("known", "accept-new")
# What a check may change on a user's network, only where the inventory allows it (ssh: {allow: [...]}).
ALLOWED_CHANGES = ("router-routes", "lan-addresses")


SSH_USER = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,31}")
HOSTNAME = re.compile(
    r"(?=.{1,253}\Z)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*"
)
CONTROL = re.compile(r"[\x00-\x1f\x7f]")  # a newline in a value written to ssh_config would add a directive


class SshSection:
    """The loader's part that reads ssh: (a mix-in of loader._Loader, whose fail and mapping it uses)."""

    def ssh_login(self, top: dict, hosts: dict[str, Host]) -> SshLogin:
        """Every value here reaches the lab's ssh_config or an ssh command line: each is checked as what it is, so
        nothing in the file can add a directive or a command the user did not write as one."""
        section = self.mapping(top.get("ssh", {}), "ssh", SSH_KEYS)
        port = section.get("port", 22)
        if not isinstance(port, int) or isinstance(port, bool) or not 0 < port < 65536:
            raise self.fail("ssh.port", f"{port!r} is not a TCP port")
        user = section.get("user", "root")
        if not isinstance(user, str) or not SSH_USER.fullmatch(user):
            raise self.fail("ssh.user", f"{user!r} is not a user name (letters, digits, '_', '.', '-')")
        identity = section.get("identity")
        if identity is not None:
            self.plain_text(identity, "ssh.identity")
            if not Path(str(identity)).expanduser().is_file():
                raise self.fail("ssh.identity", f"{identity}: no such key file")
        proxy = section.get("proxy_command")
        if proxy is not None:
            self.plain_text(proxy, "ssh.proxy_command")
        addresses = {name: str(h.address) for name, h in hosts.items()}
        for name, spec in top["hosts"].items():
            if isinstance(spec, dict) and "ssh" in spec:
                addresses[str(name)] = self.ssh_address(spec["ssh"], f"hosts.{name}.ssh")
        if "router" in section:
            addresses[ROUTER] = self.ssh_address(section["router"], "ssh.router")
        allow = section.get("allow", [])
        if not isinstance(allow, list) or any(a not in ALLOWED_CHANGES for a in allow):
            raise self.fail(
                "ssh.allow", f"{allow!r}: a list of what checks may change, of {', '.join(ALLOWED_CHANGES)}"
            )
        host_keys = section.get("host_keys", "known")
        if host_keys not in HOST_KEY_MODES:
            raise self.fail("ssh.host_keys", f"{host_keys!r} is not one of {', '.join(HOST_KEY_MODES)}")
        return SshLogin(
            user,
            port,
            str(identity) if identity else None,
            str(proxy) if proxy else None,
            addresses,
            host_keys,
            tuple(allow),
        )

    def plain_text(self, value: Any, key: str) -> str:
        if not isinstance(value, str) or not value.strip() or CONTROL.search(value):
            raise self.fail(key, f"{value!r} must be one line of text, with no control characters")
        return value

    def ssh_address(self, value: Any, key: str) -> str:
        """An IP address or a host name, nothing else."""
        text = str(value)
        try:
            return str(ipaddress.ip_address(text))
        except ValueError:
            # A name has a letter, and is no address in another spelling: ssh would take "1234", "10.1" or
            # "0x0a000001" for one (0.0.4.210, 10.0.0.1, 10.0.0.1).
            if isinstance(value, str) and HOSTNAME.fullmatch(text) and re.search("[A-Za-z]", text):
                try:
                    socket.inet_aton(text)
                except OSError:
                    return text
        raise self.fail(key, f"{value!r} is not an IP address or a host name")
