class NetproofError(Exception):
    """A problem the user can fix. Its message is one line that says what is wrong and how to fix it."""


class LabBroken(RuntimeError):
    """The lab cannot run a check (a host down, a daemon not answering, a tunnel gone): not Docker's failure."""
