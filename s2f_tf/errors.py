"""How failures reach the user: `S2FError` for bad input, and `describe` for everything else.

The command line (`s2f_tf.cli.main`) is the one place that turns an exception into a line on standard
error and an exit status; it calls `describe`. No TensorFlow import here (`s2f --help` must stay fast):
TensorFlow errors are recognised by their module and `message`.
"""

from __future__ import annotations

import errno
import os
import re

BAD_INPUT = 2  # exit status: the input (arguments, files) cannot be used
FAILED = 1  # exit status: the environment failed (full disk, I/O error) or a bug

# A full disk or a file-size limit (`ulimit -f`), as OSError numbers and as the text TensorFlow/HDF5 put
# in their own errors.
_DISK_FULL_ERRNOS = {errno.ENOSPC, errno.EFBIG, errno.EDQUOT}
_DISK_FULL_TEXT = tuple(os.strerror(code) for code in sorted(_DISK_FULL_ERRNOS))
# OSErrors about a path the user named: bad input, not a failure of the machine.
_PATH_ERRORS = (
    FileNotFoundError,
    FileExistsError,
    IsADirectoryError,
    NotADirectoryError,
    PermissionError,
)


class S2FError(Exception):
    """A problem with the user's input or files (not a bug): shown as one line, never a traceback."""


def first_line(error: BaseException, limit: int = 300) -> str:
    """The first line of an error's message (TensorFlow's `{{function_node ...}}` prefixes removed)."""
    text = getattr(error, "message", None) if _is_tensorflow(error) else None
    text = str(text if text is not None else error)
    text = re.sub(r"\{\{[^}]*\}\}\s*", "", text).strip()
    lines = text.splitlines()
    return lines[0][:limit] if lines else type(error).__name__


def _is_tensorflow(error: BaseException) -> bool:
    return type(error).__module__.startswith("tensorflow")


def disk_full(error: BaseException) -> str | None:
    """The reason ("No space left on device", "File too large", ...) if `error` is a full disk, else None."""
    while error is not None:
        if isinstance(error, OSError) and error.errno in _DISK_FULL_ERRNOS:
            return os.strerror(error.errno)
        text = str(error)
        for reason in _DISK_FULL_TEXT:
            if reason in text:
                return reason
        error = error.__cause__ or error.__context__
    return None


def describe(error: BaseException, kept: str | None = None) -> tuple[str, int]:
    """(one-line message, exit status) for any exception a command raised.

    Args:
        error: the exception.
        kept: what a failed run of this command leaves behind (said after a full disk or an I/O error),
            e.g. "no version was published".
    """
    if isinstance(error, S2FError):
        return first_line(error, limit=2000), BAD_INPUT
    if _is_tensorflow(error) and type(error).__name__ == "DataLossError":  # a record cut short...
        return (
            f"a file it reads is damaged ({first_line(error)}); write it again (s2f prepare into a"
            " new --out for a dataset's shards)",
            BAD_INPUT,
        )
    after = f"; {kept}" if kept else ""
    reason = disk_full(error)
    if reason is not None:
        where = getattr(error, "filename", None)
        where = f" writing {where}" if where else ""
        return f"out of disk space ({reason}){where}{after}", FAILED
    if isinstance(error, _PATH_ERRORS) and getattr(error, "filename", None):
        return f"{error.filename}: {error.strerror}", BAD_INPUT
    if isinstance(error, OSError):
        return f"I/O error: {first_line(error)}{after}", FAILED
    hint = "rerun with --debug (or S2F_DEBUG=1) for the traceback"
    return f"unexpected {type(error).__name__}: {first_line(error)}{after} ({hint})", FAILED
