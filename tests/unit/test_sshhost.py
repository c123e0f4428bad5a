"""The lab's ssh_config: every host reached through the configured ProxyCommand, connections shared."""

import ipaddress
import shlex

from netproof.lab.providers.sshhost import SshAccess, SshHost, SshTarget


def test_ssh_config_names_each_host_and_its_way_in(tmp_path):
    access = SshAccess(tmp_path / "ssh")
    proxy = "nsenter --net=/run/netns/netproof.l.hypervisor busybox nc %h %p"
    access.write(
        [
            SshTarget("docker1", "192.168.121.5", "vagrant", 22, "/k/private_key", proxy),
            SshTarget("docker2", "10.0.0.2", "root"),
        ]
    )
    text = access.config.read_text()
    first, second = text.split("Host docker2\n")
    assert "Host docker1\n  HostName 192.168.121.5\n  User vagrant\n  Port 22\n  IdentityFile /k/private_key" in first
    assert f"  ProxyCommand {proxy}\n" in first
    assert "ProxyCommand" not in second.split("Host *")[0]
    assert f"ControlPath {tmp_path / 'ssh'}/%C" in text and text.rstrip().endswith("ControlPersist 120")
    assert (tmp_path / "ssh").stat().st_mode & 0o777 == 0o700
    assert access.docker_socket("docker1") == tmp_path / "ssh" / "docker1.docker.sock"
    assert access.ssh_argv("docker1", "-t") == ["ssh", "-F", str(access.config), "-t", "docker1"]


def test_a_command_for_a_terminal_keeps_its_quoting_through_ssh(tmp_path):
    # ssh hands the remote shell one string: `lab exec docker1 -- sh -c 'a > b'` must arrive as written.
    from netproof.lab.model.topology import Host, Subnet

    subnet = Subnet("dc1", ipaddress.ip_network("10.10.10.0/24"), ipaddress.ip_address("10.10.10.1"))
    spec = Host("docker1", "docker", subnet, ipaddress.ip_address("10.10.10.101"), "20.10")
    access = SshAccess(tmp_path / "ssh")
    argv = SshHost(spec, access, "vagrant").interactive_argv(
        ["sh", "-c", "echo '{\"debug\": true}' > /etc/docker/daemon.json"]
    )
    assert argv[:-1] == ["ssh", "-F", str(access.config), "-t", "docker1"]
    assert shlex.split(argv[-1]) == ["sudo", "--", "sh", "-c", "echo '{\"debug\": true}' > /etc/docker/daemon.json"]
    as_root = SshHost(spec, access, "root").interactive_argv(["ls", "a b"])
    assert shlex.split(as_root[-1]) == ["ls", "a b"]


def test_what_a_login_shell_prints_before_the_command_is_not_the_commands_output():
    # Recorded on CI: root's .bashrc runs `pyenv init`, whose rehash races another login's.
    from netproof.lab.providers.sshhost import EXIT_MARK, START_MARK, framed_result

    noise = (
        "rm: cannot remove '/root/.pyenv/shims/tmp.HyiDyxEw8b': No such file or directory\n"
        "pyenv: cannot rehash: /root/.pyenv/shims isn't writable\n"
    )
    result = framed_result(
        ["busybox", "wget", "-q", "http://10.204.102.2:8080/"],
        f"banner\n{START_MARK}\n",
        f"{noise}{START_MARK}\nwget: download timed out\n{EXIT_MARK}1\n",
        where="outside",
    )
    assert (result.returncode, result.stdout, result.stderr) == (1, "", "wget: download timed out\n")
    assert result.where == "outside"


def test_a_command_that_never_reported_its_status_is_no_answer():
    from netproof.lab.providers.sshhost import START_MARK, framed_result

    result = framed_result(["true"], "", "ssh: connect to host docker1 port 22: Connection refused\n", where="docker1")
    assert result.returncode == 255
    assert "Connection refused" in result.stderr and result.stderr.endswith("(no answer over SSH)")
    cut = framed_result(["sleep", "9"], f"{START_MARK}\n", f"{START_MARK}\npartial\n", where="docker1")
    assert cut.returncode == 255 and "partial" in cut.stderr


def test_a_docker_socket_forward_that_cannot_be_reopened_is_one_line_of_lab_error(tmp_path, monkeypatch):
    # The host's SSH goes nowhere (ProxyCommand false: no packet leaves), so the forward never opens.
    import pytest

    from netproof.errors import LabBroken
    from netproof.lab.model.topology import Host, Subnet
    from netproof.lab.providers import sshhost

    monkeypatch.setattr(sshhost.budgets, "SSH_TUNNEL", 1)
    subnet = Subnet("dc1", ipaddress.ip_network("10.10.10.0/24"), ipaddress.ip_address("10.10.10.1"))
    spec = Host("docker1", "docker", subnet, ipaddress.ip_address("10.10.10.101"), "20.10")
    access = SshAccess(tmp_path / "ssh")
    access.write([SshTarget("docker1", "10.10.10.101", "root", proxy_command="false")])
    with pytest.raises(LabBroken) as raised:
        SshHost(spec, access, "root").docker().ping()
    said = str(raised.value)
    assert said.startswith(
        f"docker1: the SSH-forwarded docker socket {tmp_path / 'ssh' / 'docker1.docker.sock'} dropped"
    )
    assert "could not re-open it: " in said and "\n" not in said


def test_a_users_hosts_have_their_keys_checked_and_the_users_config_read(tmp_path):
    """Issue 25: on the ssh provider host keys are checked (the user's known_hosts, or the lab's own with accept-new)
    and the user's ~/.ssh/config supplies what the lab's blocks do not set; VMs the lab makes are not checked."""
    access = SshAccess(tmp_path / "ssh")
    users = tmp_path / "users-ssh-config"
    users.write_text("Host *\n  ForwardAgent no\n")
    access.write(
        [
            SshTarget("docker1", "172.16.0.11", "admin", host_keys="known"),
            SshTarget("docker2", "172.16.0.12", "admin", host_keys="accept-new", known_hosts=str(access.known_hosts)),
            SshTarget("vm1", "192.168.121.5", "vagrant"),
        ],
        users_config=users,
    )
    one, two, vm = access.config.read_text().split("Host docker2\n")[0], *access.config.read_text().split("Host ")[2:4]
    assert "StrictHostKeyChecking yes" in one and "UserKnownHostsFile" not in one
    assert f"StrictHostKeyChecking accept-new\n  UserKnownHostsFile {access.known_hosts}" in two
    assert "StrictHostKeyChecking no\n  UserKnownHostsFile /dev/null" in vm
    assert access.config.read_text().endswith(f"Match all\n  Include {users}\n")
    access.write([SshTarget("vm1", "192.168.121.5", "vagrant")])  # VMs: no user's config
    assert "Include" not in access.config.read_text()
