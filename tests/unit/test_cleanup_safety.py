"""Clean-up removes only what is provably a lab's (issue 25): no empty or relative names or state folders, no
process found by the text of its command line alone, no systemd unit called netproof.*, one netproof at a time."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from netproof import cli
from netproof.errors import ExitStatus, NetproofError, UsageError
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


def _labs(tmp_path, monkeypatch) -> Path:
    """A state folder of the test's own, and no namespace or cgroup of the machine's: a lab really running here (a CI
    job's) must not be seen, let alone cleaned, by this test."""
    monkeypatch.setenv("NETPROOF_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setattr(leftovers, "NETNS_DIR", tmp_path / "netns")
    monkeypatch.setattr(leftovers, "CGROUP_ROOT", tmp_path / "cgroup")
    monkeypatch.setattr(leftovers, "_process_table", lambda spared: {})
    root = tmp_path / "state" / "labs"
    root.mkdir(parents=True)
    return root


def test_clean_without_a_name_leaves_a_lab_whose_state_says_it_is_up(tmp_path, monkeypatch, capsys):
    """Issue 33: `lab clean` took every lab on the machine, running ones of other users or CI jobs included."""
    root = _labs(tmp_path, monkeypatch)
    (root / "theirs").mkdir()
    (root / "theirs" / "state.json").write_text("{}")
    (root / "crashed").mkdir()  # a lab whose state was lost: its leftovers are what clean is for
    (root / "crashed" / "docker1").mkdir()
    assert cli.main(["lab", "clean"]) == 0
    said = capsys.readouterr().out
    assert "leaving lab theirs: its state says it is up" in said and "clean: every lab crashed leftover is gone" in said
    assert (root / "theirs" / "state.json").exists() and not (root / "crashed").exists()
    assert cli.main(["lab", "clean", "--all"]) == 0  # said, and (not on a terminal) done
    assert not (root / "theirs").exists()


def test_clean_refuses_a_state_folder_that_is_not_a_labs(tmp_path, monkeypatch, capsys):
    root = _labs(tmp_path, monkeypatch)
    (root / "work").mkdir()
    (root / "work" / ".git").mkdir()
    assert cli.main(["lab", "clean", "--name", "work"]) == ExitStatus.LAB_BROKEN
    assert "not a lab's folder (it holds a .git)" in capsys.readouterr().err
    assert (root / "work" / ".git").exists()
    (root / "seed.yml").write_text("name: seed\n")  # NETPROOF_STATE_DIR pointed at a checkout
    assert cli.main(["lab", "clean"]) != 0
    assert (root / "seed.yml").exists()


def test_a_lock_is_taken_only_in_roots_own_folder_and_never_through_a_link(tmp_path, monkeypatch):
    folder = tmp_path / "locks"
    folder.mkdir(mode=0o700)
    monkeypatch.setattr(LabNames, "lock_file", property(lambda self: folder / f"{self.lab}.lock"))
    target = tmp_path / "precious"
    target.write_text("keep me")
    (folder / "seed.lock").symlink_to(target)
    with pytest.raises(NetproofError, match="cannot open the lab's lock"), held(LabNames("seed"), "brought up"):
        pass
    assert target.read_text() == "keep me"
    folder.chmod(0o777)
    with pytest.raises(NetproofError, match="must be root's alone"), held(LabNames("other"), "brought up"):
        pass


def test_a_cgroup_or_process_is_a_labs_by_a_whole_name_component():
    assert leftovers._lab_of("netproof.seed.docker1") == "seed"
    for other in ("netproof.service", "netproof.seed.docker1.scope", "netproof.seed", "xnetproof.seed.docker1"):
        assert leftovers._lab_of(other) is None
    assert leftovers._in_lab_cgroup("12:memory:/netproof.seed.docker1/4f1e", "seed")
    assert not leftovers._in_lab_cgroup("12:memory:/netproof.seed.docker1/4f1e", "see")
    assert not leftovers._in_lab_cgroup("0::/system.slice/netproof.seed.docker1.scope", None)
    assert not leftovers._in_lab_cgroup("0::/user.slice/my-netproof.seed.docker1-copy", None)


def test_clean_without_a_name_leaves_a_lab_whose_hosts_run_whatever_its_state_folder(tmp_path, monkeypatch, capsys):
    """A CI job's lab with another NETPROOF_STATE_DIR: no state here, but its hosts' holders run."""
    root = _labs(tmp_path, monkeypatch)
    (root / "ci-job").mkdir()
    holder = {4242: (["netproof-host ci-job/docker1"], "0::/", 1)}
    monkeypatch.setattr(leftovers, "_process_table", lambda spared: holder)
    assert cli.main(["lab", "clean"]) == 0
    assert "leaving lab ci-job: its hosts are running" in capsys.readouterr().out and (root / "ci-job").exists()


@pytest.mark.parametrize(
    "state",
    [
        "{}",
        '{"schema": "netproof.lab/1"}',
        "[1, 2]",
        '{"schema": "netproof.lab/1", "topology_text": 7, "topology_file": "x", "overrides": {}}',
        '{"schema": "netproof.lab/1", "topology_text": "name: x\\n", "topology_file": "x", "overrides": {}}',
        "not json",
    ],
)
def test_a_hand_edited_state_file_is_one_line_never_a_traceback(state, tmp_path):
    from netproof.lab.lab import STATE_SCHEMA, Lab

    path = tmp_path / "state.json"
    path.write_text(state.replace('"netproof.lab/1"', json.dumps(STATE_SCHEMA)))
    with pytest.raises(NetproofError) as e:
        Lab.attach(str(path))
    assert str(path) in str(e.value) and "\n" not in str(e.value) and "lab clean" in str(e.value)
