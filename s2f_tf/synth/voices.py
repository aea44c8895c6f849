"""A source-filter voice synthesiser driven by an identity's latent attributes.

Source: a glottal flow pulse train (Rosenberg-style pulses from a continuous phase) whose F0 follows a phrase
declination plus per-syllable accents, with jitter (fast F0 noise), shimmer and aspiration noise gated by the
pulses (breathiness); spectral tilt is a one-pole low-pass. Filter: five second-order formant resonators in
cascade, their frequencies scaled by 17.5 cm / vocal-tract length and a per-identity offset. Speech is
syllable-like babble (consonant noise + vowel nucleus) grouped into words and phrases with pauses, placed
between leading/trailing silence and mixed with per-video background noise at a random SNR.

Example:
>>> rng = np.random.default_rng(0)
>>> voice = VoiceTraits(f0=120.0, vocal_tract_cm=17.0)
>>> wave = synthesize(voice, Recording(seconds=4.0, snr_db=20.0), rng)
>>> wave.dtype, wave.ndim
(dtype('float32'), 1)
"""

from __future__ import annotations

import dataclasses

import numpy as np
import scipy.signal

# Vowel formants F1..F3 (Hz) of an adult male with a 17.5 cm vocal tract (Peterson & Barney averages).
VOWELS = np.array(
    [
        [730, 1090, 2440],  # a
        [530, 1840, 2480],  # e
        [270, 2290, 3010],  # i
        [570, 840, 2410],  # o
        [300, 870, 2240],  # u
        [660, 1720, 2410],  # ae
        [490, 1350, 1690],  # er
        [640, 1190, 2390],  # uh
    ],
    np.float64,
)
UPPER_FORMANTS = (3300.0, 3750.0)  # F4, F5 of the same reference speaker.
BANDWIDTHS = np.array([80.0, 100.0, 140.0, 200.0, 260.0])
REFERENCE_TRACT_CM = 17.5


@dataclasses.dataclass(frozen=True)
class VoiceTraits:
    """What an identity sounds like (all values per identity; utterances vary around them).

    Args:
        f0: mean fundamental frequency in Hz.
        vocal_tract_cm: vocal-tract length; formants scale with 17.5 / length.
        formant_offsets: per-formant multiplicative offsets (identity colour), five values near 1.
        rate: syllables per second.
        jitter: relative F0 noise.
        shimmer: relative per-syllable amplitude noise.
        breathiness: aspiration noise level relative to the voiced source.
        tilt: one-pole low-pass coefficient on the source (0 = flat, 0.9 = dark voice).
        open_quotient: fraction of a glottal period the glottis is open.
        f0_range: semitone range of accents and declination.
    """

    f0: float = 120.0
    vocal_tract_cm: float = 17.5
    formant_offsets: tuple[float, ...] = (1.0, 1.0, 1.0, 1.0, 1.0)
    rate: float = 4.5
    jitter: float = 0.01
    shimmer: float = 0.1
    breathiness: float = 0.05
    tilt: float = 0.6
    open_quotient: float = 0.6
    f0_range: float = 3.0


@dataclasses.dataclass(frozen=True)
class Recording:
    """One utterance's conditions.

    Args:
        seconds: target length of speech (syllables and the short gaps between them), excluding pauses.
        snr_db: speech-to-background-noise ratio.
        lead: leading silence in seconds; trail: trailing silence.
        noise_colour: 0 white ... 1 brown background noise.
        hum_hz: mains hum frequency (0 = none).
        gain: peak level of the result (fraction of full scale).
    """

    seconds: float = 5.0
    snr_db: float = 20.0
    lead: float = 0.5
    trail: float = 0.5
    noise_colour: float = 0.5
    hum_hz: float = 0.0
    gain: float = 0.5


