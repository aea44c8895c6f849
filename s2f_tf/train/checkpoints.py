"""Checkpoints that survive a kill -9 and never hand back a broken one."""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

import tensorflow as tf

from s2f_tf import checkpoint_index
from s2f_tf.errors import S2FError


class DamagedCheckpoints(S2FError):
    """Checkpoints exist but none can be restored: refuse rather than restart and overwrite them."""


class Checkpoints:
    """A tf.train.CheckpointManager that restores the newest *readable* checkpoint.

    TensorFlow writes a checkpoint's files first and the `checkpoint` index last, so a process killed
    mid-save leaves the previous one as latest. If the newest files are damaged anyway (a copy cut short,
    a full disk) or the index file is garbled, `restore` falls back to the other checkpoint files
    (`s2f_tf.checkpoint_index.candidates`). If checkpoints are there but none can be restored,
    `restore` raises `DamagedCheckpoints` and changes nothing: starting again from step 0 would delete
    them as new checkpoints are saved. The manager is made at the first save, after a garbled index file
    has been rewritten from the files (`checkpoint_index.repair`).

    In multi-worker training every worker restores from `directory` (the chief's checkpoints: every
    worker must start from the same step and weights) and takes part in saving; non-chief workers write
    to a temporary folder of their own, emptied after each save and removed with their process.

    Args:
        directory: where checkpoints are read and (by the chief) written.
        is_chief: whether this process keeps what it writes.
        max_to_keep: number of checkpoints kept.
        **objects: the trackables to save (models, optimizers, step variable...).
    """

    def __init__(self, directory, *, is_chief: bool = True, max_to_keep: int = 3, **objects):
        self.directory = Path(directory)
        self.is_chief = is_chief
        self.max_to_keep = max_to_keep
        self.checkpoint = tf.train.Checkpoint(**objects)
        self._manager = None
        self._scratch = None  # a non-chief's temporary folder

    @property
    def manager(self) -> tf.train.CheckpointManager:
        if self._manager is None:
            if self.is_chief:
                checkpoint_index.repair(self.directory)
                target = self.directory
            else:
                self._scratch = tempfile.TemporaryDirectory(prefix="s2f_worker_ckpt_")
                target = Path(self._scratch.name)
            self._manager = tf.train.CheckpointManager(
                self.checkpoint, str(target), self.max_to_keep
            )
        return self._manager

    def restore(self) -> str | None:
        """Restore the newest checkpoint of `directory` that loads; return its path (None: nothing to
        restore). Raises DamagedCheckpoints if there are checkpoints and none of them loads."""
        tried = []
        for path in checkpoint_index.candidates(self.directory):
            try:
                if not checkpoint_index.inside(self.directory, path):
                    raise ValueError("the index file points outside the checkpoint directory")
                self.checkpoint.restore(path).assert_existing_objects_matched()
            except Exception as error:  # any damage: OpError, IndexError, ValueError, NotFound...
                tried.append(f"{Path(path).name}: {type(error).__name__}")
                continue
            if tried:
                print(
                    f"warning: unreadable checkpoint(s) skipped ({'; '.join(tried)});"
                    f" resuming from {Path(path).name}",
                    file=sys.stderr,
                )
            return path
        if tried and checkpoint_index.checkpoint_files(self.directory):
            raise DamagedCheckpoints(
                f"{self.directory}: no checkpoint can be restored ({'; '.join(tried)});"
                " nothing was changed: put back a good copy, or move them away to start from step 0"
            )
        return None

    def save(self, step: int) -> str:
        path = self.manager.save(checkpoint_number=step)
        if not self.is_chief:  # keep nothing: empty the folder (it goes with the process)
            for item in Path(self.manager.directory).iterdir():
                shutil.rmtree(item) if item.is_dir() else item.unlink()
        return path
