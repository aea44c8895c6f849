"""Test fixture: work directories of randomly initialised models, for tests, benchmarks and smoke runs of
`export`.

They have the layout of `s2f_tf.workdir` (config.json, voice_encoder.weights.h5, checkpoints/), so every
consumer of a trained work directory accepts them.
"""

from __future__ import annotations

from pathlib import Path

import keras

from s2f_tf import workdir as workdir_layout
from s2f_tf.config import Config
from s2f_tf.files import atomic_write_text
from s2f_tf.models import build_generator, build_voice_encoder


def write_random_workdir(path, config: Config, seed: int = 0, output_gain: float = 1.0) -> Path:
    """Write a work directory holding randomly initialised voice encoder and generator for `config`.

    The encoder's BatchNorm statistics are left at their initial values (mean 0, variance 1).
    `output_gain` multiplies the generator's last kernel: a random `tiny` generator draws faces within
    one grey level of each other, and a gain of ~1000 gives them contrast, so that comparisons of
    pixels tell faces apart.

    Example:
    >>> write_random_workdir(tmp_path / "work", preset("tiny"))
    """
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    keras.utils.set_random_seed(seed)
    encoder = build_voice_encoder(config)
    generator = build_generator(config)
    if output_gain != 1.0:
        to_rgb = generator.blocks[-1]
        to_rgb.kernel.assign(to_rgb.kernel * output_gain)
    atomic_write_text(path / workdir_layout.CONFIG, config.to_json())
    workdir_layout.save_encoder_weights(path, encoder)
    workdir_layout.save_generator(path, generator)
    return path
