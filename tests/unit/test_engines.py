"""The engine catalogue and the mirror a fetch uses."""

import pytest

from netproof import engines
from netproof.errors import NetproofError


def test_unknown_version_lists_the_known_ones():
    with pytest.raises(NetproofError, match=r"unknown engine '19.03'; known engines: 20.10, 26.1, 28.5, system"):
        engines.check_known("19.03")


def test_only_engines_before_23_have_the_kv_store():
    assert engines.supports_kv_store("20.10")
    assert not engines.supports_kv_store("26.1") and not engines.supports_kv_store("28.5")


def test_mirror_comes_from_the_machines_own_sources(tmp_path):
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list.d" / "debian.sources").write_text(
        "Types: deb\nURIs: http://mirror.example/debian-security\nSuites: bookworm-security\nComponents: main\n\n"
        "Types: deb\nURIs: http://mirror.example/debian\nSuites: bookworm bookworm-updates\nComponents: main\n"
    )
    assert engines.machine_mirror(tmp_path) == "http://mirror.example/debian"


def test_mirror_from_a_one_line_sources_list(tmp_path):
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list").write_text("# comment\ndeb [arch=amd64] http://proxy.local:3142/debian bookworm main\n")
    assert engines.machine_mirror(tmp_path) == "http://proxy.local:3142/debian"


def test_no_mirror_is_an_error_naming_where_it_looked(tmp_path):
    (tmp_path / "sources.list.d").mkdir()
    with pytest.raises(NetproofError, match="no Debian mirror found in"):
        engines.machine_mirror(tmp_path)


def test_an_uncached_engine_says_how_to_fetch_it(monkeypatch, tmp_path):
    monkeypatch.setattr(engines, "CACHE_DIR", tmp_path)
    with pytest.raises(NetproofError, match="run: netproof engines fetch 26.1"):
        engines.resolve("26.1")
