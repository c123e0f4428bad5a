"""The doctor's findings: tables per requirement, causes attributed to the checks that depend on them."""

from netproof.lab.model.findings import Diagnosis, Finding

DROPPED = (
    "UDP 7946 from docker1 (10.10.10.101) to docker3 (192.168.50.101): sent, not received at docker3 — Docker "
    "needs 7946/tcp+udp between nodes (gossip: which container is on which host)"
)


def diagnosis() -> Diagnosis:
    return Diagnosis(
        "seed",
        "swarm",
        [
            Finding("engine", "dockerd", "docker1", None, True, "answers (Docker 20.10.24)"),
            Finding("engine", "dockerd", "docker4", None, True, "answers (Docker 20.10.24)"),
            Finding("ports", "7946/tcp", "docker1", "docker3", True, "ok"),
            Finding("ports", "7946/udp", "docker1", "docker3", False, "not received", cause=DROPPED),
            Finding("ports", "7946/udp", "docker2", "docker4", True, "ok"),
            Finding(
                "mtu", "path MTU", "docker2", "docker4", False, "1400", cause="path MTU docker2 -> docker4 is 1400"
            ),
            Finding("ports", "4789/udp", "docker2", "docker4", None, "sent; cannot see docker4's side"),
        ],
        3.2,
        ("docker1",),
    )


def test_a_failure_is_a_cause_for_checks_on_its_hosts_and_the_manager_only():
    d = diagnosis()
    assert not d.healthy and len(d.failures) == 2
    # docker3 with the manager docker1: the dropped gossip port is theirs
    assert d.causes_for(("docker3",)) == [DROPPED]
    assert d.causes_for(("docker3", "docker4")) == [DROPPED]
    # docker2 and docker4: the MTU, when asked for every requirement; not when only ports matter
    assert d.causes_for(("docker2", "docker4")) == ["path MTU docker2 -> docker4 is 1400"]
    assert d.causes_for(("docker2", "docker4"), ("engine", "ports")) == []
    assert d.causes_for(("docker2",)) == []


def test_the_managers_trouble_is_a_cause_only_for_cases_that_need_the_control_plane():
    # issue 36: with the manager's dockerd hung, a bridge case on another host is judged
    hung = "dockerd on docker1 (10.10.10.101) does not answer: it is hung"
    d = Diagnosis(
        "seed", "swarm", [Finding("engine", "dockerd", "docker1", None, False, "does not answer", cause=hung)], 9.0,
        ("docker1",),
    )  # fmt: skip
    assert d.causes_for(("docker3",), ("engine", "host")) == []
    assert d.causes_for(("docker3",), ("engine", "host", "reachability", "ports", "control-plane")) == [hung]
    assert d.causes_for(("docker1",), ("engine", "host")) == [hung]


def test_tables_have_a_row_per_pair_and_a_column_per_subject():
    tables = {title: (columns, rows) for title, columns, rows in diagnosis().tables()}
    ports = next(v for k, v in tables.items() if k.startswith("the control plane's ports"))
    assert ports[0] == ["pair", "7946/tcp", "7946/udp", "4789/udp"]
    assert ports[1] == [
        ["docker1 -> docker3", "ok", "FAIL not received", "-"],
        ["docker2 -> docker4", "-", "ok", "? sent; cannot see docker4's side"],
    ]
    engines = next(v for k, v in tables.items() if k.startswith("dockerd answers"))
    assert engines[0] == ["host", "dockerd"]


def test_render_names_each_failure_once_and_ends_with_the_verdict():
    text = diagnosis().render()
    assert text.count(DROPPED) == 1
    assert "could not tell:" in text and text.endswith("the lab's network does not give Docker what it needs")
    healthy = Diagnosis("seed", "swarm", [Finding("engine", "dockerd", "docker1", None, True, "answers")])
    assert healthy.render().endswith("every requirement holds")


def test_a_diagnosis_travels_as_json_unchanged():
    d = diagnosis()
    assert Diagnosis.from_dict(d.to_dict()) == Diagnosis(d.lab, d.control_plane, d.findings, 3.2, ("docker1",))
    assert d.to_dict()["healthy"] is False


def test_a_broken_way_to_the_outside_host_is_put_only_on_the_checks_that_probe_it_from_there():
    from netproof.lab.model.findings import Diagnosis, Finding

    found = Diagnosis(
        "seed",
        "swarm",
        [
            Finding("outside", "ping", "docker3", "outside", False, "1 ICMP echo sent, no reply", cause="docker3 cut"),
            Finding("outside", "ping", "docker4", "outside", True, "ok"),
            Finding("host", "ip_forward", "docker2", None, False, "0", cause="docker2 does not forward IPv4"),
        ],
        shared_hosts=("docker1",),
    )
    assert found.outside_hosts == ("outside",)
    leaning = ("outside", "host", "engine")
    assert found.causes_for(("docker3", *found.outside_hosts), leaning) == ["docker3 cut"]
    assert found.causes_for(("docker4", *found.outside_hosts), leaning) == []
    assert found.causes_for(("docker3",), ("engine", "host")) == []  # a check that does not probe the outside host
    assert found.causes_for(("docker2",), ("engine", "host")) == ["docker2 does not forward IPv4"]
