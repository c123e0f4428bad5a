"""An error that is not a check's verdict (Docker refusing, a tool crashing) reads as one line: what was
being done, and the error in its own words; no fixture reprs, no traceback."""

from pathlib import Path

import docker.errors
import pytest
import requests

from netproof.runner.outcomes import one_line


def start_container(name: str) -> None:
    response = requests.Response()
    response.status_code = 500
    raise docker.errors.APIError(
        "500 Server Error for http+docker://localhost/v1.41/containers/x/start",
        response,
        explanation="attaching to network failed, make sure your network options are correct: context deadline "
        "exceeded",
    )


def test_dockers_own_words_and_where_netproof_was():
    with pytest.raises(docker.errors.APIError) as excinfo:
        start_container("np-a")
    line = one_line(excinfo, Path(__file__).parents[2])
    assert "\n" not in line
    assert line.startswith("APIError at tests/unit/test_one_line.py:")
    assert "(raise docker.errors.APIError(" in line
    assert line.endswith(
        ": attaching to network failed, make sure your network options are correct: context deadline exceeded"
    )


def test_any_other_error_keeps_its_message_on_one_line():
    with pytest.raises(RuntimeError) as excinfo:
        raise RuntimeError("tcpdump crashed\n  on docker3")
    line = one_line(excinfo, Path(__file__).parents[2])
    assert line.startswith("RuntimeError at tests/unit/test_one_line.py:") and "(raise RuntimeError(" in line
    assert line.endswith(": tcpdump crashed on docker3")
