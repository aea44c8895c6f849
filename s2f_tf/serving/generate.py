"""Audio files -> faces with a loaded exported model (`s2f generate`, `s2f app`)."""

from __future__ import annotations

import numpy as np

from s2f_tf.audio import load_audio, voiced
from s2f_tf.errors import S2FError

NO_VAD_HINT = "use --no-vad to use the whole file"


def read_voice(path, audio, vad: bool = True, name=None, no_vad_hint: str = NO_VAD_HINT):
    """The samples of one audio file that a model is given: float32 [n] at `audio.sample_rate`.

    The file is decoded, downmixed and resampled (`s2f_tf.audio.load_audio`); with `vad`, only its voiced
    part (webrtcvad, as `prepare`) is kept, and a file with no speech raises S2FError. Messages start with
    `name` (default: `path`); `no_vad_hint` says how to skip VAD where the caller offers that.

    Returns:
        (samples, seconds): what the model gets and the length of the whole decoded file in seconds.
    """
    name = path if name is None else name
    samples = load_audio(path, audio.sample_rate, name=name)
    seconds = len(samples) / audio.sample_rate
    if vad:
        samples = voiced(samples, audio).astype(np.float32) / 32768.0
        if samples.size == 0:
            raise S2FError(f"{name}: no speech detected ({no_vad_hint})")
    return samples, seconds


def generate_faces(model, paths, vad: bool = True, progress=None) -> list[dict]:
    """Run `model` (from `s2f_tf.serving.inference.load_model`) on each audio file (see `read_voice`).

    Every file is read before the model runs, so a bad file fails before any model run.

    Returns:
        One dict per file: `file`, `face` (uint8 [64, 64, 3]), `face_float`, `embedding`, `seconds_used`.
    """
    audio = model.audio
    files = list(paths)
    if not files:
        raise S2FError("no input files")
    waveforms = [read_voice(path, audio, vad)[0] for path in files]
    iterator = zip(files, waveforms, strict=True)
    if progress is not None:
        iterator = progress(iterator, total=len(files), desc="generate", unit="file")
    results = []
    for path, samples in iterator:
        outputs = model(samples)
        results.append(
            dict(outputs, file=str(path), seconds_used=round(len(samples) / audio.sample_rate, 3))
        )
    return results
