"""The layout of a training work directory, shared by pretrain, train, import-torch, evaluate and export.

WORKDIR/config.json               the Config the models were built with (a resumed run must match)
WORKDIR/labels.json               {"train": [names...], ...}: label index -> identity (copied from data)
WORKDIR/voice_encoder.weights.h5  the pretrained (frozen) voice encoder
WORKDIR/pretrain/                 pretraining checkpoints (tf.train.CheckpointManager)
WORKDIR/checkpoints/              GAN checkpoints; the object graph names the generator "generator" and
                                  its optimizer (which holds the generator's moving average) "g_optimizer"
WORKDIR/logs/                     TensorBoard event files
WORKDIR/samples/                  PNG grids written during training
WORKDIR/.lock                     locked (flock) by the one pretrain-voice/train/import-torch running here
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import shutil
from pathlib import Path

import tensorflow as tf

from s2f_tf import checkpoint_index
from s2f_tf.checkpoint_index import checkpoint_files
from s2f_tf.config import CONFIG_FILE, Config
from s2f_tf.errors import S2FError, first_line
from s2f_tf.files import atomic_file, atomic_write_text

CONFIG = CONFIG_FILE
LABELS = "labels.json"
ENCODER_WEIGHTS = "voice_encoder.weights.h5"
PRETRAIN_CHECKPOINTS = "pretrain"
CHECKPOINTS = "checkpoints"
LOGS = "logs"
SAMPLES = "samples"
LOCK = ".lock"


@contextlib.contextmanager
def lock(workdir, command: str):
    """Hold the work directory for one writer (`s2f_tf.locks.exclusive` on WORKDIR/.lock); created if
    missing. A second trainer gets an S2FError naming the first; a killed one holds nothing."""
    from s2f_tf.locks import exclusive

    workdir = Path(workdir)
    if workdir.exists() and not workdir.is_dir():
        raise S2FError(f"{workdir}: exists and is not a directory")
    workdir.mkdir(parents=True, exist_ok=True)
    with exclusive(workdir / LOCK, command, what=f"work directory {workdir}"):
        yield workdir


def _check_types(value, default, where: str = ""):
    """A hand-edited config.json: each field must have its default's type (ints may stand for floats)."""
    if dataclasses.is_dataclass(default):
        for field in dataclasses.fields(default):
            name = f"{where}.{field.name}" if where else field.name
            _check_types(getattr(value, field.name), getattr(default, field.name), name)
        return
    if not _same_type(value, default):
        raise ValueError(f"{where} is {value!r}, expected {type(default).__name__}")


def _same_type(value, default) -> bool:
    if default is None:
        return True
    if isinstance(default, tuple):
        return isinstance(value, tuple) and (
            not default or all(_same_type(v, default[0]) for v in value)
        )
    if type(default) is float:
        return type(value) in (int, float)
    return type(value) is type(default)


def read_config(path) -> Config:
    """A config.json as a Config; S2FError (one line) if it is unreadable, truncated or hand-edited into
    something that is not a configuration."""
    path = Path(path)
    try:
        config = Config.from_json(path.read_text(encoding="utf-8"))
        _check_types(config, Config())
    except (OSError, UnicodeDecodeError) as error:
        raise S2FError(f"{path}: unreadable ({first_line(error)})") from None
    except (ValueError, TypeError, KeyError, AttributeError) as error:
        raise S2FError(
            f"{path}: not a valid s2f configuration ({first_line(error)}); restore it or use a new"
            " directory"
        ) from None
    return config


def load_config(workdir) -> Config:
    path = Path(workdir) / CONFIG
    if not path.is_file():
        raise S2FError(f"{workdir}: no {CONFIG} (not a work directory of s2f pretrain-voice/train)")
    return read_config(path)


# Fields that may change at any time: how long a stage trains and how its step runs (weights and
# checkpoints are float32 either way). config.json records the latest run's values.
RUNTIME_FIELDS = {
    "train": ("steps", "mixed_precision", "jit_compile", "features_on"),
    "pretrain": ("steps",),
}
# Which checkpoints fix which sections: a stage's own options once it has a checkpoint, the networks
# and the audio front end once any stage has one. The preset's name is a label, never compared.
STAGES = ((PRETRAIN_CHECKPOINTS, "pretraining", ("pretrain",)), (CHECKPOINTS, "GAN", ("train",)))
SHARED_SECTIONS = ("audio", "model")
PRETRAIN_BACKUP = "latest.weights.h5"  # what keras.callbacks.BackupAndRestore keeps in pretrain/


def _fields(config, prefix: str = ""):
    """(dotted name, value) of every leaf field of a config (section) dataclass."""
    for field in dataclasses.fields(config):
        value = getattr(config, field.name)
        name = f"{prefix}{field.name}"
        if dataclasses.is_dataclass(value):
            yield from _fields(value, f"{name}.")
        else:
            yield name, value


def config_changes(workdir, saved: Config, asked: Config) -> dict[str, list[str]]:
    """{why they are fixed: ["FIELD is SAVED there, ASKED asked", ...]}: the fields of `asked` that
    differ from the work directory's `saved` configuration where a checkpoint already depends on them."""
    fixed = {}  # section -> why
    for folder, stage, sections in STAGES:
        folder = Path(workdir) / folder
        if checkpoint_files(folder) or (folder / PRETRAIN_BACKUP).is_file():
            why = f"the first {stage} checkpoint in {folder}"
            for section in (*sections, *SHARED_SECTIONS):
                fixed.setdefault(section, why)
    asked_values = dict(_fields(asked))
    changes = {}
    for name, value in _fields(saved):
        section, _, field = name.partition(".")
        if section not in fixed or field in RUNTIME_FIELDS.get(section, ()):
            continue
        if asked_values[name] != value:
            changes.setdefault(fixed[section], []).append(
                f"{name} is {value!r} there, {asked_values[name]!r} asked"
            )
    return changes


