"""Atomic writes: nothing is ever left half-written under its final name.

Temporary files and directories (`atomic_file`, `atomic_write_*`, `atomic_directory`,
`temporary_directory`) are locked by their process for as long as they exist (`s2f_tf.locks.hold`), so
the leftovers of a killed process can be told apart from the work of a live one and removed
(`s2f_tf.locks.remove_stale`): the next atomic write of the same name does it.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import shutil
import tempfile
from pathlib import Path

from s2f_tf.locks import hold_directory, remove_stale


def temporaries(path) -> list[Path]:
    """The temporary folders atomic writes of `path` make beside it (`.NAME.XXXX.tmp`), live or left
    by a killed process."""
    path = Path(path)
    return sorted(path.parent.glob(f".{glob.escape(path.name)}.*.tmp*"))


def remove_leftovers(path) -> list[Path]:
    """Remove the temporaries of `path` that killed processes left (`temporaries`; a live writer's are
    kept, see `s2f_tf.locks.remove_stale`)."""
    return remove_stale(temporaries(path))


@contextlib.contextmanager
def atomic_file(path):
    """Yield a temporary path for `path` (for a writer that needs a file name: Keras, h5py); it is
    renamed to `path` if the block succeeds and removed if it fails.

    The temporary file lies in a folder `.NAME.XXXX.tmp` beside `path` that this process holds while it
    lives (the file itself is left unlocked for HDF5, which locks what it writes), under the same name
    (Keras wants `.weights.h5`). The leftovers of killed writers of the same name are removed first
    (`remove_leftovers`).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_leftovers(path)
    folder, held = _held_mkdtemp(path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        tmp = folder / path.name
        yield tmp
        os.replace(tmp, path)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        os.close(held)


def atomic_write_bytes(path, data: bytes) -> Path:
    """Write `data` to `path` whole or not at all (see `atomic_file`)."""
    with atomic_file(path) as tmp, open(tmp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    return Path(path)


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

    The temporary directory is `.NAME.XXXX.tmp`, locked while this process lives; those of killed
    processes are removed first (`remove_leftovers`). Refuses to overwrite: raises FileExistsError if `path` exists when the
    block ends.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    remove_leftovers(path)
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
