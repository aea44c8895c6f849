"""A checkpoint folder's `checkpoint` index file, read without trusting it and repaired before a save.

TensorFlow writes a checkpoint's files (`ckpt-N.index`, `ckpt-N.data-*`) and then the index file that
names them. That file may be garbled (cut short, binary, hand-edited, naming a checkpoint that is gone or
one outside the folder). TensorFlow's readers then log their own lines ("Couldn't match files for
checkpoint", "Checkpoint ignored") or raise UnicodeDecodeError / ValueError, and a CheckpointManager made
on such a folder would later delete the files the index names, wherever they are. Here:

- `read_index` parses the file itself (no logging), None if it cannot be used;
- `latest` takes the checkpoint the index names if it is readable, inside the folder and present, else
  the newest checkpoint file (an index naming a checkpoint outside the folder is refused);
- `candidates` lists what a resume may try, newest first;
- `repair` rewrites an unusable index from the files found (only by the folder's one writer, before its
  CheckpointManager reads the file).
"""

from __future__ import annotations

from pathlib import Path

from s2f_tf.errors import S2FError
from s2f_tf.files import atomic_write_text

INDEX = "checkpoint"


def checkpoint_files(directory) -> list[str]:
    """Checkpoint prefixes (`DIR/ckpt-N`) that have an `.index` file in `directory`, oldest first,
    whatever the `checkpoint` index file says."""
    directory = Path(directory)
    if not directory.is_dir():
        return []
    found = [p for p in directory.glob("ckpt-*.index") if p.stem.split("-")[-1].isdigit()]
    return [str(p.with_suffix("")) for p in sorted(found, key=lambda p: int(p.stem.split("-")[-1]))]


def inside(directory, path) -> bool:
    """Whether checkpoint `path` (from an index file, which may be edited) lies directly in
    `directory`: nothing outside the work directory is read through names taken from files."""
    return Path(path).resolve().parent == Path(directory).resolve()


def read_index(directory) -> list[str] | None:
    """The checkpoints the index file names, oldest first and the latest last (absolute paths); None
    if there is no index file or it is not a checkpoint index (nothing is logged)."""
    from google.protobuf import text_format
    from tensorflow.python.training.checkpoint_state_pb2 import CheckpointState

    path = Path(directory) / INDEX
    try:
        state = text_format.Parse(path.read_bytes().decode("utf-8"), CheckpointState())
    except (OSError, UnicodeDecodeError, text_format.ParseError):
        return None
    if not state.model_checkpoint_path:
        return None
    named = [p for p in state.all_model_checkpoint_paths if p != state.model_checkpoint_path]
    return [str(Path(directory) / p) for p in (*named, state.model_checkpoint_path)]


def _present(prefix) -> bool:
    return Path(f"{prefix}.index").is_file()


def latest(directory) -> str | None:
    """The checkpoint to read: the one the index file names if it is usable, else the newest checkpoint
    file; None if there is none. S2FError if the index names a checkpoint outside `directory`."""
    named = read_index(directory)
    if named:
        if not inside(directory, named[-1]):
            raise S2FError(
                f"{Path(directory) / INDEX}: names {named[-1]}, outside the checkpoint directory"
            )
        if _present(named[-1]):
            return named[-1]
    found = checkpoint_files(directory)
    return found[-1] if found else None


def candidates(directory) -> list[str]:
    """What a resume may try, newest first: the checkpoint the index file names (even outside the
    folder or missing: the caller says why it was skipped), then every checkpoint file."""
    named = read_index(directory) or []
    ordered = [*named[-1:], *reversed(checkpoint_files(directory))]
    return list(dict.fromkeys(ordered))


def repair(directory) -> bool:
    """Rewrite the index file from the checkpoint files if it names anything but checkpoints present
    in `directory` (a CheckpointManager would otherwise delete what it names, wherever that is).
    Returns whether it was rewritten. Call only as the folder's one writer."""
    directory = Path(directory)
    if not (directory / INDEX).exists():
        return False
    named = read_index(directory)
    if named and all(inside(directory, p) and _present(p) for p in named):
        return False
    found = checkpoint_files(directory)
    if not found:
        (directory / INDEX).unlink()
        return True
    # With their times (the .index files'), a CheckpointManager keeps track of them (and deletes the
    # oldest beyond max_to_keep); without, it would take them for checkpoints to keep forever.
    lines = [f'model_checkpoint_path: "{Path(found[-1]).name}"']
    lines += [f'all_model_checkpoint_paths: "{Path(p).name}"' for p in found]
    lines += [
        f"all_model_checkpoint_timestamps: {Path(f'{p}.index').stat().st_mtime}" for p in found
    ]
    lines += ["last_preserved_timestamp: 0"]
    atomic_write_text(directory / INDEX, "\n".join(lines) + "\n")
    return True