def save_or_check_config(workdir, config: Config) -> None:
    """Write config.json, or refuse if it would change what an existing checkpoint depends on.

    A stage's options are free until that stage's first checkpoint (a GAN trained after pretraining may
    still take another batch size); the networks and the audio front end are fixed by the first
    checkpoint of either stage; the training length and how the step runs (`RUNTIME_FIELDS`) may always
    change. The refusal names every differing field with its saved and asked value. The file then
    records the latest run's values.
    """
    path = Path(workdir) / CONFIG
    if path.is_file():
        changes = config_changes(workdir, read_config(path), config)
        if changes:
            reasons = " and ".join(
                f"{'; '.join(fields)} (fixed since {why})" for why, fields in changes.items()
            )
            raise S2FError(f"{path}: {reasons}; use a new --workdir, or the saved values to resume")
    atomic_write_text(path, config.to_json())


def remove_leftovers(workdir) -> list[Path]:
    """Remove what a killed save left in WORKDIR/checkpoints: TensorFlow writes a checkpoint's shards to
    `ckpt-N_temp/` and merges them into `ckpt-N.*` (TensorFlow's own note: an orphaned one "can be
    safely removed"). Only while holding the work directory (`lock`): no live save is writing there."""
    leftovers = sorted(p for p in (Path(workdir) / CHECKPOINTS).glob("ckpt-*_temp") if p.is_dir())
    for path in leftovers:
        shutil.rmtree(path, ignore_errors=True)
    return leftovers


def latest_checkpoint(workdir, kind=CHECKPOINTS) -> str | None:
    """The checkpoint of WORKDIR/KIND to read (`s2f_tf.checkpoint_index.latest`: the one the index file
    names, else the newest checkpoint file); S2FError if the index names one outside the directory."""
    return checkpoint_index.latest(Path(workdir) / kind)


def load_inference_models(workdir):
    """(config, voice_encoder, generator) restored from a work directory, ready for inference/export.

    With `train.generator_ema` the generator holds the moving average of its weights, not the last ones.
    """
    from s2f_tf.models import build_generator, build_voice_encoder

    workdir = Path(workdir)
    config = load_config(workdir)
    encoder = build_voice_encoder(config)
    weights = workdir / ENCODER_WEIGHTS
    if not weights.is_file():
        raise S2FError(f"{workdir}: no {ENCODER_WEIGHTS} (run s2f pretrain-voice or import-torch)")
    try:
        encoder.load_weights(str(weights))
    except Exception as error:  # truncated or foreign HDF5: OSError, ValueError, KeyError...
        raise S2FError(
            f"{weights}: unreadable voice encoder weights ({first_line(error)})"
        ) from None
    generator = build_generator(config)
    checkpoint = latest_checkpoint(workdir)
    if checkpoint is None:
        raise S2FError(f"{workdir}: no GAN checkpoint under {CHECKPOINTS}/ (run s2f train)")
    objects = {"generator": generator}
    if config.train.generator_ema > 0:  # the moving average lives in the generator's optimizer
        from s2f_tf.models.optimizers import generator_adam

        objects["g_optimizer"] = generator_adam(config.train)
        objects["g_optimizer"].build(generator.trainable_variables)
    try:
        status = tf.train.Checkpoint(**objects).restore(checkpoint).expect_partial()
        status.assert_existing_objects_matched()
    except AssertionError:
        raise S2FError(f"{checkpoint}: holds no generator weights for this configuration") from None
    except Exception as error:  # damaged files: OpError, IndexError, ValueError...
        raise S2FError(
            f"{checkpoint}: unreadable checkpoint ({type(error).__name__}: {first_line(error)})"
        ) from None
    if "g_optimizer" in objects:
        objects["g_optimizer"].finalize_variable_values(generator.trainable_variables)
    return config, encoder, generator


def save_labels(workdir, labels: dict) -> Path:
    """Write WORKDIR/labels.json: {split: [identity name of each label]}."""
    return atomic_write_text(Path(workdir) / LABELS, json.dumps(labels, indent=1))


def load_labels(workdir) -> dict:
    path = Path(workdir) / LABELS
    if not path.is_file():
        return {}
    try:
        labels = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise S2FError(f"{path}: unreadable ({first_line(error)})") from None
    if not isinstance(labels, dict):
        raise S2FError(f"{path}: not a label map (expected {{split: [names...]}})")
    return labels


def save_encoder_weights(workdir, encoder) -> Path:
    """Write WORKDIR/voice_encoder.weights.h5 whole: Keras writes in place, so a sibling is written and
    renamed (a crash never leaves half a file; `s2f_tf.files.atomic_file`)."""
    target = Path(workdir) / ENCODER_WEIGHTS
    with atomic_file(target) as partial:
        encoder.save_weights(str(partial))
    return target


def save_generator(workdir, generator) -> str:
    """Add a GAN checkpoint holding only `generator` (what inference reads) under WORKDIR/checkpoints/,
    numbered after any already there so that it is the latest; its path."""
    directory = Path(workdir) / CHECKPOINTS
    checkpoint_index.repair(directory)  # the caller holds the work directory
    manager = tf.train.CheckpointManager(
        tf.train.Checkpoint(generator=generator), str(directory), max_to_keep=3
    )
    latest = manager.latest_checkpoint
    number = int(latest.rsplit("-", 1)[1]) + 1 if latest else 1
    return manager.save(checkpoint_number=number)
