"""Clean-up removes only what is provably a lab's (issue 25): no empty or relative names or state folders, no
process found by the text of its command line alone, no systemd unit called netproof.*, one netproof at a time."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from netproof.errors import ExitStatus, UsageError
from netproof.lab import leftovers
from netproof.lab.lab import held
from netproof.lab.model.names import LabNames

LAB_DIR = "/var/lib/netproof/labs/seed/"


def test_an_empty_lab_name_is_refused_not_every_lab():
    with pytest.raises(UsageError, match="lab name ''"):
        leftovers.find("")


def test_a_name_that_is_no_lab_name_is_bad_input_to_the_command_too():
    done = subprocess.run(
        [sys.executable, "-m", "netproof.cli", "lab", "clean", "--name", ""], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == ExitStatus.USAGE and done.stderr.count("\n") == 1, done.stderr


@pytest.mark.parametrize("value", ["", "labs", "./state", "/"])
def test_a_state_folder_that_is_empty_relative_or_the_root_is_refused(value):
    script = "from netproof.lab.model.names import LabNames; print(LabNames('seed').dir)"
    done = subprocess.run(
        [sys.executable, "-c", script],
        env={"NETPROOF_STATE_DIR": value, "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode != 0 and f"NETPROOF_STATE_DIR={value!r}: give an absolute folder" in done.stderr


def test_only_the_labs_own_daemons_and_ssh_are_found_by_their_command_lines():
    assert leftovers._lab_daemon(
        ["/var/cache/netproof/engines/28.5/dockerd", f"--data-root={LAB_DIR}docker1/data"], LAB_DIR
    )
    assert leftovers._lab_daemon(["etcd", "--data-dir", f"{LAB_DIR}kv1/etcd"], LAB_DIR)
    assert not leftovers._lab_daemon(["tail", "-f", f"{LAB_DIR}docker1/dockerd.log"], LAB_DIR)
    assert not leftovers._lab_daemon(["less", f"{LAB_DIR}state.json"], LAB_DIR)
    assert leftovers._lab_ssh(["ssh", "-F", f"{LAB_DIR}ssh/ssh_config", "-N", "docker1"], LAB_DIR)
    assert not leftovers._lab_ssh(["ssh", "-F", "/root/.ssh/config", "docker1"], LAB_DIR)
    assert leftovers._lab_ssh([f"ssh: {LAB_DIR}ssh/566ca10b8924efe46b130de5433c5f0560083fe3 [mux]"], LAB_DIR)
    assert not leftovers._lab_ssh(["ssh: /root/.ssh/cm-socket [mux]"], LAB_DIR)
    assert not leftovers._lab_ssh(["grep", "-F", f"{LAB_DIR}ssh/ssh_config"], LAB_DIR)


def test_one_netproof_at_a_time_brings_a_lab_up_down_or_cleans_it(tmp_path, monkeypatch):
    monkeypatch.setattr(LabNames, "lock_file", property(lambda self: tmp_path / f"{self.lab}.lock"))
    names = LabNames("seed")
    with held(names, "brought up"):
        other = subprocess.run(
            [
                sys.executable,
                "-c",
                f"""
import fcntl
f = open({str(names.lock_file)!r}, "a+")
try:
    fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
except BlockingIOError:
    print("held by", open({str(names.lock_file)!r}).read())
""",
            ],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert other.stdout.startswith("held by ") and "(brought up)" in other.stdout
    with held(names, "brought up"):  # released, and taken again
        pass
    assert Path(names.lock_file).read_text() == ""
    with held(names, "brought down", lab_gone_after=True):
        pass
    assert not Path(names.lock_file).exists()  # the lab leaves nothing behind


def test_a_systemd_unit_called_netproof_is_no_labs_cgroup(tmp_path, monkeypatch):
    for folder in ("system.slice/netproof.service", "memory/netproof.seed.docker1", "netproof.seed.docker2"):
        (tmp_path / folder).mkdir(parents=True)
    monkeypatch.setattr(leftovers, "CGROUP_ROOT", tmp_path)
    found = {str(p.relative_to(tmp_path)) for p in leftovers.find("seed").cgroups}
    assert found == {"memory/netproof.seed.docker1", "netproof.seed.docker2"}
