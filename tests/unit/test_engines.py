"""The engine catalogue and the mirror a fetch uses."""

import re

import pytest

from netproof.errors import NetproofError
from netproof.lab import engines
from netproof.progress import QUIET


def test_unknown_version_lists_the_known_ones(monkeypatch, tmp_path):
    monkeypatch.setattr(engines, "CACHE_DIR", tmp_path)
    with pytest.raises(NetproofError, match=r"unknown engine '19.03'; known engines: 20.10, 26.1, 28.5, 29.7, system"):
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


def test_a_static_release_not_cached_says_fetch_or_import(monkeypatch, tmp_path):
    monkeypatch.setattr(engines, "CACHE_DIR", tmp_path)
    with pytest.raises(NetproofError, match=r"fetch 29.7 \(or carry docker-29.7.2.tgz in and run: netproof engines "):
        engines.resolve("29.7")


# --- importing: a dockerd here is a shell script that says what the real one says ("dockerd --version") ---

DOCKERD_29 = "#!/bin/sh\necho 'Docker version 29.7.2, build 6a43e3d'\n"


def static_folder(root, dockerd=DOCKERD_29, layout="docker"):
    folder = root / layout if layout else root
    folder.mkdir(parents=True)
    for name, text in (
        ("dockerd", dockerd),
        ("containerd", "#!/bin/sh\necho 'containerd github.com/containerd/containerd/v2 v2.3.3 aad1100'\n"),
        ("runc", "#!/bin/sh\necho 'runc version 1.4.3'\n"),
    ):
        (folder / name).write_text(text)
        (folder / name).chmod(0o755)
    return root


def test_a_tarball_in_dockers_layout_is_cached_under_its_version_and_runs_as_its_release(monkeypatch, tmp_path):
    import tarfile

    monkeypatch.setattr(engines, "CACHE_DIR", tmp_path / "cache")
    built = static_folder(tmp_path / "build")
    tarball = tmp_path / "docker-29.7.2.tgz"
    with tarfile.open(tarball, "w:gz") as t:
        t.add(built / "docker", arcname="docker")
    assert engines.import_engine(tarball, QUIET) == ("29.7.2", "29.7.2")
    engine = engines.resolve("29.7")  # the release: its newest patch cached
    assert engine.runtime == "the engine's own" and engine.dockerd.endswith("engines/29.7.2/bin/dockerd")
    assert engine.path_env().startswith(str(tmp_path / "cache/engines/29.7.2/bin") + ":")
    assert engines.runtime_versions(engine.bin_dirs[0]) == "containerd 2.3.3, runc 1.4.3"
    assert engines.origin("29.7").startswith(f"imported from {tarball} (sha256 ")
    assert not list((tmp_path / "cache/engines").glob("import-*"))  # the staging folder is gone
    dockerd = (tmp_path / "cache/engines/29.7.2/bin/dockerd").stat()
    assert engines.import_engine(tarball, QUIET) == ("29.7.2", "29.7.2")  # the same file again: left as it is
    assert (tmp_path / "cache/engines/29.7.2/bin/dockerd").stat().st_ino == dockerd.st_ino


def test_two_patch_releases_of_one_minor_sit_side_by_side(monkeypatch, tmp_path):
    """Issue 28: a patch upgrade (29.7.1 -> 29.7.2) needs both; a topology asks for either, or for 29.7 (the newest)."""
    monkeypatch.setattr(engines, "CACHE_DIR", tmp_path / "cache")
    for patch in ("2", "1"):  # the newer first: importing the older must not replace it
        said = f"#!/bin/sh\necho 'Docker version 29.7.{patch}, build 6a43e3d'\n"
        assert engines.import_engine(static_folder(tmp_path / patch, dockerd=said), QUIET)[0] == f"29.7.{patch}"
    assert {"29.7", "29.7.1", "29.7.2"} <= set(engines.known())
    assert [engines.resolve(v).package_version for v in ("29.7.1", "29.7.2", "29.7")] == ["29.7.1", "29.7.2", "29.7.2"]
    assert engines.resolve("29.7.1").dockerd.endswith("engines/29.7.1/bin/dockerd")


def test_a_release_cached_before_patches_were_kept_apart_is_still_found(monkeypatch, tmp_path):
    monkeypatch.setattr(engines, "CACHE_DIR", tmp_path / "cache")
    old = tmp_path / "cache/engines/29.7"
    (old / "bin").mkdir(parents=True)
    (old / "package-version").write_text("29.7.2\n")
    (old / "bin/dockerd").write_text("#!/bin/sh\n")
    (old / "bin/dockerd").chmod(0o755)
    assert engines.resolve("29.7").dockerd == str(old / "bin/dockerd")


def test_an_engine_imported_under_another_version_is_known(monkeypatch, tmp_path):
    monkeypatch.setattr(engines, "CACHE_DIR", tmp_path / "cache")
    folder = static_folder(
        tmp_path / "bin", dockerd="#!/bin/sh\necho 'Docker version 27.5.1, build 9f9e405'\n", layout=""
    )
    assert engines.import_engine(folder, QUIET) == ("27.5.1", "27.5.1")
    assert "27.5.1" in engines.known() and not engines.supports_kv_store("27.5.1")


@pytest.mark.parametrize(
    "make, said",
    [
        (lambda d: d / "missing.tgz", "missing.tgz: no such file or folder"),
        (lambda d: (d / "notes.txt").write_text("hello") and d / "notes.txt", "not a tarball"),
        (lambda d: (d / "empty").mkdir() or d / "empty", "no dockerd inside (looked for docker/dockerd and dockerd)"),
        (
            lambda d: static_folder(
                d / "broken", dockerd="#!/bin/sh\necho 'cannot execute: Exec format error' >&2\nexit 126\n"
            ),
            "its dockerd does not run here: cannot execute: Exec format error",
        ),
    ],
    ids=["missing", "not-a-tarball", "no-dockerd", "does-not-run"],
)
def test_bad_input_to_import_is_one_line_naming_the_problem(monkeypatch, tmp_path, make, said):
    monkeypatch.setattr(engines, "CACHE_DIR", tmp_path / "cache")
    with pytest.raises(NetproofError, match=re.escape(said)) as raised:
        engines.import_engine(make(tmp_path), QUIET)
    assert "\n" not in str(raised.value)
    assert not (tmp_path / "cache/engines").exists() or not list((tmp_path / "cache/engines").iterdir())


def test_a_tarball_reaching_outside_its_folder_is_refused(monkeypatch, tmp_path):
    import io
    import tarfile

    monkeypatch.setattr(engines, "CACHE_DIR", tmp_path / "cache")
    tarball = tmp_path / "evil.tgz"
    with tarfile.open(tarball, "w:gz") as t:
        info = tarfile.TarInfo("../../etc/dockerd")
        info.size = 4
        t.addfile(info, io.BytesIO(b"evil"))
    with pytest.raises(NetproofError, match="is not a plain file inside the tarball"):
        engines.import_engine(tarball, QUIET)
