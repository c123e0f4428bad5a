"""On hosts it did not make (provider ssh), netproof reads Docker's configuration and compares it with the
topology's daemon: settings; it changes none of it, and names each difference by key."""

from netproof.lab.providers.ssh import compare_daemon, daemon_config_file


def test_the_running_dockerds_config_file_is_read():
    assert daemon_config_file("/usr/sbin/dockerd -H fd:// --containerd=/run/containerd/containerd.sock") == (
        "/etc/docker/daemon.json"
    )
    assert daemon_config_file("dockerd --config-file /srv/docker.json -H fd://") == "/srv/docker.json"
    assert daemon_config_file("dockerd --config-file=/srv/docker.json") == "/srv/docker.json"


def test_each_differing_or_missing_key_is_named_with_both_values():
    wanted = {"mtu": 1400, "default-address-pools": [{"base": "10.70.0.0/16", "size": 24}], "icc": False}
    found = {"default-address-pools": [{"size": 24, "base": "10.70.0.0/16"}], "mtu": 1500, "log-level": "warn"}
    assert compare_daemon("docker1", "/etc/docker/daemon.json", wanted, found) == [
        "docker1: daemon.mtu: the topology says 1400, /etc/docker/daemon.json says 1500",
        "docker1: daemon.icc: the topology says false, /etc/docker/daemon.json does not set it",
    ]


def test_the_same_settings_in_another_order_are_no_difference():
    wanted = {"default-address-pools": [{"base": "10.70.0.0/16", "size": 24}]}
    assert compare_daemon("docker1", "/etc/docker/daemon.json", wanted, {**wanted, "debug": True}) == []
