"""A probe's path broken on one docker host, really (issue 33): its `docker exec` hanging as a wedged containerd
shim makes it, or the probe's tool refused in its containers. That host's cases, negative and positive, are
`error` naming the probe and what was said; the other host's cases are as before. On 28.5 (CI) and 29.7 (nightly)."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path

import pytest

from netproof.errors import ExitStatus

from .conftest import ChecksRun
from .test_checks_catch_breakage import checks_on, seed_lab

SELECT = "(ICC-001 or BR-EGRESS-001 or ISO-INT-001) and (docker1 or docker2)"  # negative, positive, both
BROKEN, HEALTHY = "docker2", "docker1"
# The docker CLI on one host, in its own mount namespace, with `exec` hanging past netproof's 30 s.
HANGING_CLI = '#!/bin/sh\n[ "$1" = exec ] && exec sleep 45\nexec /run/np-real-docker "$@"\n'


# 28.5 in CI; 29.7 nightly (both passed when written: 4 tests, 282 s on 2 cores), to keep CI under 40 minutes.
@pytest.fixture(scope="module", params=["28.5", pytest.param("29.7", marks=pytest.mark.nightly)])
def lab(request):
    name = f"t-probe{request.param.replace('.', '')}"
    for lab in seed_lab(name, engine=request.param):
        lab.short_name = name
        yield lab


def checks(lab, report: Path, sabotage: str | None = None) -> ChecksRun:
    return checks_on(lab.short_name, SELECT, report, sabotage)


@contextmanager
def hanging_exec(host):
    """`docker exec` on the host hangs; every other docker command works. Undone however the test ends."""
    cli = host.run(["sh", "-c", "command -v docker"], check=True).stdout.strip()
    host.run(
        ["sh", "-c", f"printf %s '{HANGING_CLI}' > /run/np-hanging-docker && chmod 755 /run/np-hanging-docker"],
        check=True,
    )
    host.run(["sh", "-c", f"touch /run/np-real-docker && mount --bind {cli} /run/np-real-docker"], check=True)
    host.run(["mount", "--bind", "/run/np-hanging-docker", cli], check=True)
    try:
        yield
    finally:
        host.run(["umount", cli])
        host.run(["umount", "/run/np-real-docker"])
        host.run(["rm", "-f", "/run/np-real-docker", "/run/np-hanging-docker"])


def assert_only_the_broken_host_errs(done: ChecksRun, *said: str) -> None:
    broken = {k: v for k, v in done.outcomes.items() if BROKEN in k}
    healthy = {k: v for k, v in done.outcomes.items() if HEALTHY in k}
    assert len(broken) == 3 and set(broken.values()) == {"error"}, done.why_failed()
    assert set(healthy.values()) == {"passed"}, done.why_failed()
    assert done.returncode == ExitStatus.LAB_BROKEN, done.why_failed()
    for case in done.results().checks:
        if BROKEN in case.case:
            assert "did not" in case.message and BROKEN in case.message, case.message
            for words in said:
                assert words in case.message, case.message


def test_a_hung_docker_exec_is_an_error_naming_the_probe_never_a_pass_nor_dockers_failure(lab, tmp_path):
    with hanging_exec(lab.host(BROKEN)):
        done = checks(lab, tmp_path)
    assert_only_the_broken_host_errs(done, "docker exec np-", "timed out after 30")


def test_a_probe_tool_that_cannot_be_executed_is_an_error_naming_it(lab, tmp_path, monkeypatch):
    monkeypatch.setenv("NETPROOF_SABOTAGE_HOST", BROKEN)
    done = checks(lab, tmp_path, sabotage="tool-noexec")
    assert_only_the_broken_host_errs(done, "unable to start container process")  # runc's words
