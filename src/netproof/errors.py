class NetproofError(Exception):
    """A problem the user can fix. Its message is one line that says what is wrong and how to fix it."""
