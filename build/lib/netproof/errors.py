"""netproof's errors, and the exit statuses that tell a user's CI which party is at fault."""

from enum import IntEnum


class NetproofError(Exception):
    """A problem the user can fix. Its message is one line that says what is wrong and how to fix it."""


class UsageError(NetproofError):
    """The input is wrong (an argument, a topology file, a catalogue): nothing was built."""


class LabBroken(RuntimeError):
    """The lab cannot run a check (a host down, a daemon not answering, a tunnel gone): not Docker's failure."""


class ExitStatus(IntEnum):
    """The same for `netproof run`, `netproof upgrade` and a pytest run of the checks (docs/checks.md)."""

    PASSED = 0  # Docker kept every promise it made here (known defects allowed, unless --strict-defects)
    DOCKER_FAILED = 1  # Docker broke a promise (a failed case; a known defect under --strict-defects)
    USAGE = 2  # a bad argument, topology file or check declaration: nothing was run
    LAB_BROKEN = 10  # the lab is broken (an error case, a lab that would not come up), and no Docker failure
    CRASHED = 11  # netproof itself failed (its traceback is printed): a bug to report
    INTERRUPTED = 130  # Ctrl-C or SIGTERM
