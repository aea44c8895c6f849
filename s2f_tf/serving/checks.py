"""What the artifact checks share: the error they raise, the test clips and the output comparisons.

`s2f_tf.serving.saved_model` (session loader) and `s2f_tf.serving.tflite` (LiteRT) check what they write
with these; tests and benchmarks use the same clips.
"""

from __future__ import annotations

import numpy as np

from s2f_tf.errors import S2FError
from s2f_tf.models.voice_to_face import OUTPUTS

CHECK_SAMPLES = (
    1,
    200,
    8000,
    48000,
    320000,
)  # 62.5 us, 12.5 ms (< one 25 ms frame), 0.5 s, 3 s, 20 s.


class ExportCheckError(S2FError):
    """An exported artifact disagrees with the Keras model; nothing was published."""


def check_clips(sample_rate: int, lengths=CHECK_SAMPLES, seed: int = 0) -> list[np.ndarray]:
    """Deterministic voice-like test signals: a gliding harmonic tone, syllable envelope, a little noise."""
    rng = np.random.default_rng(seed)
    clips = []
    for n in lengths:
        t = np.arange(n) / sample_rate
        pitch = 110.0 + 40.0 * rng.random() + 20.0 * np.sin(2 * np.pi * 0.7 * t)
        phase = 2 * np.pi * np.cumsum(pitch) / sample_rate
        tone = sum(np.sin(k * phase) / k for k in range(1, 12))
        envelope = 0.55 + 0.45 * np.sin(2 * np.pi * 3.0 * t + rng.random() * 6.28)
        clip = 0.2 * envelope * tone + 0.01 * rng.standard_normal(n)
        clips.append(np.clip(clip, -1, 1).astype(np.float32))
    return clips


def keras_outputs(model, waveform) -> dict:
    return {key: value.numpy() for key, value in model(waveform).items()}


def max_diff(a, b) -> float:
    return float(np.max(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64))))


def check_outputs(got: dict, want: dict, batch: int, where: str):
    for key in OUTPUTS:
        if key not in got:
            raise ExportCheckError(f"{where}: output {key!r} missing (has {sorted(got)})")
        value = np.asarray(got[key])
        if value.shape != want[key].shape or value.shape[0] != batch:
            raise ExportCheckError(
                f"{where}: {key} has shape {value.shape}, want {want[key].shape}"
            )
        if value.dtype != want[key].dtype:
            raise ExportCheckError(
                f"{where}: {key} has dtype {value.dtype}, want {want[key].dtype}"
            )
        if value.dtype.kind == "f" and not np.isfinite(value).all():
            raise ExportCheckError(f"{where}: {key} contains NaN or infinite values")
