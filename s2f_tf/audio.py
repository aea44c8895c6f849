"""Reading audio files and webrtcvad voice-activity detection, shared by `prepare` and `generate`.

Decoding is soundfile (libsndfile: the `FORMATS` below, 16/24/32-bit integer and float), resampling is
`resample` (the one resampler, for every input rate), VAD is webrtcvad exactly as docs/recipe.md:
aggressiveness 2, 20 ms frames, a 50 ms ring buffer, a segment starts when more than 90 % of the ring is
voiced and ends when more than 90 % is unvoiced; voiced segments are concatenated.

Why soxr and not `scipy.signal.resample_poly`: both are band-limited, but soxr takes any pair of rates
directly (44.1 -> 16 kHz is the ratio 160/441, a 441-phase polyphase filter for resample_poly), its
"HQ" recipe is specified (20-bit precision; measured here: flat within 0.01 dB to 7.2 kHz, the front end's
highest mel edge, and more than 130 dB down above the 8 kHz Nyquist frequency of 16 kHz) and it was
already the dependency every path used. tests/test_audio_rates.py checks that response and that the
same speech at 16, 22.05, 44.1 and 48 kHz gives the same voice embedding.
"""

from __future__ import annotations

import collections
import os

import numpy as np
import soundfile
import soxr
import webrtcvad

from s2f_tf.config import AudioConfig
from s2f_tf.errors import S2FError, first_line

# What `load_audio` decodes (libsndfile through soundfile), as `s2f generate --help` lists it; each is
# decoded by tests/test_audio_rates.py. Not AAC/M4A or WMA: libsndfile does not read them.
FORMATS = ("WAV", "FLAC", "MP3", "OGG Vorbis", "Opus", "AIFF")
RESAMPLE_QUALITY = "HQ"  # soxr's recipe: see the module docstring


class AudioFileError(S2FError):
    """An audio file that cannot be used; `reason` is a short key for skip counts ("unreadable", ...)."""

    def __init__(self, message: str, reason: str):
        super().__init__(message)
        self.reason = reason


def load_audio(path, sample_rate: int = 16000, name=None) -> np.ndarray:
    """Decode `path`, downmix to mono and resample to `sample_rate`: float32 in [-1, 1].

    Raises AudioFileError (an S2FError, one line) for a missing, unreadable, empty or non-finite file;
    its `reason` is "missing", "unreadable", "empty" or "non_finite". Messages start with `name`
    (default: `path`), e.g. the name a file was uploaded under rather than where it was stored.
    """
    name = path if name is None else name
    if not os.path.isfile(path):  # libsndfile reports this as a generic "System error"
        raise AudioFileError(f"{name}: no such file", "missing")
    try:
        data, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    except (soundfile.LibsndfileError, OSError, RuntimeError, ValueError, EOFError) as error:
        message = first_line(error, limit=2000).replace(
            str(path), str(name)
        )  # libsndfile may quote the path
        if "File does not exist or is not a regular file" in message:  # what it says of a file
            message = "format not recognised, or the file is damaged"  # it cannot identify
        raise AudioFileError(
            f"{name}: not a readable audio file ({message})", "unreadable"
        ) from None
    if data.size == 0:
        raise AudioFileError(f"{name}: contains no samples", "empty")
    if not np.isfinite(data).all():
        raise AudioFileError(f"{name}: contains NaN or infinite samples", "non_finite")
    mono = resample(data.mean(axis=1), rate, sample_rate)
    return np.clip(mono, -1.0, 1.0).astype(np.float32)


def resample(samples: np.ndarray, rate: int, target: int) -> np.ndarray:
    """Band-limited resampling of mono `samples` from `rate` to `target` Hz (soxr, "HQ"): the one
    resampler of every audio input (`load_audio`; `prepare`, `generate` and `s2f app` read through it).

    Equal rates return the samples unchanged. The output has round(len * target / rate) samples, aligned
    with the input (no delay).
    """
    if int(rate) == int(target):
        return samples
    return soxr.resample(samples, int(rate), int(target), quality=RESAMPLE_QUALITY)


def to_int16(samples: np.ndarray) -> np.ndarray:
    """float [-1, 1] -> int16, rounding to nearest."""
    return np.clip(np.round(np.asarray(samples) * 32768.0), -32768, 32767).astype(np.int16)


def voiced(samples: np.ndarray, audio: AudioConfig = AudioConfig()) -> np.ndarray:
    """The voiced part of `samples` (float or int16, mono, at `audio.sample_rate`), concatenated.

    Returns int16. An empty array means nothing was voiced (the reference crashes there; callers decide).
    """
    pcm = samples if samples.dtype == np.int16 else to_int16(samples)
    frame = audio.sample_rate * audio.vad_frame_ms // 1000
    ring = collections.deque(maxlen=audio.vad_padding_ms // audio.vad_frame_ms)
    detector = webrtcvad.Vad(audio.vad_mode)
    triggered = False
    kept: list[np.ndarray] = []
    segment: list[np.ndarray] = []
    for start in range(0, len(pcm) - frame + 1, frame):
        chunk = pcm[start : start + frame]
        speech = detector.is_speech(chunk.tobytes(), audio.sample_rate)
        if not triggered:
            ring.append((chunk, speech))
            if sum(s for _, s in ring) > audio.vad_trigger * ring.maxlen:
                triggered = True
                segment = [c for c, _ in ring]
                ring.clear()
        else:
            segment.append(chunk)
            ring.append((chunk, speech))
            if sum(not s for _, s in ring) > audio.vad_trigger * ring.maxlen:
                triggered = False
                kept.extend(segment)
                segment = []
                ring.clear()
    kept.extend(segment)
    return np.concatenate(kept) if kept else np.zeros(0, np.int16)
