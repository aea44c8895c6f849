"""Advisory locks that die with their process: one trainer per work directory (one prepare per dataset
folder), and telling a live writer's temporary file or directory from one a killed process left behind.

Both use `fcntl.flock` on an open file descriptor. The kernel releases such a lock when the descriptor is
closed, which includes the process dying in any way (`kill -9`, a crash, the OOM killer), so a lock can
never outlive its owner. Lock files are never deleted (deleting one while another process waits on it
would let a third process lock a new file of the same name).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import shutil
import socket
import sys
import time
from pathlib import Path

from s2f_tf.errors import S2FError

# flock on a filesystem without lock support (some network filesystems) fails with one of these.
_NO_LOCKS = {errno.ENOLCK, errno.EOPNOTSUPP, errno.ENOSYS, errno.EINVAL}


class Busy(S2FError):
    """Another live process holds the lock."""


def _holder(fd: int) -> str:
    """Who wrote the lock file last (the current holder, when it is held)."""
    try:
        info = json.loads(os.pread(fd, 4096, 0).decode() or "{}")
        return f"s2f {info['command']} (pid {info['pid']} on {info['host']}, since {info['since']})"
    except (OSError, ValueError, KeyError, TypeError, UnicodeDecodeError):
        return "another process"


@contextlib.contextmanager
def exclusive(path, command: str, what: str | None = None):
    """Hold an exclusive lock on the file `path` (created if missing) for the block, or raise `Busy`.

    Args:
        path: the lock file.
        command: written into the file so a refused process can say who holds it ("train").
        what: how the refusal names the locked thing (default: the lock file's folder).

    Example:
    >>> with exclusive("runs/a/.lock", "train"):
    ...     train()
    """
    path = Path(path)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            where = what or str(path.parent)
            raise Busy(
                f"{where} is in use by {_holder(fd)}; wait for it to finish"
                " (or use another directory)"
            ) from None
        except OSError as error:
            if error.errno not in _NO_LOCKS:
                raise
            print(
                f"warning: {path}: the filesystem cannot lock files ({error.strerror});"
                " make sure only one process uses this directory",
                file=sys.stderr,
            )
        info = {
            "command": command,
            "pid": os.getpid(),
            "host": socket.gethostname(),
            "since": time.strftime("%Y-%m-%d %H:%M:%S"),
        }
        with contextlib.suppress(OSError):  # the note is a courtesy; the lock is what counts
            os.ftruncate(fd, 0)
            os.pwrite(fd, json.dumps(info).encode() + b"\n", 0)
        yield path
    finally:
        os.close(fd)


# === Temporary files and directories that say whether their owner is alive ===


def hold(fd: int, path) -> None:
    """Lock `path`, already open as `fd`, for as long as `fd` stays open (close it when done).

    Raises FileNotFoundError if `path` was removed (or replaced) before the lock was taken: a cleaner
    (`remove_stale`) may remove a temporary in the instant between its creation and this call, so
    callers make another. On a filesystem without locks nothing is locked (and `remove_stale` leaves
    such temporaries alone).
    """
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
    except OSError as error:
        if error.errno not in _NO_LOCKS:
            raise
    if os.stat(path).st_ino != os.fstat(fd).st_ino:  # removed (and maybe recreated) meanwhile
        raise FileNotFoundError(errno.ENOENT, "removed while being locked", str(path))


def hold_directory(path) -> int:
    """Lock the directory `path` for as long as the returned descriptor stays open (see `hold`)."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        hold(fd, path)
        return fd
    except BaseException:
        os.close(fd)
        raise


def remove_stale(candidates) -> list[Path]:
    """Remove the temporary files and directories among `candidates` that no live process holds (see
    `hold`). Only this user's are considered, never a symbolic link. Returns the removed paths.
    """
    removed = []
    for path in candidates:
        path = Path(path)
        try:
            if path.is_symlink() or path.stat().st_uid != os.getuid():
                continue
            directory = path.is_dir()
            if not directory and not path.is_file():
                continue
            flags = (
                os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW | (os.O_DIRECTORY if directory else 0)
            )
            fd = os.open(path, flags)
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:  # held: its owner is alive (or locks are unsupported: keep it)
            os.close(fd)
            continue
        try:  # removed while locked, so that its creator's `hold` sees it is gone
            if directory:
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
            removed.append(path)
        finally:
            os.close(fd)
    return removed
