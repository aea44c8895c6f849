"""Checkpoints that survive a kill -9 and never hand back a broken one."""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

import tensorflow as tf

from s2f_tf.errors import S2FError
from s2f_tf.workdir import checkpoint_files, inside


class DamagedCheckpoints(S2FError):
    """Checkpoints exist but none can be restored: refuse rather than restart and overwrite them."""


class Checkpoints:
    """A tf.train.CheckpointManager that restores the newest *readable* checkpoint.

    TensorFlow writes a checkpoint's files first and the `checkpoint` index last, so a process killed
    mid-save leaves the previous one as latest. If the newest files are damaged anyway (a copy cut short,
    a full disk), `restore` falls back to older ones. If checkpoints are there but none can be restored
    (all damaged, or the index file unreadable), `restore` raises `DamagedCheckpoints` and changes
    nothing: starting again from step 0 would delete them as new checkpoints are saved. In multi-worker
    training every worker must take part in saving; non-chief workers write to a temporary directory
    that is then deleted.

    Args:
        directory: where checkpoints go.
        is_chief: whether this process keeps what it writes.
        max_to_keep: number of checkpoints kept.
        **objects: the trackables to save (models, optimizers, step variable...).
    """

    def __init__(self, directory, *, is_chief: bool = True, max_to_keep: int = 3, **objects):
        self.directory = Path(directory)
        self.is_chief = is_chief
        self.checkpoint = tf.train.Checkpoint(**objects)
        target = self.directory if is_chief else Path(tempfile.mkdtemp(prefix="s2f_worker_ckpt_"))
        self.manager = tf.train.CheckpointManager(self.checkpoint, str(target), max_to_keep)

    def restore(self) -> str | None:
        """Restore the newest checkpoint that loads; return its path (None: nothing to restore).

        Raises DamagedCheckpoints if there are checkpoints and none of them loads.
        """
        found = checkpoint_files(self.manager.directory)
        # Without a readable index file (a kill between a save's files and its index, a damaged copy),
        # the checkpoint files themselves are tried.
        listed = self.manager.checkpoints or found
        tried = []
        for path in reversed(listed):
            try:
                if not inside(self.manager.directory, path):
                    raise ValueError("the index file points outside the checkpoint directory")
                self.checkpoint.restore(path).assert_existing_objects_matched()
            except Exception as error:  # any damage: OpError, IndexError, ValueError...
                tried.append(f"{Path(path).name}: {type(error).__name__}")
                continue
            if tried:
                print(
                    f"warning: unreadable checkpoint(s) skipped ({'; '.join(tried)});"
                    f" resuming from {Path(path).name}",
                    file=sys.stderr,
                )
            return path
        if tried:
            raise DamagedCheckpoints(
                f"{self.manager.directory}: no checkpoint can be restored ({'; '.join(tried)});"
                " nothing was changed: put back a good copy, or move them away to start from step 0"
            )
        return None

    def save(self, step: int) -> str:
        path = self.manager.save(checkpoint_number=step)
        if not self.is_chief:
            shutil.rmtree(self.manager.directory, ignore_errors=True)
        return path