def formant_sos(formants: np.ndarray, sample_rate: int) -> np.ndarray:
    """Second-order sections `[5, 6]` of a cascade of unit-DC-gain resonators at `formants` (Hz)."""
    nyquist = sample_rate / 2
    freqs = np.minimum(np.asarray(formants, np.float64), 0.95 * nyquist)
    r = np.exp(-np.pi * BANDWIDTHS[: len(freqs)] / sample_rate)
    a1 = -2.0 * r * np.cos(2.0 * np.pi * freqs / sample_rate)
    a2 = r * r
    sos = np.zeros((len(freqs), 6))
    sos[:, 0] = 1.0 + a1 + a2
    sos[:, 3] = 1.0
    sos[:, 4] = a1
    sos[:, 5] = a2
    return sos


def _glottal_pulses(phase: np.ndarray, open_quotient: float) -> np.ndarray:
    """Glottal flow derivative from a cycle phase in [0, 1): rising cosine then a faster closing fall."""
    rise = 0.65 * open_quotient
    fall = open_quotient - rise
    flow = np.where(
        phase < rise,
        0.5 * (1.0 - np.cos(np.pi * phase / rise)),
        np.where(phase < open_quotient, np.cos(0.5 * np.pi * (phase - rise) / fall), 0.0),
    )
    return np.diff(flow, prepend=flow[:1])


