"""Atomic writes: nothing is ever left half-written under its final name.

Temporary directories (`atomic_directory`, `temporary_directory`) are locked by their process for as long
as they exist (`s2f_tf.locks.hold_directory`), so the leftovers of a killed process can be told apart from
the work of a live one and removed (`s2f_tf.locks.remove_stale`).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from pathlib import Path

from s2f_tf.locks import hold_directory


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_bytes(path, data: bytes) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; give the file normal permissions
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return path


def atomic_write_text(path, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path, data) -> Path:
    return atomic_write_text(path, json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")


def _held_mkdtemp(parent, prefix: str, suffix: str = "") -> tuple[Path, int]:
    """mkdtemp, locked by this process until the returned descriptor is closed."""
    for _ in range(100):
        tmp = Path(tempfile.mkdtemp(dir=parent, prefix=prefix, suffix=suffix))
        try:
            return tmp, hold_directory(tmp)
        except FileNotFoundError:  # a cleaner took it for a dead process's leftover: make another
            continue
    raise OSError(f"{parent}: could not keep a temporary directory")


@contextlib.contextmanager
def atomic_directory(path):
    """Yield a temporary sibling directory; rename it to `path` only if the block succeeds.

    The temporary directory is `.NAME.XXXX.tmp`, locked while this process lives (so `remove_stale` can
    clean it up after a `kill -9`). Refuses to overwrite: raises FileExistsError if `path` exists when the
    block ends.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp, held = _held_mkdtemp(path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        yield tmp
        if path.exists():
            raise FileExistsError(f"{path} already exists")
        os.rename(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        os.close(held)


@contextlib.contextmanager
def temporary_directory(prefix: str, parent=None):
    """Like `tempfile.TemporaryDirectory`, but locked while this process lives (see `atomic_directory`)."""
    tmp, held = _held_mkdtemp(parent, prefix=prefix)
    try:
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        os.close(held)
