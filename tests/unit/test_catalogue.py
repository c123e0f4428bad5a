"""The check catalogue: checks declared once beside their code, read without running them, and
refused in one line (naming the places) when an ID is malformed or declared twice."""

from __future__ import annotations

import dataclasses
import subprocess
import textwrap
from pathlib import Path
from types import SimpleNamespace

import pytest

from netproof import catalogue
from netproof.catalogue import CatalogueError, Check
from netproof.errors import NetproofError
from netproof.facts import versions
from netproof.jobs import checkrun
from netproof.lab.model import loader
from netproof.runner import needs

ROOT = Path(__file__).parents[2]


def write_checks(folder: Path, **modules: str) -> Path:
    folder.mkdir(exist_ok=True)
    for name, body in modules.items():
        (folder / f"{name}.py").write_text("from netproof.catalogue import check\n\n" + textwrap.dedent(body))
    return folder


# Every ID netproof has shipped: reports and diffs across versions are keyed by them, so none is renamed or
# dropped. A new check adds its ID by its own declaration; this list need not name it.
SHIPPED_IDS = [
    "BR-EGRESS-001",
    "BR-ISO-001",
    "BR-MULTI-001",
    "BR-MULTI-002",
    "DNS-001",
    "DNS-002",
    "DNS-003",
    "DNS-004",
    "DNS-005",
    "DNS-006",
    "ENC-001",
    "FW-USER-001",
    "FW-USER-002",
    "FW-OTHER-001",
    "FW-MARK-001",
    "GW-MODE-001",
    "ICC-001",
    "IPV6-001",
    "IPV6-002",
    "IPV6-003",
    "IPV6-004",
    "ISO-INT-001",
    "ISO-INT-002",
    "MACVLAN-001",
    "MESH-001",
    "OVL-EGRESS-001",
    "OVL-GWBR-001",
    "OVL-GWBR-002",
    "OVL-MTU-001",
    "OVL-PING-001",
    "OVL-VETH-001",
    "OVL-VXLAN-001",
    "OVL-VXLAN-002",
    "PUB-001",
    "PUB-002",
    "PUB-003",
    "PUB-004",
    "PUB-005",
    "PUB-006",
    "PUB-007",
]


def test_the_shipped_catalogue():
    checks = catalogue.load(ROOT / "checks")
    ids = [c.id for c in checks]
    assert ids == sorted(ids) and len(ids) == len(set(ids))
    assert not set(SHIPPED_IDS) - set(ids), f"a shipped check ID is gone: {sorted(set(SHIPPED_IDS) - set(ids))}"
    ping = next(c for c in checks if c.id == "OVL-PING-001")
    assert (
        ping.scope == "pair"
        and "overlay" in ping.tags
        and ping.where.startswith("checks/test_overlay_reachability.py:")
    )


def test_the_readme_table_is_the_catalogue():
    table = catalogue.markdown(catalogue.load(ROOT / "checks"))
    assert table in (ROOT / "README.md").read_text(), "regenerate it: netproof checks list --markdown"


def test_a_malformed_id_is_refused_naming_its_place(tmp_path):
    folder = write_checks(
        tmp_path / "checks",
        test_bad="""
        @check("ping-1", promise="p", scope="pair")
        def test_bad(pair): pass
    """,
    )
    with pytest.raises(CatalogueError, match=r"test_bad.py:4: check ID 'ping-1' is not of the form AREA-WORD-NNN"):
        catalogue.load(folder)


def test_an_id_declared_twice_names_both_places(tmp_path):
    folder = write_checks(
        tmp_path / "checks",
        test_a="""
        @check("NEW-ONE-001", promise="p", scope="host")
        def test_a(docker_host): pass
    """,
        test_b="""

        @check("NEW-ONE-001", promise="q", scope="host")
        def test_b(docker_host): pass
    """,
    )
    with pytest.raises(CatalogueError) as refused:
        catalogue.load(folder)
    assert "NEW-ONE-001 is declared twice" in str(refused.value)
    assert "test_a.py:4" in str(refused.value) and "test_b.py:5" in str(refused.value)


def test_an_id_declared_twice_in_one_module_is_refused_too(tmp_path):
    folder = write_checks(
        tmp_path / "checks",
        test_same="""
        @check("NEW-ONE-001", promise="p", scope="host")
        def test_a(docker_host): pass

        @check("NEW-ONE-001", promise="q", scope="host")
        def test_b(docker_host): pass
    """,
    )
    with pytest.raises(CatalogueError, match="declared twice: .*test_same.py:4 and .*test_same.py:7"):
        catalogue.load(folder)


def test_since_without_a_reference_is_refused(tmp_path):
    folder = write_checks(
        tmp_path / "checks",
        test_v="""
        @check("DNS-002", promise="p", scope="host", since="26.0")
        def test_v(docker_host): pass
    """,
    )
    with pytest.raises(CatalogueError, match="since/until need a reference"):
        catalogue.load(folder)


