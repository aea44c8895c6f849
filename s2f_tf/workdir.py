"""The layout of a training work directory, shared by pretrain, train, import-torch, evaluate and export.

WORKDIR/config.json               the Config the models were built with (a resumed run must match)
WORKDIR/labels.json               {"train": [names...], ...}: label index -> identity (copied from data)
WORKDIR/voice_encoder.weights.h5  the pretrained (frozen) voice encoder
WORKDIR/pretrain/                 pretraining checkpoints (tf.train.CheckpointManager)
WORKDIR/checkpoints/              GAN checkpoints; the object graph names the generator "generator"
WORKDIR/logs/                     TensorBoard event files
WORKDIR/samples/                  PNG grids written during training
"""

from __future__ import annotations

import json
from pathlib import Path

import tensorflow as tf

from s2f_tf.config import Config
from s2f_tf.errors import S2FError
from s2f_tf.files import atomic_write_text

CONFIG = "config.json"
LABELS = "labels.json"
ENCODER_WEIGHTS = "voice_encoder.weights.h5"
PRETRAIN_CHECKPOINTS = "pretrain"
CHECKPOINTS = "checkpoints"
LOGS = "logs"
SAMPLES = "samples"


def load_config(workdir) -> Config:
    path = Path(workdir) / CONFIG
    if not path.is_file():
        raise S2FError(f"{workdir}: no {CONFIG} (not a work directory of s2f pretrain-voice/train)")
    return Config.from_json(path.read_text())


def save_or_check_config(workdir, config: Config) -> None:
    """Write config.json, or refuse if the work directory already holds a different one.

    Only the training length and how the step runs (precision, XLA, where features are computed) may differ: a resumed run may be
    asked to train longer, or in mixed_bfloat16 (weights and checkpoints stay float32 either way). The file
    then records the latest run's values.
    """
    path = Path(workdir) / CONFIG
    if path.is_file():
        existing = Config.from_json(path.read_text())
        runtime = ("steps", "mixed_precision", "jit_compile", "features_on")
        comparable = existing.replace(
            train={key: getattr(config.train, key) for key in runtime},
            pretrain={"steps": config.pretrain.steps},
        )
        if comparable != config:
            raise S2FError(
                f"{path} holds a different configuration ({existing.name}); use a new --workdir"
                " or the same preset and options to resume"
            )
    atomic_write_text(path, config.to_json())


def latest_checkpoint(workdir, kind=CHECKPOINTS) -> str | None:
    return tf.train.latest_checkpoint(str(Path(workdir) / kind))


def load_inference_models(workdir):
    """(config, voice_encoder, generator) restored from a work directory, ready for inference/export.

    With `train.generator_ema` the generator holds the moving average of its weights, not the last ones.
    """
    from s2f_tf.models import Generator, VoiceEncoder

    workdir = Path(workdir)
    config = load_config(workdir)
    encoder = VoiceEncoder.from_model_config(config.model, name="voice_encoder")
    encoder.build((None, None, config.audio.num_mel_bins))
    weights = workdir / ENCODER_WEIGHTS
    if not weights.is_file():
        raise S2FError(f"{workdir}: no {ENCODER_WEIGHTS} (run s2f pretrain-voice or import-torch)")
    encoder.load_weights(str(weights))
    generator = Generator.from_model_config(config.model, name="generator")
    generator.build((None, config.model.embedding_dim))
    checkpoint = latest_checkpoint(workdir)
    if checkpoint is None:
        raise S2FError(f"{workdir}: no GAN checkpoint under {CHECKPOINTS}/ (run s2f train)")
    objects = {"generator": generator}
    if config.train.generator_ema > 0:  # the moving average lives in the generator's optimizer
        from s2f_tf.train.builder import adam

        objects["g_optimizer"] = adam(config.train, ema_momentum=config.train.generator_ema)
        objects["g_optimizer"].build(generator.trainable_variables)
    status = tf.train.Checkpoint(**objects).restore(checkpoint).expect_partial()
    try:
        status.assert_existing_objects_matched()
    except AssertionError:
        raise S2FError(f"{checkpoint}: holds no generator weights for this configuration") from None
    if "g_optimizer" in objects:
        objects["g_optimizer"].finalize_variable_values(generator.trainable_variables)
    return config, encoder, generator


def load_labels(workdir) -> dict:
    path = Path(workdir) / LABELS
    return json.loads(path.read_text()) if path.is_file() else {}
