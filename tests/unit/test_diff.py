"""The diff between two runs recorded in the lab: the seed lab on 20.10, then upgraded in place
to 28.5 (netproof upgrade --rolling)."""

from pathlib import Path

from netproof.report import diff, results

FIXTURES = Path(__file__).parents[1] / "fixtures"
BEFORE = results.load(FIXTURES / "results-20.10-swarm.json")
AFTER = results.load(FIXTURES / "results-28.5-swarm-after-upgrade.json")
BROKEN = results.load(FIXTURES / "results-20.10-swarm-isolation-broken.json")


def test_the_upgrade_changed_no_outcome_but_the_firewall_mechanism():
    d = diff.compare(BEFORE, AFTER)
    assert not d.regressed and not d.of_kind("fix") and not d.of_kind("added") and not d.of_kind("removed")
    forward = [c for c in d.of_kind("mechanism changed") if c.details[0] == "FORWARD chain:"]
    assert len(forward) == 1, "the same change in eight cases is one entry"
    assert "- -A FORWARD -j DOCKER-ISOLATION-STAGE-1" in "\n".join(forward[0].details)
    assert "+ -A FORWARD -j DOCKER-FORWARD" in "\n".join(forward[0].details)
    assert forward[0].where == "ISO-INT-001 on 4 of 4 hosts, ISO-INT-002 in 4 of 4 cases"
    assert len(forward[0].cases) == 8 and ("ISO-INT-001", "swarm-docker1") in forward[0].cases


def test_a_mechanism_change_in_one_case_only_names_that_case():
    d = diff.compare(BEFORE, AFTER)
    bridge_rules = [c for c in d.of_kind("mechanism changed") if c.details[0] == "rules naming the internal bridge:"]
    assert [c.where for c in bridge_rules] == ["ISO-INT-001 on 4 of 4 hosts"]
    only_one = diff.compare(
        BEFORE, _with_mechanism(AFTER, "OVL-GWBR-001", "swarm-docker2", "container interfaces", ["eth0"])
    )
    single = [c for c in only_one.of_kind("mechanism changed") if c.details[0].startswith("container interfaces")]
    assert [c.where for c in single] == ["OVL-GWBR-001[swarm-docker2]"]


def _with_mechanism(run, check_id, case, name, value):
    copy = results.Results(run.run, run.lab, run.environment, [results.CheckResult(**vars(c)) for c in run.checks])
    for c in copy.checks:
        if (c.id, c.case) == (check_id, case):
            c.mechanism = {**c.mechanism, name: value}
    return copy


def test_versions_are_compared_host_by_host():
    d = diff.compare(BEFORE, AFTER)
    assert ("docker3", "docker", "20.10.24+dfsg1", "28.5.2+dfsg4") in d.versions
    assert all(field != "kernel" for _, field, _, _ in d.versions)


def test_configuration_changes_are_shown_with_the_versions_key_by_key():
    def configured(run, host, configuration):
        environment = [{**e, "configuration": configuration} if e["host"] == host else e for e in run.environment]
        return results.Results(run.run, run.lab, environment, run.checks)

    old = configured(BEFORE, "docker1", {"swarm.data_path_port": "4789", "daemon.mtu": "1400"})
    new = configured(BEFORE, "docker1", {"swarm.data_path_port": "4790", "daemon.mtu": "1400", "daemon.icc": "false"})
    d = diff.compare(old, new)
    assert d.versions == [
        ("docker1", "daemon.icc", None, "false"),
        ("docker1", "swarm.data_path_port", "4789", "4790"),
    ]
    assert "docker1    swarm.data_path_port 4789 -> 4790" in diff.render_terminal(d)
    assert diff.compare(BEFORE, BEFORE).versions == []  # results.json before configuration was recorded


def test_a_pass_that_turns_into_a_failure_is_a_regression_and_leads_the_table():
    d = diff.compare(BEFORE, BROKEN)
    regressions = d.of_kind("regression")
    assert [(c.check_id, c.case) for c in regressions] == [("ISO-INT-001", "swarm-docker3")]
    assert any(line.startswith("Observed: got through") for line in regressions[0].details)
    assert d.changes[0].kind == "regression"
    text = diff.render_terminal(d)
    assert text.splitlines()[3].startswith("REGRESSIONS: 1 regression")
    assert "REGRESSION         ISO-INT-001[swarm-docker3]  passed -> failed" in text


def test_checks_missing_from_one_run_are_added_or_removed():
    d = diff.compare(BROKEN, BEFORE)  # the broken run ran four of the seven checks
    assert d.of_kind("added") and not d.of_kind("removed") and d.of_kind("fix")
    assert {c.check_id for c in d.of_kind("added")} == {"OVL-VXLAN-001", "OVL-VETH-001", "ISO-INT-002"}


def test_the_html_diff_is_self_contained():
    page = diff.render_html(diff.compare(BEFORE, AFTER))
    assert "No regression" in page and "DOCKER-FORWARD" in page and "http" not in page.replace("html", "")
