"""Building everything a GAN step needs, inside the current tf.distribute scope."""

from __future__ import annotations

import contextlib
from pathlib import Path

import keras

from s2f_tf.config import Config
from s2f_tf.errors import S2FError, first_line
from s2f_tf.models import build_models
from s2f_tf.models.optimizers import adam, generator_adam
from s2f_tf.train.step import GANStep


def fast_bfloat16(cpuinfo: str | None = None) -> bool:
    """Whether mixed_bfloat16 speeds training up here: an NVIDIA GPU of compute capability >= 8.0, or a
    CPU with AMX-BF16 tiles. With AVX512-BF16 alone (AMD Zen 4) oneDNN's bf16 convolutions are slower than
    float32 ones, and elsewhere bf16 is emulated, slower still (benchmarks/cpu_isa.py,
    benchmarks/RESULTS-performance.md).

    `cpuinfo`: the text of /proc/cpuinfo (read when None; a machine without it counts as no bf16).
    """
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        details = tf.config.experimental.get_device_details(gpus[0])
        return tuple(details.get("compute_capability") or (0, 0)) >= (8, 0)
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text()
        except OSError:
            return False
    flags = set(cpuinfo.split())
    return "amx_bf16" in flags


@contextlib.contextmanager
def dtype_policy(mixed_precision: bool):
    """Layers built inside use "mixed_bfloat16" when asked (the front end stays float32)."""
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_bfloat16" if mixed_precision else "float32")
    try:
        yield
    finally:
        keras.config.set_dtype_policy(previous)


def load_encoder_weights(encoder, path, config: Config) -> None:
    """`encoder.load_weights(path)`, or an S2FError if the file is cut short, not HDF5 or made for other
    sizes."""
    try:
        encoder.load_weights(str(path))
    except Exception as error:  # OSError, ValueError... from h5py and Keras
        raise S2FError(
            f"{path}: not voice encoder weights for the {config.name} preset ({first_line(error)})"
        ) from None


def build_gan(config: Config, num_classes: int, encoder_weights=None) -> GANStep:
    """Models + optimizers (slots built) + the step. Call inside `strategy.scope()` (TF-NOTES 2).

    The voice encoder is loaded from `encoder_weights` when given and frozen either way.
    """
    with dtype_policy(config.train.mixed_precision):
        models = build_models(config, num_classes)
    if encoder_weights is not None:
        load_encoder_weights(models.voice_encoder, encoder_weights, config)
    models.voice_encoder.trainable = False
    step = GANStep(
        models,
        generator_adam(config.train),
        adam(config.train),
        embedding_noise=config.train.embedding_noise,
        audio=config.audio,
        adversarial_loss=config.train.adversarial_loss,
        r1_gamma=config.train.r1_gamma,
    )
    step.build_optimizers()
    return step