def _smooth_noise(rng, length: int, step: int) -> np.ndarray:
    """Noise sampled every `step` samples and linearly interpolated (slow random variation)."""
    knots = rng.standard_normal(length // step + 2)
    return np.interp(np.arange(length) / step, np.arange(len(knots)), knots)


def _coloured_noise(rng, length: int, colour: float) -> np.ndarray:
    """White (0) to brown-ish (1) noise with unit RMS."""
    noise = rng.standard_normal(length)
    if colour > 0:
        noise = scipy.signal.lfilter([1.0], [1.0, -0.98 * colour], noise)
    return noise / (np.sqrt(np.mean(noise**2)) + 1e-12)


def _plan(voice: VoiceTraits, seconds: float, rng):
    """Syllable timeline: list of (start, consonant_len, vowel_len, vowel, consonant_kind, accent)."""
    syllables = []
    t = 0.0
    speech = 0.0
    phrase_left = rng.uniform(1.2, 2.8)
    while speech < seconds:
        word_start = t
        for _ in range(rng.integers(1, 4)):  # a word of 1-3 syllables
            length = rng.uniform(0.7, 1.3) / voice.rate
            consonant = rng.uniform(0.04, 0.1) if rng.random() < 0.6 else 0.0
            kind = rng.integers(0, 3)
            vowel = max(length - consonant, 0.06)
            syllables.append((t, consonant, vowel, rng.integers(len(VOWELS)), kind, rng.normal()))
            t += consonant + vowel
            speech += consonant + vowel
        gap = rng.uniform(0.02, 0.09)  # between words: kept by the VAD
        phrase_left -= t - word_start
        if phrase_left <= 0:  # between phrases: a pause the VAD removes
            gap = rng.uniform(0.35, 0.8)
            phrase_left = rng.uniform(1.2, 2.8)
        t += gap
        speech += gap if gap < 0.1 else 0.0
    return syllables, t


def synthesize(
    voice: VoiceTraits, recording: Recording, rng, sample_rate: int = 16000
) -> np.ndarray:
    """One utterance as float32 samples in [-1, 1] at `sample_rate`.

    Args:
        voice: the speaker's traits.
        recording: this utterance's conditions (length, silence, noise).
        rng: a numpy Generator (the only source of randomness: same state, same samples).
        sample_rate: output rate in Hz.
    """
    sr = sample_rate
    syllables, speech_end = _plan(voice, recording.seconds, rng)
    lead = int(recording.lead * sr)
    n = lead + int((speech_end + recording.trail) * sr) + 1
    source = _voice_source(voice, recording, syllables, n, sr, rng)
    out = _articulate(voice, syllables, source, lead, n, sr, rng)
    return _record(out, recording, lead, speech_end, sr, rng)


def _voice_source(voice: VoiceTraits, recording: Recording, syllables, n: int, sr: int, rng):
    """The glottal source of `n` samples: F0 with phrase declination, per-syllable accents, slow drift
    and fast jitter; pulses, aspiration noise and spectral tilt."""
    times = np.array([s[0] for s in syllables])
    accents = np.array([s[5] for s in syllables]) * voice.f0_range / 3.0
    declination = -voice.f0_range * np.mod(times, 2.5) / 2.5
    semitones = np.interp(
        np.arange(n) / sr - recording.lead, times, accents + declination, left=0, right=0
    )
    semitones += 0.3 * _smooth_noise(rng, n, sr // 20)
    f0 = voice.f0 * 2.0 ** (semitones / 12.0)
    f0 *= 1.0 + voice.jitter * _smooth_noise(rng, n, max(int(sr / voice.f0 / 2), 1))
    phase = np.mod(np.cumsum(f0 / sr), 1.0)
    source = _glottal_pulses(phase, voice.open_quotient)
    source /= np.sqrt(np.mean(source**2)) + 1e-12
    aspiration = rng.standard_normal(n) * (0.3 + (phase < voice.open_quotient))
    source = source + voice.breathiness * 3.0 * aspiration
    source = scipy.signal.lfilter([1.0 - voice.tilt], [1.0, -voice.tilt], source)
    return source


def _articulate(voice: VoiceTraits, syllables, source, lead: int, n: int, sr: int, rng):
    """Consonants (fricative noise, plosive bursts, nasal murmur) and formant-filtered vowels."""
    scale = REFERENCE_TRACT_CM / voice.vocal_tract_cm
    offsets = np.asarray(voice.formant_offsets)
    utterance_shift = 1.0 + rng.normal(0.0, 0.015)
    out = np.zeros(n + sr // 10)
    for start, consonant, vowel_len, vowel, kind, _ in syllables:
        begin = lead + int(start * sr)
        c_len = int(consonant * sr)
        if c_len:
            noise = rng.standard_normal(c_len)
            if kind == 0:  # fricative: high band
                centre = rng.uniform(3500, 6000) * scale
                sos = formant_sos([min(centre, 7000.0)], sr)
                noise = scipy.signal.sosfilt(sos, noise) * 0.25
            elif kind == 1:  # plosive: short burst then closure
                noise[int(0.02 * sr) :] = 0.0
                noise *= 0.4
            else:  # nasal-ish murmur: low voiced hum
                noise = scipy.signal.sosfilt(
                    formant_sos([250 * scale], sr), source[begin : begin + c_len]
                )
            out[begin : begin + c_len] += noise * np.hanning(c_len)
        v_begin = begin + c_len
        v_len = int(vowel_len * sr)
        formants = np.concatenate([VOWELS[vowel], UPPER_FORMANTS]) * scale * offsets
        formants *= utterance_shift * (1.0 + rng.normal(0.0, 0.03, 5))
        segment = source[v_begin : v_begin + v_len]
        ramp = min(int(0.03 * sr), len(segment) // 3)
        envelope = np.ones(len(segment))
        envelope[:ramp] = np.linspace(0.0, 1.0, ramp)
        envelope[len(segment) - ramp :] = np.linspace(1.0, 0.0, ramp)
        amplitude = 1.0 + voice.shimmer * rng.normal()
        voiced = scipy.signal.sosfilt(formant_sos(formants, sr), segment * envelope) * amplitude
        out[v_begin : v_begin + len(voiced)] += voiced
    out = out[:n]
    return out


def _record(out, recording: Recording, lead: int, speech_end: float, sr: int, rng):
    """The speech in a room: coloured background noise (and mains hum) at the SNR, then the gain."""
    n = len(out)
    speech_rms = np.sqrt(np.mean(out[lead : lead + int(speech_end * sr)] ** 2)) + 1e-12
    noise = _coloured_noise(rng, n, recording.noise_colour)
    if recording.hum_hz:
        t = np.arange(n) / sr
        noise += 0.5 * np.sin(2 * np.pi * recording.hum_hz * t + rng.uniform(0, 2 * np.pi))
    noise *= speech_rms / np.sqrt(np.mean(noise**2)) * 10.0 ** (-recording.snr_db / 20.0)
    out = out + noise
    out *= recording.gain / (np.max(np.abs(out)) + 1e-12)
    return out.astype(np.float32)
