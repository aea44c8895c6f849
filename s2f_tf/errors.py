"""The one exception type for bad input: the CLI prints its message on one line and exits non-zero."""


class S2FError(Exception):
    """A problem with the user's input or files (not a bug): shown as one line, never a traceback."""
