"""Audio in: one band-limited resampler for every rate, the formats `s2f generate --help` lists, and the
same speech at 16, 22.05, 44.1 and 48 kHz giving the same voice embedding (s2f_tf/audio.py).

The embedding test uses a `tiny` voice encoder trained here for a few seconds as a speaker classifier on
synthetic speech (8 voices). An untrained encoder would not do: it maps every voice to nearly the same
direction (cosine ~0.96 between two different speakers, measured), so ">= 0.99 across rates" would say
little. The trained one separates speakers (cosine well below 0.9, asserted), and the test also shows that
a resampler without an anti-aliasing filter (linear interpolation) falls below 0.99.
"""

import re
import subprocess
import sys

import keras
import numpy as np
import pytest
import scipy.signal
import soundfile

from s2f_tf import audio as audio_io
from s2f_tf.config import preset
from s2f_tf.frontend import LogMelSpectrogram
from s2f_tf.models import VoiceEncoder
from s2f_tf.serving.generate import read_voice
from s2f_tf.synth.voices import Recording, VoiceTraits, synthesize

SOURCE_RATE = 48000
# rate -> (up, down) of scipy's resample_poly from 48 kHz: the files are made by another resampler than
# the one under test, as a recording made at that rate would be.
RATES = {16000: (1, 3), 22050: (147, 320), 44100: (147, 160), 48000: (1, 1)}
VOICES = [
    VoiceTraits(f0=f0, vocal_tract_cm=tract)
    for f0, tract in [
        (110, 17.5),
        (125, 16.5),
        (140, 18.0),
        (190, 15.0),
        (210, 14.5),
        (230, 15.5),
        (100, 18.5),
        (170, 16.0),
    ]
]