def test_an_unknown_scope_is_refused(tmp_path):
    folder = write_checks(
        tmp_path / "checks",
        test_s="""
        @check("DNS-002", promise="p", scope="cluster")
        def test_s(lab): pass
    """,
    )
    with pytest.raises(CatalogueError, match="scope 'cluster' is not one of host, pair, lab"):
        catalogue.load(folder)


@pytest.mark.parametrize(
    "version, since_26, until_23",
    [
        ("20.10.24+dfsg1-1+deb12u1+b6", False, True),
        ("23.0.0", False, False),
        ("26.0", True, False),
        ("26.1.5+dfsg1", True, False),
        ("28.5.2+dfsg4", True, False),
    ],
)
def test_where_a_promise_holds(version, since_26, until_23):
    new = Check("DNS-002", "p", "host", since="26.0", reference="moby#47589")
    old = Check("KV-STORE-001", "p", "pair", until="23.0", reference="release notes 23.0")
    assert new.promised_on(version) is since_26 and old.promised_on(version) is until_23
    assert new.engines == "26.0 and later" and old.engines == "before 23.0"
    assert Check("A-B-001", "p", "host").engines == "all"


def test_a_version_that_is_not_one_is_refused():
    with pytest.raises(NetproofError, match="'latest' is not a Docker version"):
        versions.version_key("latest")


def test_a_bad_catalogue_stops_a_run_in_one_line_before_any_lab(tmp_path):
    folder = write_checks(
        tmp_path / "checks",
        test_a="""
        @check("NEW-ONE-001", promise="p", scope="host")
        def test_a(docker_host): pass
    """,
        test_b="""
        @check("NEW-ONE-001", promise="q", scope="host")
        def test_b(docker_host): pass
    """,
    )
    argv = checkrun.pytest_argv(folder, "no-such-lab", workers=None)
    done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 4, done.stdout + done.stderr
    error = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(error) == 1 and "netproof: check ID NEW-ONE-001 is declared twice" in error[0], done.stderr
    assert "test_a.py:4" in error[0] and "test_b.py:4" in error[0] and "no lab named" not in done.stderr


def test_workers_follow_the_labs_docker_hosts():
    from netproof.runner.session import workers_for

    assert [workers_for(n) for n in (1, 2, 4, 6, 12)] == [2, 3, 6, 8, 8]


def test_variants_are_cases_of_one_check_and_named_once_each(tmp_path):
    shipped = next(c for c in catalogue.load(ROOT / "checks") if c.id == "DNS-003")
    assert shipped.variants == ("dnsrr", "vip") and shipped.variant_count == 2
    assert "| DNS-003 | lab × dnsrr, vip |" in catalogue.markdown([shipped])
    folder = write_checks(
        tmp_path / "checks",
        test_twice="""
        @check("TWO-MODES-001", promise="p", scope="lab", variants=("a", "a"))
        def test_twice(lab, variant): pass
    """,
    )
    with pytest.raises(CatalogueError, match=r"test_twice.py:4: TWO-MODES-001: variants \['a', 'a'\] name one twice"):
        catalogue.load(folder)


def test_no_checks_tags_change_its_gating():
    """Issue 34: tags such as overlay, ipv6 and mtu silently changed how the doctor gated a check. What a check needs
    (and proves itself) is declared apart from its tags, which only select and group."""
    from netproof.lab.model.findings import REQUIREMENTS
    from netproof.runner import needs

    every_tag = tuple(sorted({t for c in catalogue.load(ROOT / "checks") for t in c.tags} | set(REQUIREMENTS)))
    for declared in catalogue.load(ROOT / "checks"):
        for tags in ((), every_tag):
            other = dataclasses.replace(declared, tags=tags)
            for outside in (False, True):
                assert needs.requirements_before(other, outside) == needs.requirements_before(declared, outside)
            for hosts in (1, 2):
                assert needs.examined_after(other, hosts, tuple(REQUIREMENTS)) == needs.examined_after(
                    declared, hosts, tuple(REQUIREMENTS)
                )
        assert set(declared.proves) <= set(REQUIREMENTS), (declared.id, declared.proves)
    tags = {t for c in catalogue.load(ROOT / "checks") for t in c.tags}
    needed = {n for c in catalogue.load(ROOT / "checks") for n in c.needs}
    print(f"tags (select, group): {sorted(tags)}\nneeds (gate): {sorted(needed)}")


def test_a_check_needing_a_daemon_setting_runs_only_where_the_topologys_daemon_json_sets_it():
    configured = loader.load(ROOT / "labs" / "configured.yml")
    pub7 = next(c for c in catalogue.load(ROOT / "checks") if c.id == "PUB-007")
    lab = SimpleNamespace(topology=configured)
    on = {name: [SimpleNamespace(name=name, spec=configured.hosts[name])] for name in ("docker1", "docker2")}
    assert needs.unmet(pub7, lab, on["docker2"]) is None
    why = needs.unmet(pub7, lab, on["docker1"])
    assert why.startswith("docker1's daemon.json does not set allow-direct-routing") and "docker2" in why, why
