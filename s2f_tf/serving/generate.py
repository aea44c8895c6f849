"""Audio files -> faces with a loaded exported model (`s2f generate`)."""

from __future__ import annotations

from s2f_tf.audio import load_audio, voiced
from s2f_tf.errors import S2FError


def generate_faces(model, paths, vad: bool = True, progress=None) -> list[dict]:
    """Run `model` (from `s2f_tf.serving.inference.load_model`) on each audio file.

    Each file is decoded, downmixed and resampled to the model's rate; with `vad`, only its voiced part
    (webrtcvad, as `prepare`) is used and a file with no speech raises S2FError.

    Returns:
        One dict per file: `file`, `face` (uint8 [64, 64, 3]), `face_float`, `embedding`, `seconds_used`.
    """
    audio = model.audio
    files = list(paths)
    if not files:
        raise S2FError("no input files")
    waveforms = []
    for path in files:  # read everything first: a bad file fails before any model run
        samples = load_audio(path, audio.sample_rate)
        if vad:
            samples = voiced(samples, audio).astype("float32") / 32768.0
            if samples.size == 0:
                raise S2FError(f"{path}: no speech detected (use --no-vad to use the whole file)")
        waveforms.append(samples)
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
