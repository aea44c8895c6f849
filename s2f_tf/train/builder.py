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

# mixed_bfloat16's GAN step time over float32's on a CPU without AMX, by its best bf16 instruction set
# (benchmarks/RESULTS-performance.md): oneDNN's AVX512-BF16 kernels (as on AMD Zen 4) and its AVX-512
# emulation, measured with benchmarks/cpu_isa.py. Without AVX-512, TensorFlow does not give bf16 ops to
# oneDNN at all (it asks the CPU for AVX512F) but to its generic kernels: the wen2019 step on a 2-core
# AMD Zen 2 took 92.5 s in bf16 against 6.2 s in float32 with oneDNN.
BF16_SLOWDOWN = (
    (
        "avx512_bf16",
        1.2,
        "AVX512-BF16 without AMX: oneDNN's bf16 convolutions are slower than float32",
    ),
    ("avx512f", 2.5, "AVX-512 without BF16: oneDNN emulates bfloat16"),
    ("", 15.0, "no AVX-512: TensorFlow computes bfloat16 in its slow generic kernels"),
)


def _cpu_flags(cpuinfo: str | None) -> set[str]:
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text()
        except OSError:
            return set()
    return set(cpuinfo.split())


def bfloat16_slowdown(cpuinfo: str | None = None) -> tuple[float | None, str] | None:
    """None where mixed_bfloat16 speeds training up here (an NVIDIA GPU of compute capability >= 8.0, or
    a CPU with AMX-BF16 tiles); elsewhere (how many times slower than float32 a GAN step gets, or None
    where unmeasured; why).

    `cpuinfo`: the text of /proc/cpuinfo (read when None; a machine without it counts as having no
    bf16 instructions).
    """
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if gpus:
        details = tf.config.experimental.get_device_details(gpus[0])
        if tuple(details.get("compute_capability") or (0, 0)) >= (8, 0):
            return None
        return None, "a GPU older than Ampere has no bfloat16 tensor cores"
    flags = _cpu_flags(cpuinfo)
    if "amx_bf16" in flags:
        return None
    return next((slower, why) for flag, slower, why in BF16_SLOWDOWN if not flag or flag in flags)


def fast_bfloat16(cpuinfo: str | None = None) -> bool:
    """Whether mixed_bfloat16 speeds training up here (`bfloat16_slowdown` is None): what `--precision
    auto` picks it by."""
    return bfloat16_slowdown(cpuinfo) is None


def bfloat16_warning(cpuinfo: str | None = None) -> str | None:
    """The one line `--mixed-precision` prints where bfloat16 is slow here (None where it is fast)."""
    slow = bfloat16_slowdown(cpuinfo)
    if slow is None:
        return None
    slower, why = slow
    how_much = f"about {slower:g}x slower" if slower else "slower"
    return (
        f"mixed_bfloat16 is {how_much} than float32 here ({why}); drop --mixed-precision to train in"
        " float32"
    )


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
    """Models + optimizers (slots built) + the step. Call inside `strategy.scope()` (docs/recipe.md, TensorFlow pitfall 2).

    The voice encoder is loaded from `encoder_weights` when given and frozen either way.
    """
    with dtype_policy(config.train.mixed_precision):
        models = build_models(config, num_classes)
    if encoder_weights is not None:
        load_encoder_weights(models.voice_encoder, encoder_weights, config)
    models.voice_encoder.trainable = False
    step = GANStep.from_config(models, generator_adam(config.train), adam(config.train), config)
    step.build_optimizers()
    return step