@pytest.fixture(scope="module")
def trained_encoder():
    """(config, front end, encoder): a tiny voice encoder trained as an 8-speaker classifier."""
    config = preset("tiny")
    frontend = LogMelSpectrogram(config.audio)
    rng = np.random.default_rng(0)
    crops, labels = [], []
    for label, voice in enumerate(VOICES):
        for _ in range(4):
            features = frontend(synthesize(voice, Recording(seconds=3.0), rng)[None])[0].numpy()
            for start in rng.integers(0, len(features) - 100, 30):
                crops.append(features[start : start + 100])
                labels.append(label)
    keras.utils.set_random_seed(0)
    encoder = VoiceEncoder.from_model_config(config.model)
    inputs = keras.Input((None, config.audio.num_mel_bins))
    classifier = keras.Model(inputs, keras.layers.Dense(len(VOICES))(encoder(inputs)))
    classifier.compile(
        keras.optimizers.Adam(3e-3),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    history = classifier.fit(
        np.stack(crops), np.array(labels), batch_size=32, epochs=10, shuffle=True, verbose=0
    )
    assert history.history["accuracy"][-1] > 0.6  # chance: 1/8
    return config, frontend, encoder


def _write_rates(root, name, voice, seed):
    """The same speech (synthesised at 48 kHz) written as 16-bit WAV at each of RATES: {rate: path}."""
    speech = synthesize(voice, Recording(seconds=4.0), np.random.default_rng(seed), SOURCE_RATE)
    paths = {}
    for rate, (up, down) in RATES.items():
        samples = speech if up == down else scipy.signal.resample_poly(speech, up, down)
        paths[rate] = root / f"{name}_{rate}.wav"
        soundfile.write(paths[rate], samples, rate, subtype="PCM_16")
    return paths


def _embedding(path, config, frontend, encoder):
    """What `s2f generate` feeds the generator, up to the encoder: decode, resample, VAD, log-mel."""
    samples, _ = read_voice(path, config.audio, vad=True)
    embedding = encoder(frontend(samples[None]), training=False).numpy()[0]
    return embedding / np.linalg.norm(embedding)


def _cosines(paths, model):
    embeddings = {rate: _embedding(path, *model) for rate, path in paths.items()}
    return embeddings, {
        (a, b): float(embeddings[a] @ embeddings[b]) for a in RATES for b in RATES if a < b
    }


def test_same_speech_at_four_rates_gives_the_same_embedding(tmp_path, trained_encoder):
    same = _write_rates(tmp_path, "same", VOICES[0], seed=7)
    embeddings, cosines = _cosines(same, trained_encoder)
    print("cosine between rates:", {f"{a}/{b}": round(c, 6) for (a, b), c in cosines.items()})
    assert min(cosines.values()) >= 0.99, cosines  # measured: > 0.99999
    # The encoder tells speakers apart, so the bound above is not met by mapping everything alike.
    other = _embedding(_write_rates(tmp_path, "other", VOICES[4], seed=8)[16000], *trained_encoder)
    assert float(embeddings[16000] @ other) < 0.9


def test_a_resampler_without_anti_aliasing_would_fail_the_bound(
    tmp_path, trained_encoder, monkeypatch
):
    def linear_interpolation(samples, rate, target):
        if rate == target:
            return samples
        times = np.arange(int(round(len(samples) * target / rate))) * rate / target
        return np.interp(times, np.arange(len(samples)), samples).astype(np.float32)

    monkeypatch.setattr(audio_io, "resample", linear_interpolation)
    _, cosines = _cosines(_write_rates(tmp_path, "same", VOICES[0], seed=7), trained_encoder)
    assert min(cosines.values()) < 0.99, cosines  # measured: ~0.93 at 44.1 kHz


@pytest.mark.parametrize("rate", [8000, 11025, 16000, 22050, 32000, 44100, 48000, 96000])
def test_resampler_is_band_limited_at_every_rate(rate):
    seconds = 1.5
    t = np.arange(int(rate * seconds)) / rate

    def level_db(frequency):
        tone = np.sin(2 * np.pi * frequency * t).astype(np.float32)
        out = audio_io.resample(tone, rate, 16000)
        assert abs(len(out) - round(len(tone) * 16000 / rate)) <= 1
        middle = out[2000:-2000]  # away from the edges' transients
        return 20 * np.log10(np.sqrt(2) * np.sqrt(np.mean(middle.astype(np.float64) ** 2)) + 1e-12)

    for frequency in (1000.0, 7200.0):  # 7.2 kHz: the front end's highest mel edge
        if frequency < rate / 2:
            assert abs(level_db(frequency)) < 0.1, (rate, frequency)
    for frequency in (
        8500.0,
        10000.0,
        15000.0,
    ):  # above 16 kHz's Nyquist: must not alias into the band
        if frequency < rate / 2:
            assert level_db(frequency) < -90.0, (rate, frequency)


# How each format `s2f generate --help` names is written here: (soundfile format, subtype, suffix, rate,
# channels, lossless). A format added to the help without a row here fails the test below.
WRITERS = {
    "WAV": ("WAV", "PCM_16", ".wav", 22050, 1, True),
    "FLAC": ("FLAC", "PCM_24", ".flac", 44100, 2, True),
    "MP3": ("MP3", "MPEG_LAYER_III", ".mp3", 44100, 1, False),
    "OGG Vorbis": ("OGG", "VORBIS", ".ogg", 48000, 2, False),
    "Opus": ("OGG", "OPUS", ".opus", 48000, 1, False),
    "AIFF": ("AIFF", "PCM_16", ".aiff", 16000, 1, True),
}


def test_generate_help_lists_the_formats_that_decode(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "s2f_tf", "generate", "--help"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    text = " ".join(result.stdout.split())
    listed = re.search(r"audio files: (.+?); any sample rate, mono or stereo", text)
    assert listed, text
    names = listed.group(1).split(", ")
    assert names == list(audio_io.FORMATS) and len(names) >= 6
    speech = synthesize(
        VOICES[3], Recording(seconds=2.0), np.random.default_rng(2), sample_rate=SOURCE_RATE
    )
    reference = audio_io.resample(speech, SOURCE_RATE, 16000)
    for name in names:
        kind, subtype, suffix, rate, channels, lossless = WRITERS[name]
        samples = speech if rate == SOURCE_RATE else audio_io.resample(speech, SOURCE_RATE, rate)
        if channels == 2:
            samples = np.stack([samples, samples], axis=1)
        path = tmp_path / f"speech{suffix}"
        soundfile.write(path, samples, rate, format=kind, subtype=subtype)
        info = soundfile.info(str(path))
        assert (info.format, info.subtype, info.samplerate) == (kind, subtype, rate)
        decoded = audio_io.load_audio(path)
        assert decoded.dtype == np.float32 and decoded.ndim == 1
        assert abs(len(decoded) - len(reference)) <= 2, (name, len(decoded), len(reference))
        n = min(len(decoded), len(reference))
        error = decoded[:n].astype(np.float64) - reference[:n]
        snr = 10 * np.log10(np.sum(reference[:n] ** 2.0) / max(np.sum(error**2), 1e-20))
        # Measured: 16-bit formats ~70 dB, 24-bit ~80 dB; MP3, Vorbis and Opus 22-25 dB.
        assert snr > (60.0 if lossless else 15.0), (name, snr)
