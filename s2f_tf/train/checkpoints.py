"""Checkpoints that survive a kill -9 and never hand back a broken one."""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

import tensorflow as tf


class Checkpoints:
    """A tf.train.CheckpointManager that restores the newest *readable* checkpoint.

    TensorFlow writes a checkpoint's files first and the `checkpoint` index last, so a process killed
    mid-save leaves the previous one as latest. If the newest files are damaged anyway (a copy cut short,
    a full disk), `restore` falls back to older ones. In multi-worker training every worker must take
    part in saving; non-chief workers write to a temporary directory that is then deleted.

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
        """Restore the newest checkpoint that loads; return its path (None: nothing to restore)."""
        for path in reversed(self.manager.checkpoints):
            try:
                self.checkpoint.restore(path).assert_existing_objects_matched()
                return path
            except Exception as error:  # any damage: OpError, IndexError, ValueError...
                print(
                    f"warning: checkpoint {path} is unreadable ({type(error).__name__}); trying older",
                    file=sys.stderr,
                )
        return None

    def save(self, step: int) -> str:
        path = self.manager.save(checkpoint_number=step)
        if not self.is_chief:
            shutil.rmtree(self.manager.directory, ignore_errors=True)
        return path
