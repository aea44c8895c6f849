"""The named presets: functions returning a fresh `Config` ("wen2019", "small", "hq128", "tiny",
"tiny128"; see `s2f_tf.config`), and `preset(name)`."""

from __future__ import annotations

import types

from s2f_tf.config_tree import AudioConfig, Config, ModelConfig, PretrainConfig, TrainConfig
from s2f_tf.errors import S2FError


def _small() -> Config:
    return Config(
        name="small",
        audio=AudioConfig(
            train_min_frames=100, train_max_frames=300, min_utterance_frames=300, test_frames=400
        ),
        model=ModelConfig(
            voice_channels=(64, 96, 128, 192),
            generator_channels=(256, 128, 64, 32, 16),
            face_channels=(16, 32, 64, 128, 256),
            # Beyond the 2019 recipe, each measured on three corpus draws (benchmarks/recipe_study.py,
            # benchmarks/RESULTS-recipe.md): nearest x2 + 3x3 conv upsampling (no checkerboard) and a
            # spectrally normalised face embedder.
            generator_upsample="resize",
            spectral_norm=True,
        ),
        # 1,500 steps with the warmed-up average: the demo's budget (12 minutes on 2 cores in float32).
        # L1 to a real face of the voice's identity (weight 10, as SF2F's released configuration),
        # DiffAugment of real and generated faces in both updates, and a learning rate of 5e-4 draw
        # sharper, more identity-faithful faces than the reference's choices in that budget.
        train=TrainConfig(
            batch_size=32,
            steps=1500,
            learning_rate=5e-4,
            reconstruction_weight=10.0,
            diff_augment="color,translation,cutout",
            generator_ema=0.999,  # evaluate/export the averaged generator
            generator_ema_warmup=True,
            checkpoint_every=250,
            log_every=25,
            image_every=500,
        ),
        pretrain=PretrainConfig(batch_size=32, steps=1600, checkpoint_every=200, log_every=25),
    )


def _tiny() -> Config:
    return Config(
        name="tiny",
        audio=AudioConfig(
            train_min_frames=20, train_max_frames=40, min_utterance_frames=40, test_frames=60
        ),
        model=ModelConfig(
            voice_channels=(8, 8, 16, 16),
            generator_channels=(16, 16, 8, 8, 8),
            face_channels=(4, 8, 8, 16, 16),
        ),
        train=TrainConfig(batch_size=4, steps=4, checkpoint_every=2, log_every=1, image_every=2),
        pretrain=PretrainConfig(batch_size=4, steps=4, checkpoint_every=2, log_every=1),
    )


def _hq128() -> Config:
    """128 x 128 faces beyond the 2019 recipe: the small preset's voice encoder (and audio), a generator
    that upsamples by resize + 3x3 conv, a spectrally normalised face embedder one block deeper, hinge
    losses, and small's training recipe (L1 to a paired real face, DiffAugment, learning rate 5e-4, the
    warmed-up generator average). No R1 penalty: in benchmarks/RESULTS-quality.md's budget it cost 23 %
    of the step and every metric (`train.r1_gamma` turns it on)."""
    small = _small()
    return small.replace(
        name="hq128",
        model={
            "generator_channels": (256, 128, 64, 32, 16, 8),
            "face_channels": (8, 16, 32, 64, 128, 256),
            "image_size": 128,
            "generator_upsample": "resize",
            "spectral_norm": True,
        },
        # 2,000 steps: about twice the demo's training time. Measured on three corpus draws against the
        # constant-momentum average without L1 and DiffAugment at learning rate 2e-4 (this preset until
        # 2026-12; benchmarks/RESULTS-quality.md, "hq128 since 2026-12").
        train={"adversarial_loss": "hinge", "steps": 2000},
    )


def _tiny128() -> Config:
    """The tiny preset's sizes with hq128's choices at 128 px (L1 and DiffAugment included), and the R1
    penalty: for tests of the 128-px path and of every option it uses."""
    hq = _hq128()
    return _tiny().replace(
        name="tiny128",
        model={
            "generator_channels": (16, 16, 8, 8, 8, 8),
            "face_channels": (4, 8, 8, 8, 16, 16),
            "image_size": 128,
            "generator_upsample": hq.model.generator_upsample,
            "spectral_norm": hq.model.spectral_norm,
        },
        train={
            "adversarial_loss": hq.train.adversarial_loss,
            "r1_gamma": 1.0,
            "generator_ema": hq.train.generator_ema,
            "generator_ema_warmup": hq.train.generator_ema_warmup,
            "reconstruction_weight": hq.train.reconstruction_weight,
            "diff_augment": hq.train.diff_augment,
        },
    )


_PRESETS = {
    "wen2019": Config,
    "small": _small,
    "hq128": _hq128,
    "tiny": _tiny,
    "tiny128": _tiny128,
}
# The preset names, each mapped to a function returning a fresh Config (read only).
PRESETS = types.MappingProxyType(_PRESETS)


class UnknownPreset(S2FError, ValueError):
    """A preset name that `PRESETS` does not hold (the command line shows it as one line)."""


def preset(name: str) -> Config:
    """The named configuration: "wen2019" (reference sizes), "small" (demo), "hq128" (128 px),
    "tiny" or "tiny128" (tests).

    Raises:
        UnknownPreset: (a ValueError) naming the presets there are.
    """
    try:
        return _PRESETS[name]()
    except KeyError:
        raise UnknownPreset(f"unknown preset {name!r}; choose from {', '.join(PRESETS)}") from None
